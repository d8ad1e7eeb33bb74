"""Train the mnist_small model zoo and write checkpoints/<name>.safetensors + .json.

    python train.py                                  # every registered model, its own recipe
    python train.py --models three_blocks_9.6k --epochs 3
    python train.py --data-dir ../shared/mnist --jobs 2
    python train.py --resume                         # continue after Ctrl-C or a crash
    python train.py --models three_blocks_9.6k+pen --pen ../shared/pendigits

Each model follows the recipe in mnist_small/registry.py; a <name>+pen variant fine-tunes
<name>'s checkpoint with real pen-written digits (--pen) beside MNIST. A checkpoint is
written after every epoch, so an interrupted run keeps its last completed epoch.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import os
import signal
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

import torch

from mnist_small.checkpoints import CheckpointError, meta_path, read_run
from mnist_small.data import DataError, load_mnist
from mnist_small.handwriting.pen import TRAIN_FILE, read_pendigits
from mnist_small.records import RunRecord
from mnist_small.registry import REGISTRY, with_class
from mnist_small.settings import CHECKPOINTS_ENV, DATA_ENV, PEN_ENV, checkpoint_dir, data_dir, pen_dir
from mnist_small.training import Tensors, resolve_device, train_model

MALLOC_TUNABLES = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824"
PR_SET_PDEATHSIG = 1  # linux/prctl.h
SHIPPED = Path(__file__).resolve().parent / "checkpoints"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--models", nargs="+", choices=list(REGISTRY), metavar="NAME", help=f"models to train (default: all): {', '.join(REGISTRY)}"
    )
    p.add_argument("--epochs", type=int, help="override every recipe's epoch count (the LR schedule is fitted to it)")
    p.add_argument(
        "--data-dir",
        default=str(data_dir()),
        help=f"folder with MNIST/raw/ (torchvision layout); downloaded there if missing (default: ${DATA_ENV}, else data)",
    )
    p.add_argument(
        "--pen",
        default=str(pen_dir()),
        help=f"folder with UCI pendigits' {TRAIN_FILE}, for the +pen variants (default: ${PEN_ENV}, else data/pendigits)",
    )
    p.add_argument(
        "--class-set",
        metavar="DIR",
        help="add a class's exported drawings (mnist-small class export DIR) to each model's training data; saves <name>+class",
    )
    p.add_argument(
        "--out", default=str(checkpoint_dir()), help=f"where checkpoints are written (default: ${CHECKPOINTS_ENV}, else checkpoints)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed for weights, shuffling, augmentation and dropout (default: 0)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"], help="training device (default: auto)")
    p.add_argument("--resume", action="store_true", help="continue interrupted runs from their last completed epoch; skip finished ones")
    p.add_argument("--jobs", type=int, default=1, help="models trained side by side, each on cores/jobs threads (CPU only; default: 1)")
    p.add_argument(
        "--validation",
        type=int,
        metavar="N",
        help="hold out the last N training images and report on them instead of the test set (for tuning)",
    )
    p.add_argument("--train-subset", type=int, help=argparse.SUPPRESS)  # quick smoke tests only
    return p.parse_args(argv)


@functools.cache
def tensors(data_dir: str, device: str, drawn: bool, pen: str | None, class_set: str | None = None) -> Tensors:
    """The data set, loaded once per worker process, with the pen digits for a +pen variant and
    a class set's drawings if asked. Drawn MNIST and the pen digits are drawn by the first run
    that needs them, then read from their disk cache (mnist_small.settings.cache_dir)."""
    if class_set:
        return tensors(data_dir, device, drawn, pen).with_class_set(class_set)
    if pen:  # on top of this worker's MNIST tensors, not a second copy of them
        return tensors(data_dir, device, drawn, None).with_pen(pen, log=print)
    return Tensors.from_mnist(load_mnist(data_dir), resolve_device(device), drawn=drawn)


def needs(name: str) -> set[str]:
    """The models that must finish before ``name`` starts: its teacher and the model it fine-tunes."""
    recipe = REGISTRY[name].recipe
    return {recipe.teacher, recipe.init_from} - {""}


def end_with_parent() -> None:
    """Worker start-up: if train.py itself is killed (``kill``, not Ctrl-C, which reaches every
    process), the worker is stopped too instead of training on unseen; its last completed
    epoch is on disk for ``--resume``. Linux only; elsewhere a killed run leaves its workers."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def train_one(name: str, args: argparse.Namespace, threads: int, quiet: bool) -> RunRecord:
    torch.set_num_threads(threads)
    pen = args.pen if REGISTRY[name].recipe.pen_share else None
    data = tensors(args.data_dir, args.device, not (args.validation or args.train_subset), pen, args.class_set)
    spec = with_class(REGISTRY[name], REGISTRY[name].recipe) if args.class_set else REGISTRY[name]  # never over a zoo checkpoint
    return train_model(
        spec,
        data,
        Path(args.out),
        seed=args.seed,
        epochs=args.epochs,
        resume=args.resume,
        show_progress=not quiet,
        train_subset=args.train_subset,
        validation=args.validation,
    )


def last_seconds(name: str, out: str) -> float:
    """The cost estimate for scheduling: the training time of the checkpoint already in ``out``,
    else of the shipped one (a fresh --out has none), else 0."""
    for folder in (Path(out), SHIPPED):
        try:
            return read_run(meta_path(folder, name)).train_seconds
        except CheckpointError:
            continue
    return 0.0


def training_order(names: list[str], out: str) -> list[str]:
    """Teachers and fine-tuned models first, then the longest (by the last run's time), so no core idles at the end."""
    needed = set().union(*map(needs, names))
    return sorted(names, key=lambda n: (n not in needed, -last_seconds(n, out)))


def unfinished(futures: dict[str, Future]) -> list[str]:
    return [n for n, f in futures.items() if not f.done()]


def ready_to_start(waiting: list[str], running: list[str], jobs: int) -> list[str]:
    """The models to start now, in ``waiting``'s order: one per free worker, skipping a model
    whose teacher or base model is still waiting or training. Nothing is queued behind busy workers,
    so a student starts as soon as its teacher is done instead of after everything queued before it."""
    ready = [n for n in waiting if not needs(n) & set(waiting + running)]
    return ready[: max(0, jobs - len(running))]


def summary_table(results: list[RunRecord]) -> str:
    header = f"{'model':<24} {'params':>7} {'final acc':>10} {'best acc':>9} {'best ep':>8} {'epochs':>7} {'time':>8} {'drawn acc':>10}"
    lines = [header, "-" * len(header)]
    for run in results:
        drawn = f"{run.drawn_acc:>9.2f}%" if run.drawn_acc is not None else f"{'-':>10}"
        lines.append(
            f"{run.name:<24} {run.params:>7,} {run.final_acc:>9.2f}% {run.best.test_acc:>8.2f}% "
            f"{run.best.epoch:>8} {len(run.history):>7} {run.train_seconds:>7.0f}s {drawn}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = args.models or list(REGISTRY)
    started = time.perf_counter()
    try:
        resolve_device(args.device)
        load_mnist(args.data_dir)  # fail (or download) once, before any worker starts
        if any(REGISTRY[n].recipe.pen_share for n in names):
            try:
                read_pendigits(args.pen)  # a missing pen folder fails here, saying where to get it
            except DataError as err:
                if args.models:  # asked for by name: an error
                    raise
                names = [n for n in names if not REGISTRY[n].recipe.pen_share]
                print(f"warning: {err}\nTraining the MNIST models only; the +pen twins need those digits.", file=sys.stderr)
        # Models train in worker processes so that glibc's malloc tunables, which must be
        # set before a process starts, apply: they stop per-step page faults (+~20% speed).
        os.environ.setdefault("GLIBC_TUNABLES", MALLOC_TUNABLES)
        jobs = max(1, min(args.jobs, len(names)))
        threads = max(1, torch.get_num_threads() // jobs)
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn"), initializer=end_with_parent) as pool:
            futures: dict[str, Future] = {}
            waiting = training_order(names, args.out)
            while waiting:
                for name in ready_to_start(waiting, unfinished(futures), jobs):
                    futures[name] = pool.submit(train_one, name, args, threads, jobs > 1)
                    waiting.remove(name)
                if waiting:
                    wait([futures[n] for n in unfinished(futures)], return_when=FIRST_COMPLETED)
            results = [futures[n].result() for n in names]
    except (DataError, CheckpointError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: completed epochs are saved in {args.out}/; run again with --resume to continue", file=sys.stderr)
        return 130
    print()
    print(summary_table(results))
    print(f"\ntotal wall time {time.perf_counter() - started:.0f}s; checkpoints in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())

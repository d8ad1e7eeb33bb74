"""Teaching a model a class's handwriting: wall time of the fine-tune job and what it gains.

    python -m benchmarks.class_finetune --mnist ../shared/mnist --pen ../shared/pendigits [--per-student 30] [--models NAME ...]

A stand-in class: the 10 validation writers of UCI's pen digits (pen.VALIDATION_WRITERS; no
zoo model trained on them), ``--per-student`` drawings each (300 by default), drawn as on the
app's canvas. For each model it runs the job exactly as the Class tab starts it (its own
process, one CPU thread, ``mnist-small class finetune``) and prints the wall time from start
to saved checkpoint, and the accuracy before -> after on the held-out students' drawings and on
MNIST's test digits. Target: a <= 10k-parameter model on 300 drawings in <= 60 s.

``--choose`` compares fine-tune settings (mnist_small.classroom.finetune.Config) the honest way, without the
validation writers or the test set: the class is 10 of the 20 pen *training* writers (30
drawings each), the gain is measured on the other 10 (60 drawings each), and forgetting on
MNIST's last 10,000 training images, which the replay leaves out. Both halves take a turn.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from mnist_small.checkpoints import load_checkpoint
from mnist_small.classroom.finetune import Config, finetune
from mnist_small.classset.store import ClassSet, Drawing
from mnist_small.data import load_mnist, normalize
from mnist_small.handwriting.pen import TRAIN_WRITERS, pen_file, read_pendigits
from mnist_small.handwriting.render import render_set, validation_set
from mnist_small.settings import checkpoint_dir
from mnist_small.training import evaluate

ROOT = Path(__file__).resolve().parent.parent


def class_rows(pen: Path, per_student: int) -> list[dict]:
    """``per_student`` drawings of each validation writer, cycling through the digits."""
    drawn = validation_set(pen)
    rows = []
    for writer in sorted(set(drawn.writers.tolist())):
        mine = torch.nonzero(drawn.writers == writer).flatten()[:per_student]
        for i in mine.tolist():
            rows.append(
                {
                    "created": i,
                    "student": f"writer-{writer}",
                    "label": int(drawn.labels[i]),
                    "image": drawn.images[i].numpy() / 255,
                    "png": b"",
                }
            )
    return rows


def writer_drawings(pen: Path, writers: tuple[int, ...], each: int, skip: int = 0) -> list[Drawing]:
    """``each`` drawings of every one of ``writers`` (after the first ``skip``), drawn as on the canvas."""
    digits = [d for d in read_pendigits(pen_file(pen)) if d.writer in writers]
    picked = [d for w in writers for d in [d for d in digits if d.writer == w][skip : skip + each]]
    drawn = render_set(picked, seed=1)
    return [
        Drawing(i, i, f"writer-{d.writer}", d.label, None, {}, drawn.images[i].numpy().astype(np.float32) / 255)
        for i, d in enumerate(picked)
    ]


def accuracy(model: torch.nn.Module, drawings: list[Drawing]) -> float:
    x = normalize(torch.from_numpy(np.stack([d.image for d in drawings]))[:, None])
    return evaluate(model, x, torch.tensor([d.label for d in drawings]))[1]


def choose(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)  # as the job runs
    mnist = load_mnist(args.mnist, allow_download=False)
    kept_out = normalize(mnist.train_images[50_000:]), mnist.train_labels[50_000:].long()
    halves = TRAIN_WRITERS[:10], TRAIN_WRITERS[10:]
    classes = [writer_drawings(args.pen, half, 30) for half in halves]
    others = [writer_drawings(args.pen, half, 60, skip=30) for half in halves[::-1]]
    grid = [Config(steps=s, class_share=c, lr_scale=lr) for s, c, lr in itertools.product((300, 600), (0.25, 0.5), (0.1, 0.3))]
    if args.stage == 2:  # around the first stage's best: is the forgetting the class data's, or the procedure's?
        settings = [(0.0, 0.1, False), (0.0, 0.1, True), (0.25, 0.1, True), (0.25, 0.03, False), (0.25, 0.03, True)]
        grid = [Config(steps=600, class_share=c, lr_scale=lr, freeze_bn=f) for c, lr, f in settings]
    grid = [replace(c, held_out_share=0.0, replay=50_000) for c in grid]
    for name in args.models:
        base = load_checkpoint(name, args.checkpoints)
        start = [(accuracy(base.model, other), evaluate(base.model, *kept_out)[1]) for other in others]
        print(f"{name}: before: other writers {np.mean([s[0] for s in start]):.2f}%, MNIST kept-out {np.mean([s[1] for s in start]):.2f}%")
        for config in grid:
            ends = []
            for drawings, other in zip(classes, others, strict=True):
                tuned, _ = finetune(base, drawings, mnist, config)
                ends.append((accuracy(tuned, other), evaluate(tuned, *kept_out)[1]))
            gain = np.mean([e[0] - s[0] for e, s in zip(ends, start, strict=True)])
            drop = np.mean([e[1] - s[1] for e, s in zip(ends, start, strict=True)])
            print(
                f"  steps {config.steps}, class share {config.class_share}, LR x{config.lr_scale}, freeze BN {config.freeze_bn}: "
                f"other writers {gain:+.2f}, MNIST kept-out {drop:+.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist", type=Path, default=Path("data"), help="a folder with MNIST/raw/")
    parser.add_argument("--pen", type=Path, default=Path("data/pendigits"), help="UCI pendigits (pendigits-orig.tra)")
    parser.add_argument("--per-student", type=int, default=30)
    parser.add_argument("--models", nargs="+", default=["three_blocks_9.6k", "padded_gap_7.9k", "ours_separable_gdc_5.0k"])
    parser.add_argument("--checkpoints", type=Path, default=checkpoint_dir(ROOT / "checkpoints"))
    parser.add_argument("--choose", action="store_true", help="compare fine-tune settings on the pen training writers (see above)")
    parser.add_argument("--stage", type=int, default=1, choices=[1, 2], help="with --choose: the first grid, or the second around its best")
    args = parser.parse_args()
    if args.choose:
        return choose(args)

    rows = class_rows(args.pen, args.per_student)
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        (work / "data").mkdir()
        (work / "data" / "MNIST").symlink_to((args.mnist / "MNIST").resolve())
        url = f"sqlite:///{work / 'class.db'}"
        ClassSet(url).import_rows(rows)
        print(f"class: {len(rows)} drawings by {len({r['student'] for r in rows})} students (pen validation writers)")
        for name in args.models:
            ckpts = work / "checkpoints"
            ckpts.mkdir(exist_ok=True)
            for suffix in (".json", ".safetensors"):
                shutil.copy(args.checkpoints / f"{name}{suffix}", ckpts)
            command = [sys.executable, "-m", "mnist_small", "--checkpoints", str(ckpts), "class", "--db", url, "--data", str(work / "data")]
            started = time.perf_counter()
            subprocess.run(
                [*command, "finetune", name], check=True, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL
            )
            seconds = time.perf_counter() - started
            run = json.loads((ckpts / f"{name}+class.json").read_text())
            data, before, after = run["class_data"], run["class_data"]["before"], run["class_data"]["after"]
            print(
                f"{name} ({run['params']:,} params): {seconds:.1f} s wall ({run['train_seconds']:.1f} s fine-tuning); "
                f"held-out {data['held_out']} drawings of {data['held_out_students']} students {before['class_acc']:.2f}% -> {after['class_acc']:.2f}%; "
                f"MNIST test {before['mnist_acc']:.2f}% -> {after['mnist_acc']:.2f}%"
            )


if __name__ == "__main__":
    main()

"""The Class view on a large class set: CPU time to add one drawing and bring the leaderboard up to date.

    python -m benchmarks.class_scale --drawings 20000 [--db URL] [--repeats 7] [--before] [--threads T] [--mnist ../shared/mnist]

Fills a fresh class set (SQLite in a temporary folder by default; ``--db`` an empty database,
e.g. PostgreSQL) with N drawings through the store's import path: MNIST test digits (synthetic
strokes without ``--mnist``) by 30 students, every 23rd flagged, each with a real PNG. Loads the
shipped zoo and prints, as CPU time (time.process_time: every thread of this process):

    initial_ms   the first refresh: every model on every drawing (a server starting on a full set)
    refresh_ms   median of ``--repeats``: ClassSet.add of one drawing + ClassAnswers.refresh + what
                 the Class view computes from it (leaderboard, confusion matrix, hardest, counts)
    poll_ms      median: a refresh that finds nothing new + the same figures (every open page, every 3 s)
    delete_ms    one drawing deleted + refresh + the figures
    retrain_ms   one model's checkpoint replaced (a new stamp) + refresh: that model on every drawing
    held         bytes the incremental answers hold
    before_ms    (``--before``) the old path, as one refresh did before: ClassSet.all() + every model on
                 every drawing + the figures; and the size of the value it cached (pickled for every viewer)

Torch runs with its default threads (as the app does) unless ``--threads`` says otherwise. On a
busy machine its idle OpenMP workers spin (OMP_WAIT_POLICY unset), and that CPU time counts too:
``OMP_WAIT_POLICY=PASSIVE`` in the environment shows what the same work costs without the spinning.

Target at N = 20,000: refresh_ms <= 100.
"""

from __future__ import annotations

import argparse
import io
import os
import pickle
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mnist_small.checkpoints import load_all
from mnist_small.classset.answers import ClassAnswers, Snapshot
from mnist_small.classset.leaderboard import confusion, hardest, leaderboard, misread_by, per_digit, per_student
from mnist_small.classset.store import ClassSet
from mnist_small.data import find_raw_files, load_mnist
from mnist_small.inference import answers

ROOT = Path(__file__).resolve().parent.parent
STUDENTS = 30


def digits(mnist_dir: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """28x28 uint8 inputs and their labels: MNIST's test digits if there, else synthetic strokes."""
    if mnist_dir is not None and find_raw_files(mnist_dir) is not None:
        mnist = load_mnist(mnist_dir, allow_download=False)
        return mnist.test_images[:, 0].numpy(), mnist.test_labels.numpy()
    print(f"no MNIST in {mnist_dir}: synthetic strokes instead", file=sys.stderr)
    rng = np.random.default_rng(0)
    images = np.zeros((1000, 28, 28), np.uint8)
    for image in images:
        for _ in range(3):
            row, col = rng.integers(6, 22, 2)
            image[row - 1 : row + 2, col - 6 : col + 6] = 255
            image[row - 6 : row + 6, col - 1 : col + 2] = 255
    return images, rng.integers(0, 10, len(images))


def png_of(image: np.ndarray) -> bytes:
    """The input drawn large, as the canvas PNG the app keeps (about as many bytes)."""
    buffer = io.BytesIO()
    Image.fromarray(image).resize((280, 280), Image.BILINEAR).save(buffer, "PNG")
    return buffer.getvalue()


def fill(store: ClassSet, n: int, images: np.ndarray, labels: np.ndarray) -> None:
    pngs = [png_of(images[i]) for i in range(min(500, len(images)))]  # the PNG's bytes matter, not which digit it shows
    start = time.time() - n  # a drawing a second, up to now
    for first in range(0, n, 1000):
        rows = [
            {
                "created": start + i,
                "student": f"s{i % STUDENTS}",
                "label": int(labels[i % len(labels)]),
                "flag": "scribble" if i % 23 == 0 else None,
                "answers": {},
                "image": images[i % len(images)] / 255,
                "png": pngs[i % len(pngs)],
            }
            for i in range(first, min(first + 1000, n))
        ]
        store.import_rows(rows)


def figures(kept: Snapshot, chosen: str) -> None:
    """What the Class view computes from a snapshot on each update."""
    keep = ~kept.flagged
    leaderboard(kept.labels, kept.answers, keep)
    confusion(kept.labels[keep], kept.answers[chosen][keep])
    hardest(kept.labels, kept.answers)
    misread_by(kept.labels, kept.answers)
    per_digit(kept.labels), per_student(kept.students, kept.student_names)


def cpu_ms(work: Callable[[], object]) -> float:
    start = time.process_time()
    work()
    return 1000 * (time.process_time() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--drawings", type=int, default=5000)
    parser.add_argument("--db", help="an empty database (default: SQLite in a temporary folder)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--before", action="store_true", help="also time the old full recomputation")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own, as in the app)")
    parser.add_argument("--mnist", type=Path, default=ROOT.parent / "shared" / "mnist")
    parser.add_argument("--checkpoints", type=Path, default=ROOT / "checkpoints")
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    models, failed = load_all(args.checkpoints)
    if failed or not models:
        sys.exit(f"checkpoints unusable: {failed or 'none found'}")
    stamps = {name: 0 for name in models}
    chosen = next(iter(models))
    images, labels = digits(args.mnist)
    with tempfile.TemporaryDirectory() as folder:
        store = ClassSet(args.db or f"sqlite:///{folder}/class.db")
        if store.version()[0]:
            sys.exit(f"{store.where} already holds drawings: give an empty database")
        started = time.time()
        fill(store, args.drawings, images, labels)
        print(f"drawings: {store.version()[0]} by {STUDENTS} students in {store.where} (filled in {time.time() - started:.1f} s)")
        policy = os.environ.get("OMP_WAIT_POLICY", "unset")
        print(f"models: {len(models)}, torch threads: {torch.get_num_threads()}, OMP_WAIT_POLICY: {policy}")

        kept = ClassAnswers()
        print(f"initial_ms: {cpu_ms(lambda: figures(kept.refresh(store, models, stamps), chosen)):.0f}")
        added, polled = [], []
        for k in range(args.repeats):
            i = (args.drawings + k) % len(images)

            def add_one(i: int = i, k: int = k) -> None:
                store.add(png_of(images[i]), images[i] / 255, int(labels[i]), f"bench{k}", dict.fromkeys(models, 0))
                figures(kept.refresh(store, models, stamps), chosen)

            added.append(cpu_ms(add_one))
            polled.append(cpu_ms(lambda: figures(kept.refresh(store, models, stamps), chosen)))
        assert len(kept.snapshot) == args.drawings + args.repeats
        print(f"refresh_ms: {statistics.median(added):.1f} (of {', '.join(f'{t:.1f}' for t in added)})")
        print(f"poll_ms: {statistics.median(polled):.1f}")
        middle = int(kept.snapshot.ids[len(kept.snapshot) // 2])
        print(f"delete_ms: {cpu_ms(lambda: (store.delete(middle), figures(kept.refresh(store, models, stamps), chosen))):.1f}")
        print(f"retrain_ms: {cpu_ms(lambda: kept.refresh(store, models, stamps | {chosen: 1})):.0f} (one model on every drawing)")
        held = kept.nbytes()
        print(f"held: {held / 1e6:.2f} MB ({held / len(kept.snapshot):.0f} bytes a drawing)")

        if args.before:
            cached: list = []

            def old() -> None:
                drawings = store.all()
                stacked = np.stack([d.image for d in drawings])
                predicted = answers(models, stacked)
                labels_now = np.array([d.label for d in drawings])
                keep = np.array([d.flag is None for d in drawings])
                leaderboard(labels_now, predicted, keep)
                confusion(labels_now[keep], predicted[chosen][keep])
                hardest(labels_now, predicted)
                (
                    Counter(d.label for d in drawings),
                    Counter(d.student for d in drawings).most_common(),
                )  # the old per-digit and per-student counts
                cached.append((drawings, predicted))

            print(f"before_ms: {cpu_ms(old):.0f} (ClassSet.all + every model on every drawing)")
            print(f"before_cached: {len(pickle.dumps(cached[0])) / 1e6:.1f} MB pickled (unpickled for every viewer, every 3 s)")
        store.dispose()


if __name__ == "__main__":
    main()

"""Latency of one app update: preprocess a canvas drawing + every model's softmax, on the CPU.

    python -m benchmarks.predict_latency --data-dir ../shared/mnist [--runs 300]

Uses the shipped checkpoints and drawn MNIST canvases: real test digits re-drawn on a
280x280 RGBA canvas (what streamlit-drawable-canvas returns). Prints the median and p95
in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from mnist_small.checkpoints import load_all
from mnist_small.data import load_mnist
from mnist_small.handwriting.drawn import canvases
from mnist_small.inference import all_probabilities
from mnist_small.preprocess import prepare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--checkpoints", default="checkpoints")
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    models, failed = load_all(Path(args.checkpoints))
    if failed or not models:
        sys.exit(f"checkpoints unusable: {failed or 'none found'}")
    drawings = list(canvases(load_mnist(args.data_dir).test_images[:20, 0]))

    def update(canvas: np.ndarray) -> dict:
        return all_probabilities(models, prepare(canvas).tensor())

    for canvas in drawings[:5]:
        update(canvas)  # warm-up
    times = []
    for i in range(args.runs):
        start = time.perf_counter()
        update(drawings[i % len(drawings)])
        times.append(1000 * (time.perf_counter() - start))
    times.sort()
    print(f"models: {len(models)}, runs: {args.runs}, threads: {torch.get_num_threads()}")
    print(f"median_ms: {statistics.median(times):.2f}")
    print(f"p95_ms: {times[int(0.95 * len(times)) - 1]:.2f}")


if __name__ == "__main__":
    main()

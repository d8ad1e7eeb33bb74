"""Latency of one app update: preprocess a canvas drawing + every model's softmax, on the CPU.

    python benchmarks/predict_latency.py --data-dir ../shared/mnist [--runs 300]

Uses the shipped checkpoints and a real MNIST test digit drawn large on a 280x280 RGBA
canvas (what streamlit-drawable-canvas returns). Prints the median and p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mnist_small.checkpoints import load_all
from mnist_small.data import load_mnist
from mnist_small.inference import all_probabilities
from mnist_small.preprocess import prepare
from tests.conftest import draw_on_canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--checkpoints", default="checkpoints")
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    models, failed = load_all(Path(args.checkpoints))
    if failed or not models:
        sys.exit(f"checkpoints unusable: {failed or 'none found'}")
    digits = load_mnist(args.data_dir).test_images[:20, 0].numpy()
    canvases = [draw_on_canvas(d, size=180 + 3 * i, top=20 + 2 * i, left=40 + i) for i, d in enumerate(digits)]

    def update(canvas: np.ndarray) -> dict:
        return all_probabilities(models, prepare(canvas).tensor())

    for canvas in canvases[:5]:
        update(canvas)  # warm-up
    times = []
    for i in range(args.runs):
        start = time.perf_counter()
        update(canvases[i % len(canvases)])
        times.append(1000 * (time.perf_counter() - start))
    times.sort()
    print(f"models: {len(models)}, runs: {args.runs}, threads: {torch.get_num_threads()}")
    print(f"median_ms: {statistics.median(times):.2f}")
    print(f"p95_ms: {times[int(0.95 * len(times)) - 1]:.2f}")


if __name__ == "__main__":
    main()

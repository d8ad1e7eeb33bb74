"""Latency of the app's heaviest update: preprocess a canvas drawing + every model's softmax
(the Compare tab, and adding a drawing to the class set), on the CPU.

    python -m benchmarks.predict_latency --data-dir ../shared/mnist [--runs 300] [--threads 1]

Uses the shipped checkpoints and drawn MNIST canvases: real test digits re-drawn on a
280x280 RGBA canvas (what streamlit-drawable-canvas returns), through the functions the app
calls, on one torch thread as the app runs them (streamlit_app.py sets OMP_NUM_THREADS=1).
Prints the median and p95 in milliseconds, and the CPU time of the median update.
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
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the app: 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models, failed = load_all(Path(args.checkpoints))
    if failed or not models:
        sys.exit(f"checkpoints unusable: {failed or 'none found'}")
    drawings = list(canvases(load_mnist(args.data_dir).test_images[:20, 0]))

    def update(canvas: np.ndarray) -> dict:
        return all_probabilities(models, prepare(canvas).tensor())

    for canvas in drawings[:5]:
        update(canvas)  # warm-up
    times, cpu = [], []
    for i in range(args.runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        update(drawings[i % len(drawings)])
        times.append(1000 * (time.perf_counter() - start))
        cpu.append(1000 * (time.process_time() - start_cpu))
    times.sort()
    print(f"models: {len(models)}, runs: {args.runs}, threads: {torch.get_num_threads()}")
    print(f"cpu_median_ms: {statistics.median(cpu):.2f}")  # less disturbed than the wall time by others on the machine
    print(f"median_ms: {statistics.median(times):.2f}")
    print(f"p95_ms: {times[int(0.95 * len(times)) - 1]:.2f}")


if __name__ == "__main__":
    main()

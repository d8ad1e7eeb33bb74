"""Speed of drawing pen digits as the canvas does (``mnist_small.handwriting.render``), on the CPU.

    python -m benchmarks.pen_render --pen ../shared/pendigits [--limit 1000] [--threads 1]

Reads ``pendigits-orig.tra``, then times, over the first ``--limit`` digits (all 7,494 by
default): reading the file, drawing the canvases alone (path smoothing and the round
brush), the app's preprocessing alone (``prepare``), and ``render_set`` (both, the way
training and ``evaluate --pen`` use it) without and with trajectory augmentation. Prints
milliseconds per digit and the total. ``--threads 1`` keeps torch (used by the
preprocessing) on one core.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from mnist_small.handwriting.pen import read_pendigits
from mnist_small.handwriting.render import canvas_alpha, digit_rng, random_look, render_set
from mnist_small.preprocess import prepare
from mnist_small.settings import pen_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pen", type=Path, default=pen_dir(), help="folder with pendigits-orig.tra")
    parser.add_argument("--limit", type=int, default=None, help="time only the first this many digits")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    start = time.perf_counter()
    digits = read_pendigits(args.pen)
    print(f"read {len(digits):,} digits: {time.perf_counter() - start:.2f} s")
    digits = digits[: args.limit]
    n = len(digits)

    def report(what: str, seconds: float) -> None:
        print(f"{what:<34} {1000 * seconds / n:6.2f} ms/digit  {seconds:6.1f} s for {n:,}")

    drawing = preparing = 0.0
    for digit in digits:
        look = random_look(digit_rng(digit, 0))
        start = time.perf_counter()
        alpha = canvas_alpha(digit, look)
        middle = time.perf_counter()
        prepare(alpha)
        drawing, preparing = drawing + middle - start, preparing + time.perf_counter() - middle
    report("canvas (smoothing + brush)", drawing)
    report("prepare (the app's preprocessing)", preparing)
    for augment in (False, True):
        start = time.perf_counter()
        render_set(digits, seed=0, augment=augment)
        report(f"render_set(augment={augment})", time.perf_counter() - start)


if __name__ == "__main__":
    main()

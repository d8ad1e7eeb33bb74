"""Latency of the preprocessing alone (``prepare``) on long strokes and on a normal digit, on the CPU.

    python -m benchmarks.preprocess_latency [--runs 30] [--threads 1]

Long strokes are the worst case for the steps that find connected pieces of ink (stray
dots, the page, specks) and, drawn large with a fine brush, for bringing their width to
MNIST's: a zigzag of strokes across the whole 280x280 canvas and a long spiral, beside a
normal two-stroke 7. All are drawn with a round brush, white on a
transparent RGBA canvas, as streamlit-drawable-canvas returns them; no data or checkpoints
are needed. Prints the median and the slowest run in milliseconds for each. On a busy
machine, torch's threads wait for each other: ``--threads 1`` shows the work itself.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image, ImageDraw

from mnist_small.preprocess import prepare

CANVAS = 280
BRUSH = 20  # the app's default brush width
SPIRAL_BRUSH = 8  # the finest brush: the spiral's turns stay apart
SPIRAL_TURNS = 5


def canvas_of(lines: list[list[tuple[float, float]]], width: int = BRUSH) -> np.ndarray:
    """Polylines drawn with a round brush ``width`` pixels wide, white on a transparent RGBA canvas."""
    ink = Image.new("L", (CANVAS, CANVAS), 0)
    pen = ImageDraw.Draw(ink)
    for line in lines:
        pen.line(line, fill=255, width=width, joint="curve")
        for x, y in (line[0], line[-1]):  # round caps, like the canvas brush
            pen.ellipse((x - width // 2, y - width // 2, x + width // 2, y + width // 2), fill=255)
    alpha = np.asarray(ink)
    return np.dstack([alpha, alpha, alpha, alpha])


def zigzag() -> np.ndarray:
    """One stroke going back and forth across the whole canvas, top to bottom (six legs)."""
    return canvas_of([[(10 if i % 2 == 0 else CANVAS - 10, y) for i, y in enumerate(range(10, CANVAS - 9, 40))]])


def spiral() -> np.ndarray:
    """One long stroke winding SPIRAL_TURNS times out from the centre to near the canvas's edge."""
    angle = np.linspace(0, 2 * np.pi * SPIRAL_TURNS, 2000)
    radius = (CANVAS / 2 - 10) * angle / angle[-1]
    centre = CANVAS / 2
    return canvas_of(
        [list(zip((centre + radius * np.cos(angle)).tolist(), (centre + radius * np.sin(angle)).tolist(), strict=True))], SPIRAL_BRUSH
    )


def seven() -> np.ndarray:
    """A normal digit: a 7 with a crossbar, in two strokes."""
    return canvas_of([[(70, 50), (210, 50), (120, 240)], [(110, 140), (190, 140)]])


DRAWINGS: dict[str, Callable[[], np.ndarray]] = {"zigzag": zigzag, "spiral": spiral, "digit": seven}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"runs: {args.runs}, threads: {torch.get_num_threads()}")
    for name, draw in DRAWINGS.items():
        canvas = draw()
        result = prepare(canvas)  # warm-up
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            prepare(canvas)
            times.append(1000 * (time.perf_counter() - start))
        inked = (canvas[..., 3] > 0).mean()
        print(
            f"{name:7s} median_ms: {statistics.median(times):7.2f}  max_ms: {max(times):7.2f}"
            f"  (ink {inked:.0%}, digit: {result.has_digit}, warning: {result.warning is not None})"
        )


if __name__ == "__main__":
    main()

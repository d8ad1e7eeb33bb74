"""The digits the simulated students of ``benchmarks/class_load.py`` draw: real digits as the
canvas component sends them, each with a key that finds the same picture again in the database.
Not a benchmark of its own."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Digit:
    """One drawing: its true label, the canvas component's state as sent, and a key that finds
    the same picture again in the database."""

    label: int
    state_json: str
    key: str


def picture_key(png: bytes) -> str:
    """The same for the same pixels, however the PNG was encoded (the app may re-encode it)."""
    with Image.open(io.BytesIO(png)) as picture:
        return hashlib.sha1(np.asarray(picture.convert("L")).tobytes()).hexdigest()


def fabric_path(ink: np.ndarray, points: int = 80) -> list[list[float | str]]:
    """A freedraw path of realistic size through the ink (the app reads only the PNG; the
    component sends both, so the payload should weigh what a browser's does)."""
    ys, xs = np.nonzero(ink > 128)
    if len(xs) == 0:
        return [["M", 140.0, 140.0], ["L", 140.0, 140.0]]
    order = np.argsort(np.arctan2(ys - ys.mean(), xs - xs.mean()))
    picked = order[np.linspace(0, len(order) - 1, points).astype(int)]
    path: list[list[float | str]] = [["M", float(xs[picked[0]]), float(ys[picked[0]])]]
    for a, b in itertools.pairwise(picked):
        path.append(["Q", float(xs[a]), float(ys[a]), (xs[a] + xs[b]) / 2, (ys[a] + ys[b]) / 2])
    path.append(["L", float(xs[picked[-1]]), float(ys[picked[-1]])])
    return path


def digit_of(ink: np.ndarray, label: int, stroke: int = 20) -> Digit:
    """A 280x280 uint8 ink image as the canvas sends it: an opaque RGBA PNG, white on black
    (the app's canvas has a black background), next to the fabric.js JSON of the drawing."""
    rgba = np.dstack([ink, ink, ink, np.full_like(ink, 255)])
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    png = buffer.getvalue()
    path = {"type": "Path", "version": "6.7.1", "originX": "left", "originY": "top", "fill": None, "stroke": "#FFFFFF"}
    path |= {"strokeWidth": stroke, "strokeLineCap": "round", "strokeLineJoin": "round", "path": fabric_path(ink)}
    raw = {"version": "6.7.1", "objects": [path], "background": "#000000"}
    # what the component's setStateValue("drawing", ...) makes the frontend send: the merged state
    # object, JSON in WidgetState.json_value ("backgroundFit" is only sent with a background image)
    state = {"drawing": {"raw": raw, "data": "data:image/png;base64," + base64.b64encode(png).decode()}}
    return Digit(label, json.dumps(state, separators=(",", ":")), picture_key(png))


def mnist_digits(data_dir: Path, n: int) -> list[Digit]:
    """``n`` MNIST test digits drawn as on the canvas (varied size, place, slant, brush)."""
    from mnist_small.data import load_mnist
    from mnist_small.handwriting.drawn import canvases

    mnist = load_mnist(data_dir, allow_download=False)
    images, labels = mnist.test_images[:n, 0], mnist.test_labels[:n].tolist()
    return [digit_of(canvas[..., 3], label) for canvas, label in zip(canvases(images, seed=1), labels, strict=True)]


def stroke_digits(n: int) -> list[Digit]:
    """Without MNIST: ones and sevens drawn as polylines, each moved a little so no two match."""
    from benchmarks.preprocess_latency import canvas_of

    shapes = {1: [(150, 40), (145, 140), (140, 245)], 7: [(60, 50), (220, 50), (120, 250)]}
    digits = []
    for i in range(n):
        label = 1 if i % 2 == 0 else 7
        dx, dy = i % 37 - 18, (i // 37) % 21 - 10
        digits.append(digit_of(canvas_of([[(x + dx, y + dy) for x, y in shapes[label]]])[..., 3], label))
    return digits


def load_digits(data_dir: Path, n: int) -> list[Digit]:
    from mnist_small.data import DataError

    try:
        digits = mnist_digits(data_dir, n)
        print(f"digits: {n} MNIST test digits from {data_dir}, drawn as on the canvas", flush=True)
    except DataError as err:
        digits = stroke_digits(n)
        print(f"digits: {n} synthetic ones and sevens (no MNIST: {err})", flush=True)
    return digits

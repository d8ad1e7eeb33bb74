"""Pen digits drawn as the app's canvas draws them, then read by the app's own preprocessing.

The canvas (streamlit-drawable-canvas, fabric.js free drawing) turns each mouse drag into
one path with fabric's ``PencilBrush``: points closer than 0.4 px to the last kept one are
dropped (``decimatePoints``), and the path (``getSmoothPathFromPoints``) runs in a straight
line from the first point to the midpoint of the first two, then in quadratic curves from
midpoint to midpoint with the points between as control points, and in a straight line
from the last midpoint to the last point. It is stroked in white with a round brush (round
caps and joins) of the chosen width, anti-aliased, on a transparent canvas the app shows
on black. This module does the same with a pen digit's strokes as the mouse samples (each
pen-down stroke is one drag, so one path), read from fabric's source in the canvas
component's bundle (fabric 6). Two details of fabric are left out: the 1/1000-width nudge
of a path's two ends and ``decimatePoints`` always dropping the second-to-last point
(invisible with a mouse's dense samples, a visible cut with the pen's 100 ms ones).

The brush is drawn exactly rather than by a browser: the path is sampled every half pixel
at most, each canvas pixel's distance d to the path is found with a distance transform, and
its ink is clip(width / 2 + 0.5 - d, 0, 1): a round brush with a one-pixel anti-aliased rim.
Overlapping strokes merge (the union of their brushes), which differs from the browser's
painting one over the other only in the half-inked rim where they cross.

``Look`` holds how a digit is drawn (brush width, size, place and, to augment, a distorted
trajectory); ``random_look`` draws one from a seeded generator; ``canvas`` draws a digit,
``render_set`` draws many through the app's preprocessing, as a pure function of the
digits, the seed and ``augment``: each digit's look comes from its own generator, seeded by
(seed, writer, sample, label), so a digit renders the same in any subset or order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from scipy import ndimage, spatial

from ..preprocess import prepare
from ..settings import cache_dir
from .drawn import CANVAS, EDGE_TOUCH, ROTATION, SIZE, SLANT, cached_images, code_key
from .pen import PenDigit, pen_file, read_pendigits, split

BRUSH = (8, 40)  # the app's brush-width slider (streamlit_app.py), canvas pixels
MIN_SIZE_PER_WIDTH = 4  # the ink's longer side is at least this many brush widths (no blobs)
DECIMATE = 0.4  # fabric PencilBrush.decimate: points closer than this (px) to the last kept one are dropped
RIM = 0.75  # half a pixel's diagonal, and a little: see brush_ink
STEP = 0.5  # the smoothed path is sampled at least this densely, canvas pixels
STRETCH = 0.15  # augmentation: x and y scaled by exp(U(-STRETCH, STRETCH)) each
EVAL_SEED = 0  # the seed of the pen validation set every model is scored on
JITTER = 0.015  # augmentation: Gaussian noise on the pen's points, sigma up to this share of the digit's longer side


@dataclass(frozen=True)
class Look:
    """How one digit is drawn on the canvas.

    width: brush width, px; size: the ink's longer side, px; place: where the ink's box sits,
    as fractions (down, across) of the room left on the canvas (0: top/left edge, 1:
    bottom/right edge). To augment the trajectory: slant (degrees, positive leaning right),
    rotation (degrees, positive clockwise on screen), stretch (x, y factors) and jitter
    (sigma of Gaussian noise on each pen point, as a share of the digit's longer side; drawn
    from ``noise_seed``).
    """

    width: float = 20.0
    size: float = 200.0
    place: tuple[float, float] = (0.5, 0.5)
    slant: float = 0.0
    rotation: float = 0.0
    stretch: tuple[float, float] = (1.0, 1.0)
    jitter: float = 0.0
    noise_seed: int = 0


def random_look(rng: np.random.Generator, augment: bool = False) -> Look:
    """A look drawn from ``rng``: a brush width from the app's slider range (whole pixels), a
    size from drawn MNIST's range (but at least MIN_SIZE_PER_WIDTH brush widths), a place
    anywhere on the canvas (EDGE_TOUCH of drawings pushed against an edge, as in drawn MNIST);
    with ``augment``, also a slant and rotation in drawn MNIST's ranges, a stretch and jitter."""
    width = int(rng.integers(BRUSH[0], BRUSH[1] + 1))
    size = float(rng.uniform(max(SIZE[0], MIN_SIZE_PER_WIDTH * width), SIZE[1]))
    place = [float(v) for v in rng.uniform(0, 1, 2)]
    if rng.random() < EDGE_TOUCH:
        place[int(rng.integers(2))] = float(rng.integers(2))
    look = Look(width=width, size=size, place=(place[0], place[1]))
    if not augment:
        return look
    return Look(
        width=width,
        size=size,
        place=look.place,
        slant=float(rng.uniform(-SLANT, SLANT)),
        rotation=float(rng.uniform(-ROTATION, ROTATION)),
        stretch=(float(np.exp(rng.uniform(-STRETCH, STRETCH))), float(np.exp(rng.uniform(-STRETCH, STRETCH)))),
        jitter=float(rng.uniform(0, JITTER)),
        noise_seed=int(rng.integers(2**31)),
    )


def distort(strokes: Sequence[np.ndarray], look: Look) -> list[np.ndarray]:
    """The strokes with the look's jitter, stretch, slant and rotation applied (in the pen's
    own coordinates, about the digit's centre)."""
    points = np.concatenate(strokes)
    centre = (points.min(0) + points.max(0)) / 2
    longest = float(np.ptp(points, 0).max())
    noise = np.random.default_rng(look.noise_seed)
    slant, turn = np.tan(np.deg2rad(look.slant)), np.deg2rad(look.rotation)
    cos, sin = np.cos(turn), np.sin(turn)
    # image coordinates (y down): a positive slant moves the top to the right; a positive
    # rotation turns clockwise as seen on the screen
    matrix = np.array([[cos, -sin], [sin, cos]]) @ np.array([[1.0, -slant], [0.0, 1.0]]) @ np.diag(look.stretch)
    out = []
    for stroke in strokes:
        moved = stroke - centre
        if look.jitter:
            moved = moved + noise.normal(0.0, look.jitter * longest, moved.shape)
        out.append(moved @ matrix.T)
    return out


def decimate(points: np.ndarray, distance: float = DECIMATE) -> np.ndarray:
    """fabric's ``decimatePoints``: keep the first point, then each point at least ``distance``
    from the last kept one, and the last point (a single point, or two equal ones, stay)."""
    if len(points) <= 2:
        return points
    kept, last = [0], points[0]
    limit = distance**2
    for i in range(1, len(points) - 1):
        if ((points[i] - last) ** 2).sum() >= limit:
            kept.append(i)
            last = points[i]
    kept.append(len(points) - 1)
    return points[kept]


def smooth_path(points: np.ndarray, step: float = STEP) -> np.ndarray:
    """fabric's PencilBrush path through the mouse samples ``points`` (n, 2), sampled every
    ``step`` px at most: a straight line from the first point to the midpoint of the first
    two, quadratic curves from midpoint to midpoint with the points between as control
    points, a straight line from the last midpoint to the last point. One point: itself
    (the brush leaves a round dot)."""
    points = np.asarray(points, dtype=np.float64)
    keep = np.ones(len(points), bool)
    keep[1:] = np.any(np.diff(points, axis=0) != 0, axis=1)  # fabric skips repeated points
    points = points[keep]
    if len(points) == 1:
        return points
    mids = (points[1:] + points[:-1]) / 2
    start = np.concatenate([points[:1], mids])
    control = np.concatenate([points[:1], points[1:-1], mids[-1:]])
    end = np.concatenate([mids, points[-1:]])
    control[0] = (start[0] + end[0]) / 2  # the two straight ends, as curves of even speed
    control[-1] = (start[-1] + end[-1]) / 2
    # a quadratic's speed is at most twice its longer control leg per unit of t
    legs = np.maximum(np.hypot(*(control - start).T), np.hypot(*(end - control).T))
    counts = np.maximum(1, np.ceil(2 * legs / step)).astype(np.int64)
    index = np.repeat(np.arange(len(counts)), counts)
    t = ((np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)) / np.repeat(counts, counts))[:, None]
    curve = (1 - t) ** 2 * start[index] + 2 * t * (1 - t) * control[index] + t**2 * end[index]
    return np.concatenate([curve, points[-1:]])


def brush_ink(paths: Sequence[np.ndarray], width: float, shape: tuple[int, int] = (CANVAS, CANVAS)) -> np.ndarray:
    """The ink (H, W) in [0, 1] of a round brush ``width`` px wide along densely sampled
    ``paths`` ((m, 2) arrays of x, y in canvas pixels; pixel (r, c) spans x c..c+1, y r..r+1):
    clip(width / 2 + 0.5 - d, 0, 1), d the distance from a pixel's centre to the path."""
    ink = np.zeros(shape, np.float32)
    points = np.concatenate(paths)
    radius = width / 2
    low = np.floor(points.min(0) - radius - 1).astype(int)
    high = np.ceil(points.max(0) + radius + 2).astype(int)
    low_c, high_c = np.maximum(low, 0), np.minimum(high, shape[::-1])  # (x, y) of the box on the canvas
    if np.any(high_c <= low_c):
        return ink
    box_w, box_h = high - low
    cols, rows = (np.floor(points) - low).astype(int).T
    seeds = np.ones((box_h, box_w), bool)
    seeds[rows, cols] = False
    # The distance from a pixel's centre to the nearest seed pixel's centre is within 0.71 px
    # (half a diagonal) of its distance to the path: pixels that far inside the brush's edge
    # are fully inked, and only those near the edge (the anti-aliased rim) need the exact
    # distance to the nearest sample.
    coarse = ndimage.distance_transform_edt(seeds)
    box = (coarse <= radius - 0.5 - RIM).astype(np.float32)
    rim_rows, rim_cols = np.nonzero((coarse > radius - 0.5 - RIM) & (coarse < radius + 0.5 + RIM))
    centres = np.stack([rim_cols + low[0] + 0.5, rim_rows + low[1] + 0.5], 1)
    distance, _ = spatial.cKDTree(points).query(centres)
    box[rim_rows, rim_cols] = np.clip(radius + 0.5 - distance, 0, 1)
    (x0, y0), (x1, y1) = low_c - low, high_c - low
    ink[low_c[1] : high_c[1], low_c[0] : high_c[0]] = box[y0:y1, x0:x1]
    return ink


def canvas_paths(digit: PenDigit, look: Look = Look()) -> list[np.ndarray]:
    """The digit's strokes as the canvas's smoothed paths, in canvas pixels: distorted as the
    look says, scaled so that the ink (path plus brush) is ``look.size`` px on its longer
    side, placed at ``look.place``."""
    strokes = distort(digit.strokes, look)
    points = np.concatenate(strokes)
    extent = float(np.ptp(points, 0).max())
    scale = max(look.size - look.width, 1.0) / max(extent, 1e-9)
    paths = [smooth_path(decimate(stroke * scale)) for stroke in strokes]
    every = np.concatenate(paths)
    radius = look.width / 2
    low, high = every.min(0) - radius, every.max(0) + radius
    room = np.maximum(CANVAS - (high - low), 0)
    corner = np.array([look.place[1], look.place[0]]) * room  # (x, y) of the ink box's top-left corner
    return [path - low + corner for path in paths]


def canvas_alpha(digit: PenDigit, look: Look = Look()) -> np.ndarray:
    """The canvas's alpha channel (280, 280) uint8: the ink, 255 fully inked."""
    return np.round(255 * brush_ink(canvas_paths(digit, look), look.width)).astype(np.uint8)


def canvas(digit: PenDigit, look: Look = Look()) -> np.ndarray:
    """The digit drawn on the app's canvas: an RGBA (280, 280, 4) uint8 image as
    streamlit-drawable-canvas returns it (white strokes, alpha the ink, transparent
    background)."""
    alpha = canvas_alpha(digit, look)
    rgba = np.zeros((CANVAS, CANVAS, 4), np.uint8)
    rgba[..., :3] = np.where(alpha > 0, 255, 0).astype(np.uint8)[..., None]
    rgba[..., 3] = alpha
    return rgba


def digit_rng(digit: PenDigit, seed: int) -> np.random.Generator:
    """The generator of one digit's look: seeded by (seed, writer, sample, label)."""
    return np.random.default_rng([seed, digit.writer, digit.sample, digit.label])


class PenSet(NamedTuple):
    """Rendered pen digits: images (n, 28, 28) uint8 as the models' input before
    normalisation, labels (n,) int64, writers (n,) int64."""

    images: torch.Tensor
    labels: torch.Tensor
    writers: torch.Tensor


def render(digit: PenDigit, look: Look = Look()) -> np.ndarray:
    """The digit drawn with ``look`` and read by the app's preprocessing: (28, 28) uint8 (all
    zero if the preprocessing finds no digit, which scores as a wrong answer). The
    preprocessing is given the canvas's alpha channel, the grey it reads from the RGBA canvas
    (white strokes on transparent), without building the RGBA image."""
    image = prepare(canvas_alpha(digit, look)).image
    return np.zeros((28, 28), np.uint8) if image is None else np.round(255 * image).astype(np.uint8)


def render_set(digits: Sequence[PenDigit], seed: int = 0, augment: bool = False) -> PenSet:
    """The digits drawn on the canvas, each with a look from ``random_look(digit_rng(digit,
    seed), augment)``, through the app's preprocessing. Without ``augment`` the trajectory is
    the pen's own, but brush width, size and place still vary (a class drawing with different
    brushes). The same digits and seed give the same images."""
    images = np.zeros((len(digits), 28, 28), np.uint8)
    for i, digit in enumerate(digits):
        images[i] = render(digit, random_look(digit_rng(digit, seed), augment))
    return PenSet(
        torch.from_numpy(images),
        torch.tensor([d.label for d in digits], dtype=torch.int64),
        torch.tensor([d.writer for d in digits], dtype=torch.int64),
    )


def validation_set(path: Path | str, log: Callable[[str], None] | None = None) -> PenSet:
    """The pen digits of the validation writers (VALIDATION_WRITERS) in the folder or file
    ``path``, drawn with the fixed seed EVAL_SEED and no distortion: what ``mnist-small
    evaluate --pen`` scores every model on (2,498 digits; drawn once, some 15 s on one core)."""
    file = pen_file(path)
    digits = split(read_pendigits(file))[1]
    images = cached(file, f"validation seed {EVAL_SEED}", len(digits), lambda: render_set(digits, EVAL_SEED).images, log)
    return PenSet(images, *labels_and_writers(digits))


def training_set(path: Path | str, renders: int, seed: int = 0, log: Callable[[str], None] | None = None) -> PenSet:
    """The training writers' pen digits (TRAIN_WRITERS), each drawn ``renders`` times with a
    distorted trajectory and its own brush, size and place (seeds ``seed`` .. ``seed + renders - 1``);
    drawn once (~20 s per thousand digits on one core)."""
    file = pen_file(path)
    digits = split(read_pendigits(file))[0]

    def draw() -> torch.Tensor:
        return torch.cat([render_set(digits, seed + r, augment=True).images for r in range(renders)])

    images = cached(file, f"training renders {renders} seed {seed}", renders * len(digits), draw, log)
    labels, writers = labels_and_writers(digits)
    return PenSet(images, labels.repeat(renders), writers.repeat(renders))


def labels_and_writers(digits: Sequence[PenDigit]) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor([d.label for d in digits], dtype=torch.int64), torch.tensor([d.writer for d in digits], dtype=torch.int64)


def cached(file: Path, what: str, n: int, draw: Callable[[], torch.Tensor], log: Callable[[str], None] | None) -> torch.Tensor:
    """``draw()``'s (n, 28, 28) uint8 images through drawn MNIST's disk cache (``cached_images``),
    keyed by the pen file's checksum, ``what`` and the drawing code (this module and the
    preprocessing), so a change to either draws them again."""
    digest = hashlib.sha256(file.read_bytes())
    digest.update(f"{what} code {code_key()} {Path(__file__).read_bytes()!r}".encode())
    path = cache_dir() / f"pen-{digest.hexdigest()[:24]}.npy"
    images = cached_images(path, n, lambda: draw()[:, None].float() / 255, f"{n:,} pen digits ({what})", log)
    return (images[:, 0] * 255).round().to(torch.uint8)  # the cache holds drawn MNIST's float format

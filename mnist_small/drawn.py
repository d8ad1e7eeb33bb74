"""'Drawn MNIST': the MNIST test digits re-rendered the way a drawing on the app's canvas looks.

People draw with a round brush of any width, at any size and place, often slanted. Each
test digit is slanted and rotated a little, its strokes made thinner or thicker like a
brush of another width, given crisp anti-aliased edges, scaled to a random size and put
at a random place on a 280x280 RGBA canvas (white strokes, transparent background, as
streamlit-drawable-canvas returns them). The canvases then go through the app's own
preprocessing, so a model's accuracy on them measures what a class would see.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from .preprocess import ink_box, prepare

CANVAS = 280
WORK = 112  # digits are reshaped at 4x MNIST resolution, where brush widths are whole pixels
SLANT, ROTATION = 18.0, 8.0  # degrees either way
STROKE_RADII = (-2, -1, 0, 1, 2, 3, 4)  # pixels at WORK scale: MNIST strokes are ~10 px there
SIZE = (60, 250)  # the drawing's longer side on the canvas, pixels
EDGE_TOUCH = 0.1  # share of drawings pushed against a canvas edge
BATCH = 500


def disk(radius: int) -> torch.Tensor:
    r = abs(radius)
    yy, xx = torch.meshgrid(torch.arange(-r, r + 1), torch.arange(-r, r + 1), indexing="ij")
    return ((yy**2 + xx**2) <= r * r + r).float()[None, None]


def brush(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Binary masks (n, 1, H, W) made ``radius`` px thicker (or thinner, if negative) with a round brush."""
    if radius == 0:
        return mask
    if radius > 0:
        return (F.conv2d(mask, disk(radius), padding=radius) > 0).float()
    return 1.0 - brush(1.0 - mask, -radius)


def strokes(digits: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """uint8 digits (n, 28, 28) -> soft-edged, slanted, re-brushed shapes (n, WORK, WORK) in [0, 1]."""
    n = len(digits)
    x = digits.float()[:, None] / 255
    slant = np.tan(np.deg2rad(rng.uniform(-SLANT, SLANT, n)))
    angle = np.deg2rad(rng.uniform(-ROTATION, ROTATION, n))
    cos, sin = np.cos(angle), np.sin(angle)
    theta = torch.tensor(
        np.stack([np.stack([cos, sin + slant * cos, 0 * cos], 1), np.stack([-sin, cos - slant * sin, 0 * cos], 1)], 1), dtype=torch.float32
    )
    grid = F.affine_grid(theta, [n, 1, WORK, WORK], align_corners=False)
    mask = (F.grid_sample(x, grid, mode="bilinear", align_corners=False) > 0.4).float()
    radii = rng.choice(STROKE_RADII, n)
    for radius in np.unique(radii):
        chosen = torch.from_numpy(radii == radius)
        mask[chosen] = brush(mask[chosen], int(radius))
    return F.avg_pool2d(mask, 3, stride=1, padding=1)[:, 0]  # anti-aliased edges


def place(shape: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Crop one shape to its ink, scale it to a random size and put it on an RGBA canvas."""
    canvas = np.zeros((CANVAS, CANVAS, 4), np.uint8)
    if not shape.any():  # the brush erased a very thin digit: an empty canvas, scored as a miss
        return canvas
    crop = torch.from_numpy(shape[ink_box(shape > 0)])
    longest = rng.uniform(*SIZE)
    h, w = crop.shape
    size = (max(1, round(h * longest / max(h, w))), max(1, round(w * longest / max(h, w))))
    big = F.interpolate(crop[None, None], size=size, mode="bilinear", antialias=True, align_corners=False)[0, 0].clamp(0, 1).numpy()
    top = int(rng.integers(0, CANVAS - size[0] + 1))
    left = int(rng.integers(0, CANVAS - size[1] + 1))
    if rng.random() < EDGE_TOUCH:
        top, left = rng.choice([(0, left), (CANVAS - size[0], left), (top, 0), (top, CANVAS - size[1])])
    alpha = (255 * big).astype(np.uint8)
    region = canvas[top : top + size[0], left : left + size[1]]
    region[..., 3] = alpha
    region[..., :3] = np.where(alpha > 0, 255, 0).astype(np.uint8)[..., None]
    return canvas


def canvases(digits: torch.Tensor, seed: int = 0) -> Iterator[np.ndarray]:
    """RGBA canvas drawings (280, 280, 4) of uint8 MNIST digits (n, 28, 28); the same for the same seed."""
    rng = np.random.default_rng(seed)
    for start in range(0, len(digits), BATCH):
        for shape in strokes(digits[start : start + BATCH], rng).numpy():
            yield place(shape, rng)


def drawn_inputs(digits: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """The drawn versions of ``digits`` after the app's preprocessing: (n, 1, 28, 28) in [0, 1].

    A canvas the preprocessing finds blank becomes an all-black image (a wrong answer,
    not a skipped one).
    """
    images = [prepare(c).image for c in canvases(digits, seed)]
    blank = np.zeros((28, 28), np.float32)
    return torch.from_numpy(np.stack([blank if im is None else im for im in images]))[:, None]

"""Image operations the canvas and photo steps share: reading any image as grey, boxes,
connected pieces, resizing, centring, grey-level morphology and the small search copies
things are looked for on.

Arrays are (H, W) floats in [0, 1], light ink on dark unless a docstring says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import ndimage

BOX = 20  # longer side of the digit inside the 28x28 field, as in MNIST
FIELD = 28  # MNIST's image side
INK = 0.1  # a pixel brighter than this (after background removal) is ink
MIN_CONTRAST = 0.15  # less difference than this between ink and background: blank
SEARCH_SIDE = 200  # the page, paper lines and specks are looked for on a copy this small
# ITU-R 601 luma weights, as PIL's convert("L") uses: the grey a photo's colours read as
LUMA = (0.299, 0.587, 0.114)
# Pixels touching only at a corner belong to one piece (a 3x3 neighbourhood), so that a thin
# diagonal stroke, which steps from pixel to pixel corner to corner, stays one stroke.
EIGHT_NEIGHBOURS = np.ones((3, 3), dtype=bool)


def to_grayscale(image: np.ndarray | Image.Image) -> np.ndarray:
    """Any of RGBA / RGB / grey, uint8 or float, as a float (H, W) array in [0, 1].

    Transparent pixels count as black, so a canvas with a transparent background and white
    strokes reads the same as one with a black background. Dark ink on a transparent
    background (alpha carries the drawing) reads as the alpha channel.
    """
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGBA" if "A" in image.getbands() else "L"))
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)) or min(array.shape[:2]) < 2:
        raise ValueError(f"expected an image array (H, W), (H, W, 3) or (H, W, 4), got shape {array.shape}")
    array = array.astype(np.float32)
    if array.max(initial=0.0) > 1.0:
        array /= 255.0
    if array.ndim == 2:
        return np.clip(array, 0.0, 1.0)
    grey = array[:, :, :3] @ np.array(LUMA, dtype=np.float32)
    if array.shape[2] == 4:
        alpha = array[:, :, 3]
        composited = grey * alpha
        if alpha.min() < 1.0 and composited.max() < MIN_CONTRAST < alpha.max():
            return np.clip(alpha, 0.0, 1.0)  # dark strokes on transparent: the alpha is the drawing
        grey = composited
    return np.clip(grey, 0.0, 1.0)


def ink_box(mask: np.ndarray) -> tuple[slice, slice]:
    """The rows and columns of the smallest box holding every True pixel (the mask has one)."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def centre_by_mass(digit: np.ndarray) -> np.ndarray:
    """Place ``digit`` in a FIELD x FIELD image with its centre of mass at the centre, as
    MNIST's digits are placed (so a model sees a drawing where it saw its training digits)."""
    h, w = digit.shape
    total = digit.sum()
    rows, cols = np.arange(h), np.arange(w)
    com_y = (digit.sum(1) @ rows) / total
    com_x = (digit.sum(0) @ cols) / total
    centre = FIELD / 2  # where MNIST's centres of mass sit in pixel-index units (mean 14.0)
    top = int(np.clip(round(centre - com_y), 0, FIELD - h))
    left = int(np.clip(round(centre - com_x), 0, FIELD - w))
    field = np.zeros((FIELD, FIELD), dtype=np.float32)
    field[top : top + h, left : left + w] = digit
    return field


def connected_pieces(mask: torch.Tensor) -> torch.Tensor:
    """Label each True pixel of ``mask`` (H, W) with the largest index (row-major, counting
    from 1) of any pixel in its 8-connected piece, 0 elsewhere, as a long tensor.

    The pieces come from ``scipy.ndimage.label`` with a 3x3 neighbourhood, in one pass
    however long the strokes. Naming each piece by its last pixel keeps the labels this
    function always gave (it used to grow them with a 3x3 max-pool, one pixel per round): a
    caller picking the largest piece by ``argmax`` breaks a tie the same way.
    """
    pieces, count = ndimage.label(mask.numpy(), structure=EIGHT_NEIGHBOURS)
    if count == 0:
        return torch.zeros(mask.shape, dtype=torch.long)
    index = np.arange(1, pieces.size + 1, dtype=np.int64).reshape(pieces.shape)
    last = np.zeros(count + 1, dtype=np.int64)
    np.maximum.at(last, pieces.ravel(), index.ravel())
    last[0] = 0  # the background
    return torch.from_numpy(last[pieces])


def search_copy(image: np.ndarray | torch.Tensor, pool: Callable = F.max_pool2d, side: int = SEARCH_SIDE) -> tuple[torch.Tensor, int]:
    """A (1, 1, h, w) copy of ``image`` pooled by a whole factor to at most ``side`` pixels a
    side, and the factor: the page, paper lines, specks and dots are looked for on it."""
    factor = max(1, math.ceil(max(image.shape) / side))
    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)) if isinstance(image, np.ndarray) else image
    return pool(tensor[None, None], factor, ceil_mode=True), factor


def average_pool(image: torch.Tensor, factor: int, ceil_mode: bool = True) -> torch.Tensor:
    """``F.avg_pool2d(image, factor, ceil_mode=True)`` of a (1, 1, H, W) tensor, to the bit:
    each window summed in the same order (row by row) and divided by the pixels it holds.

    Summed in numpy: torch shares even this small a job among its threads, and on a machine
    busy with other work waking them took 8-12 ms for a canvas; numpy sums it in 0.2 ms.
    """
    if not ceil_mode:
        raise ValueError("only ceil_mode=True: windows at the edge average the pixels they hold")
    pixels = image[0, 0].numpy()
    h, w = pixels.shape
    out_h, out_w = -(-h // factor), -(-w // factor)
    padded = np.zeros((out_h * factor, out_w * factor), np.float32)
    padded[:h, :w] = pixels
    total = np.zeros((out_h, out_w), np.float32)
    for row in range(factor):
        for col in range(factor):
            total += padded[row::factor, col::factor]  # adding the padding's zeros changes no sum
    held = np.minimum(factor, h - factor * np.arange(out_h))[:, None] * np.minimum(factor, w - factor * np.arange(out_w))[None, :]
    return torch.from_numpy(total / held.astype(np.float32))[None, None]


def full_size(small: torch.Tensor, factor: int, shape: tuple[int, ...]) -> torch.Tensor:
    """A search copy's (1, 1, h, w) result blown back up by ``factor`` and cut to ``shape``."""
    return F.interpolate(small, scale_factor=factor, mode="nearest")[0, 0, : shape[0], : shape[1]]


def border_of(image: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """The pixels along the four edges of a 2-D array or tensor."""
    edges = [image[0], image[-1], image[:, 0], image[:, -1]]
    return torch.cat(edges) if isinstance(image, torch.Tensor) else np.concatenate(edges)


def area_resize(image: torch.Tensor, side: int) -> torch.Tensor:
    """(H, W) averaged down (or up) so its longer side is ``side`` pixels, keeping the aspect."""
    h, w = image.shape
    size = (max(2, round(h * side / max(h, w))), max(2, round(w * side / max(h, w))))
    return F.interpolate(image[None, None], size=size, mode="area")[0, 0]


def grey_dilate(image: torch.Tensor, radius: int) -> torch.Tensor:
    """Grey-level dilation (radius > 0) or erosion (radius < 0) with a square of side 2|r|+1,
    pixels beyond the edge left out.

    ``scipy.ndimage.maximum_filter`` takes the square as a row then a column and costs the
    same whatever the radius: a max-pool over the whole square grew with its area, and
    bringing a fine brush across the whole canvas to MNIST's width takes a radius of 12.
    """
    r = abs(radius)
    sign = 1.0 if radius > 0 else -1.0
    grown = ndimage.maximum_filter(sign * image.numpy(), size=2 * r + 1, mode="constant", cval=-np.inf)
    return torch.from_numpy(sign * grown)


def opening(image: torch.Tensor, line: tuple[int, int]) -> torch.Tensor:
    """Grey-level opening of ``image`` (1, 1, H, W) with an upright or level line of odd
    length ``line`` (rows, columns): the least along it, then the most; what is narrower than
    the line along its direction is taken down to its surroundings."""
    pad = (line[0] // 2, line[1] // 2)
    least = -F.max_pool2d(-image, line, stride=1, padding=pad)
    return F.max_pool2d(least, line, stride=1, padding=pad)


def shear_rows(image: torch.Tensor, slope: float) -> torch.Tensor:
    """Shift each column of ``image`` (1, 1, H, W) up or down in proportion to its distance
    from the middle (``slope`` in [-1, 1] units): lines at that slope come out level."""
    theta = torch.tensor([[[1.0, 0.0, 0.0], [slope, 1.0, 0.0]]])
    return F.grid_sample(image, F.affine_grid(theta, list(image.shape), align_corners=False), align_corners=False)

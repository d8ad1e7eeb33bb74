"""A drawing brought into the range of MNIST's digits: stray dots dropped, a brush much
thicker or thinner than MNIST's pen, a slant far beyond MNIST's usual one and a shape much
wider than MNIST's digits brought back, and two digits side by side told apart from one.

People draw on the canvas with any brush, at any size and slant; a model trained on MNIST
only knows MNIST's pen and posture, so each of these would otherwise read as a rarer digit.
Photos go through the same steps once their paper has been cleaned away (see ``photo``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .imageops import BOX, INK, connected_pieces, full_size, grey_dilate, ink_box, search_copy

STROKE = 2.5  # MNIST's typical stroke width, in pixels of the 20-pixel box
STROKE_RANGE = (2.0, 3.0)  # strokes outside this (box pixels) are brought back to STROKE
# Slant of the ink's main axis from the vertical, degrees, negative leaning right (as
# measured by second moments); a slant outside this range is sheared back to its edge.
SLANT_RANGE = (-25.0, 13.0)  # the middle 80% of MNIST's training digits (-24.9 to 13.0)
# A drift of more than one column per row (45 degrees) is a dash or a lying shape, not a
# slanted digit: shearing it upright would make a bar of it.
MAX_SLANT_DRIFT = 1.0
MAX_ASPECT = 1.25  # width over height: only 1.6% of MNIST's training digits are wider
MAX_STRETCH = 2  # a digit wider than MAX_ASPECT is made at most this many times taller: a dash stays a bar
DOT_STROKE_WIDTHS = 2.5  # a piece of ink at most this many stroke widths across is a dot, not a stroke
DOT_MAX_SHARE = 0.5  # ... and under this share of the largest piece, so the digit itself is never one
DOT_SEARCH_SIDE = 70  # dots are looked for on a copy this small (gaps under 4 canvas pixels close)
# Two digits side by side: an empty band of columns at least TWO_DIGIT_GAP of the ink's
# height wide, with ink at least TWO_DIGIT_HEIGHT of that height on both sides of it.
TWO_DIGIT_GAP, TWO_DIGIT_HEIGHT = 0.1, 0.75
SOLID = 0.5  # stroke widths are measured on the pixels at least half inked: the anti-aliased rim is half in, half out


def drop_dots(ink: np.ndarray) -> np.ndarray:
    """Remove stray dots: pieces of ink at most DOT_STROKE_WIDTHS stroke widths across and
    under DOT_MAX_SHARE of the largest piece. A tap on the canvas beside the digit would
    otherwise stretch the digit's box and shrink the digit into a corner of it; a digit's own
    strokes, even a 7's crossbar or a 4's second stroke, are longer than that."""
    mask = ink > INK
    if not mask.any():
        return ink
    small, factor = search_copy(mask, side=DOT_SEARCH_SIDE)
    labels = connected_pieces(small[0, 0] > 0)
    sizes = torch.bincount(labels.flatten())
    sizes[0] = 0  # the background
    if (sizes > 0).sum() < 2:
        return ink
    rows, cols = torch.meshgrid(torch.arange(labels.shape[0]), torch.arange(labels.shape[1]), indexing="ij")

    def extent(coords: torch.Tensor) -> torch.Tensor:
        ends = [
            torch.zeros(len(sizes), dtype=torch.long).scatter_reduce(0, labels.flatten(), coords.flatten(), how, include_self=False)
            for how in ("amax", "amin")
        ]
        return ends[0] - ends[1] + 1

    across = torch.maximum(extent(rows), extent(cols)) * factor  # in the image's pixels
    dots = (sizes > 0) & (sizes < sizes.max() * DOT_MAX_SHARE) & (across <= DOT_STROKE_WIDTHS * stroke_width(mask.astype(np.float32)))
    if not dots.any():
        return ink
    return ink * full_size((~dots[labels]).float()[None, None], factor, ink.shape).numpy()


def normalise_stroke(crop: np.ndarray) -> np.ndarray:
    """Thin a very thick brush or thicken a very thin one to MNIST's stroke width.

    A digit drawn small with a wide brush would otherwise become a blob in the 20-pixel box,
    and one drawn large with a fine brush a faint trace: both unlike anything in MNIST.
    """
    scale = BOX / max(crop.shape)
    width = stroke_width(crop)
    if width == 0 or STROKE_RANGE[0] <= width * scale <= STROKE_RANGE[1]:
        return crop
    radius = round((STROKE / scale - width) / 2)
    if radius == 0:
        return crop
    padded = torch.from_numpy(np.pad(crop, max(radius, 0)))  # room for the strokes to grow
    changed = grey_dilate(padded, radius).numpy()
    ink = changed > INK
    if not ink.any():  # never erase the drawing
        return crop
    return changed[ink_box(ink)]


def straighten(crop: np.ndarray) -> np.ndarray:
    """Shear a digit slanted more than MNIST's digits usually are back to SLANT_RANGE's edge.

    The slant is the horizontal drift of the ink per row down (covariance of column and row
    over the row variance); a drawing leaning far over reads to a model like a rarer digit.
    """
    h, w = crop.shape
    rows, cols = np.mgrid[0:h, 0:w]
    mass = crop.sum()
    row_offset = rows - (crop * rows).sum() / mass
    row_variance = (crop * row_offset**2).sum()
    if w < 2 or row_variance == 0:
        return crop
    drift = (crop * (cols - (crop * cols).sum() / mass) * row_offset).sum() / row_variance
    low, high = np.tan(np.deg2rad(SLANT_RANGE))
    excess = drift - np.clip(drift, low, high)
    if excess == 0 or abs(drift) > MAX_SLANT_DRIFT:
        return crop
    margin = int(np.ceil(abs(excess) * h)) + 1
    # each output pixel samples the input column shifted by the excess drift of its row
    source_cols = np.arange(w + 2 * margin)[None, :] - margin + excess * row_offset[:, :1]
    grid = np.stack([2 * source_cols / (w - 1) - 1, np.broadcast_to(2 * rows[:, :1] / max(h - 1, 1) - 1, source_cols.shape)], -1)
    source = torch.from_numpy(np.asarray(crop, np.float32))[None, None]
    sheared = F.grid_sample(source, torch.from_numpy(grid).float()[None], align_corners=True)[0, 0].numpy()
    ink = sheared > INK
    return sheared[ink_box(ink)] if ink.any() else crop


def fit_box(crop: np.ndarray) -> np.ndarray:
    """Scale with anti-aliasing so the longer side is BOX pixels, keeping the aspect ratio,
    except that a digit drawn wider than MAX_ASPECT is made taller, up to MAX_STRETCH times,
    towards it.

    A 7 or a 2 dashed off wide and flat becomes a squashed shape, rare in MNIST, that models
    misread; twice at most, so that a dash stays a bar and does not become a block.
    """
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    if size[1] > MAX_ASPECT * size[0]:
        size = (min(MAX_STRETCH * size[0], round(size[1] / MAX_ASPECT)), size[1])
    resized = F.interpolate(torch.from_numpy(crop)[None, None], size=size, mode="bilinear", antialias=True, align_corners=False)
    return resized[0, 0].clamp(0, 1).numpy()


def side_by_side(mask: np.ndarray) -> bool:
    """Whether the ink is two or more digits written side by side: an empty band of columns
    at least TWO_DIGIT_GAP of the ink's height wide, with ink at least TWO_DIGIT_HEIGHT of
    that height on both sides. A single digit has no such band: a 4 drawn in two strokes has
    its crossbar across the gap. Of the 70,000 MNIST digits re-drawn like canvas drawings,
    one is taken for two (a 4 whose bar the thinner brush broke); pairs drawn a sixth of
    their height apart or more are caught."""

    def ink_height(part: np.ndarray) -> int:
        rows, _ = ink_box(part)
        return rows.stop - rows.start

    height = ink_height(mask)
    cols = np.flatnonzero(mask.any(0))
    for gap in np.flatnonzero(np.diff(cols) - 1 >= TWO_DIGIT_GAP * height):
        left, right = mask[:, : cols[gap] + 1], mask[:, cols[gap + 1] :]
        if min(ink_height(left), ink_height(right)) >= TWO_DIGIT_HEIGHT * height:
            return True
    return False


def stroke_width(crop: np.ndarray) -> float:
    """Mean stroke width in pixels: for a stroke of length L and width w, the area is about
    w * L and the one-pixel boundary about 2 * L, so w = 2 * area / boundary. Counted in numpy
    (exact: whole numbers): torch's threads would be woken for a whole canvas's pixels."""
    mask = (crop > SOLID).astype(np.float32)
    boundary = float((mask - grey_dilate(torch.from_numpy(mask), -1).numpy()).sum())
    return 2 * float(mask.sum()) / boundary if boundary else 0.0

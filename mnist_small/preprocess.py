"""Drawing or image -> the 28x28 input the models expect, the way MNIST itself was made.

MNIST digits are light ink on black, cropped to their ink, scaled (anti-aliased) so the
longer side is 20 px, and placed in a 28x28 field with their centre of mass at the centre.
A drawing from the canvas goes through exactly those steps, with stray dots dropped and a
brush much thicker or thinner than MNIST's pen, a slant far beyond MNIST's usual one and a
shape much wider than MNIST's digits brought back into MNIST's range first; a blank one
yields no digit. A photo of a digit on paper is first cropped to the page (when a darker
desk, or a flat dark background around a card, shows around it) and loses its uneven light,
the printed lines of ruled or squared paper, its noise and stray specks; any large image is
shrunk to at most 800 px a side.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from .data import normalize

BOX = 20  # longer side of the digit inside the 28x28 field, as in MNIST
FIELD = 28
INK = 0.1  # a pixel brighter than this (after background removal) is ink
MIN_CONTRAST = 0.15  # less difference than this between ink and background: blank
TINY = 0.08  # ink box smaller than this fraction of the image on both sides: a dot, not a digit
FILLED = 0.45  # more than this fraction of the image inked: a scribble, not a digit
FLAT = 0.005  # the border's darker half spread over no more than this: one flat colour, not a photo
CARD = 0.9  # in a flat-coloured picture, a page must fill this much of its box: a card, not a stroke
UNEVEN = 0.02  # the border's darker half spread over more than this (5th to 50th percentile): a photo
MAX_SIDE = 800  # larger images are shrunk to this many pixels a side first
DESK = 0.1  # a photo's border this much darker than its brighter quarter: a page on a desk, not a shadow
SEARCH_SIDE = 200  # the page, paper lines and specks are looked for on a copy this small
RULING_SPAN = 0.75  # a straight line across this much of a photo is printed on the paper
RULING_TILT = 10  # degrees a photo of ruled or squared paper may be turned either way

STROKE = 2.5  # MNIST's typical stroke width, in pixels of the 20-pixel box
STROKE_RANGE = (2.0, 3.0)  # strokes outside this (box pixels) are brought back to STROKE
# Slant of the ink's main axis from the vertical, degrees, negative leaning right (as
# measured by second moments); a slant outside this range is sheared back to its edge.
SLANT_RANGE = (-25.0, 13.0)  # the middle 80% of MNIST's training digits (-24.9 to 13.0)
MAX_ASPECT = 1.25  # width over height: only 1.6% of MNIST's training digits are wider
DOT = 2.5  # a piece of ink at most this many stroke widths across is a dot, not a stroke
DOT_SEARCH_SIDE = 70  # dots are looked for on a copy this small (gaps under 4 canvas pixels close)
# Two digits side by side: an empty band of columns at least GAP of the ink's height wide,
# with ink at least TALL of that height on both sides of it.
GAP, TALL = 0.1, 0.75
NO_DIGIT = "No digit yet: draw one on the canvas."


@dataclass(frozen=True)
class Prepared:
    """A drawing ready for the models, or the reason there is nothing to classify.

    image: 28x28 float array in [0, 1], ink bright (None when blank); message: why there is
    no digit; warning: a digit was found but does not look like one (a dot, a scribble, two
    digits); note: ink the preprocessing left out, so the user knows (a stray dot).
    """

    image: np.ndarray | None
    message: str | None = None
    warning: str | None = None
    note: str | None = None

    @property
    def has_digit(self) -> bool:
        return self.image is not None

    def tensor(self) -> torch.Tensor:
        """The normalised (1, 1, 28, 28) model input."""
        if self.image is None:
            raise ValueError(self.message or NO_DIGIT)
        return normalize(torch.from_numpy(self.image).float()[None, None])


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
    grey = array[:, :, :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if array.shape[2] == 4:
        alpha = array[:, :, 3]
        composited = grey * alpha
        if alpha.min() < 1.0 and composited.max() < MIN_CONTRAST < alpha.max():
            return np.clip(alpha, 0.0, 1.0)  # dark strokes on transparent: the alpha is the drawing
        grey = composited
    return np.clip(grey, 0.0, 1.0)


def search_copy(image: np.ndarray | torch.Tensor, pool: Callable = F.max_pool2d, side: int = SEARCH_SIDE) -> tuple[torch.Tensor, int]:
    """A (1, 1, h, w) copy of ``image`` pooled by a whole factor to at most ``side`` pixels a
    side, and the factor: the page, paper lines, specks and dots are looked for on it."""
    factor = max(1, math.ceil(max(image.shape) / side))
    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)) if isinstance(image, np.ndarray) else image
    return pool(tensor[None, None], factor, ceil_mode=True), factor


def full_size(small: torch.Tensor, factor: int, shape: tuple[int, ...]) -> torch.Tensor:
    """A search copy's (1, 1, h, w) result blown back up by ``factor`` and cut to ``shape``."""
    return F.interpolate(small, scale_factor=factor, mode="nearest")[0, 0, : shape[0], : shape[1]]


def border_of(image: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """The pixels along the four edges of a 2-D array or tensor."""
    edges = [image[0], image[-1], image[:, 0], image[:, -1]]
    return torch.cat(edges) if isinstance(image, torch.Tensor) else np.concatenate(edges)


def crop_to_page(grey: np.ndarray) -> np.ndarray:
    """A photo of a page lying on a darker desk: just the page, or the desk would read as ink.

    The page: the largest bright piece, solid (60% of its box or more, even turned) and a
    quarter of the photo or more, with the photo's border DESK darker than the brighter quarter
    of the photo (a page's far corner can fall to the desk's grey), and the piece's outline a
    step in brightness (light fading towards the edges is no page). Where the border is one
    flat colour (a canvas, or a picture made in an image editor), the piece must also be a
    card, CARD of its box: a big, thick drawing on the canvas is a bright piece too.
    Kept: the rows and columns it fills at least 90% of, each row filled in between the page's
    ends (a page turned in the photo leaves dark corners), 3% further in, past its edge and shadow.
    """
    small, factor = search_copy(grey, F.avg_pool2d)
    small = small[0, 0]
    border = border_of(small).median()
    if border > small.quantile(0.75) - DESK:
        return grey  # not a page on a darker desk
    flat = np.ptp(np.percentile(border_of(grey), [5, 50])) <= FLAT  # a canvas or a digital picture, not a photo
    labels = connected_pieces(small > (small.median() + border) / 2)
    sizes = torch.bincount(labels.flatten())
    sizes[0] = 0
    page = labels == sizes.argmax()
    box_rows, box_cols = ink_box(page.numpy())
    box = (box_rows.stop - box_rows.start) * (box_cols.stop - box_cols.start)
    if sizes.max() < 0.25 * small.numel() or sizes.max() < 0.6 * box:
        return grey  # no page, or no solid one: a big, thick drawing is not a page
    page = fill_rows(page)  # the digit's strokes are not gaps in the page
    if flat and page.sum() < CARD * box:
        return grey  # a big drawing on the canvas, whatever touches its edge; only a card is that square
    if edge_step(small, page) < DESK / 2:
        return grey  # no sharp edge: light falling off towards the photo's edges, not a page on a desk
    row_fill, col_fill = page.float().mean(1), page.float().mean(0)
    full_rows = torch.nonzero(row_fill >= 0.9 * row_fill.max()).flatten()
    full_cols = torch.nonzero(col_fill >= 0.9 * col_fill.max()).flatten()
    (top, bottom), (left, right) = (full_rows[[0, -1]] * factor).tolist(), (full_cols[[0, -1]] * factor).tolist()
    inset_r, inset_c = (bottom - top) * 3 // 100 + 1, (right - left) * 3 // 100 + 1
    cropped = grey[top + inset_r : bottom - inset_r, left + inset_c : right - inset_c]
    return cropped if min(cropped.shape) >= 2 else grey


def fill_rows(mask: torch.Tensor) -> torch.Tensor:
    """``mask`` (H, W) filled in from the first to the last pixel of each row: a page (convex)
    without the gaps its digit's strokes leave."""
    cols = torch.arange(mask.shape[1])
    first = torch.where(mask, cols, mask.shape[1]).min(1, keepdim=True).values
    last = torch.where(mask, cols, -1).max(1, keepdim=True).values
    return (cols >= first) & (cols <= last)


def edge_step(image: torch.Tensor, region: torch.Tensor, width: int = 2) -> float:
    """How much brighter ``image`` (H, W) is just inside ``region``'s outline than just outside
    it (the medians of two rings ``width`` pixels wide): a page's edge is a step, fading light is not."""
    inside = region & grey_dilate((~region).float(), width).bool()
    outside = grey_dilate(region.float(), width).bool() & ~region
    if not inside.any() or not outside.any():
        return 0.0
    return float(image[inside].median() - image[outside].median())


def light_on_dark(grey: np.ndarray) -> np.ndarray:
    """Flip dark-on-light images (a light border, or a photo of paper whose light fades to dark
    edges), then stretch so background -> 0 and the brightest ink -> 1. A photo (its border not
    one flat colour) first loses its uneven light and its noise."""
    border = border_of(grey)
    background = float(np.median(border))
    lamp_lit_page = np.median(grey) > 0.5 and np.ptp(np.percentile(border, [5, 95])) > UNEVEN  # light fading to dark edges
    if background > 0.5 or lamp_lit_page:
        grey, border, background = 1.0 - grey, 1.0 - border, 1.0 - background
    if np.ptp(np.percentile(border, [5, 50])) > UNEVEN:  # the darker (background) half: ink on the border does not count
        grey, background = flatten_photo(grey), 0.0
    contrast = float(grey.max()) - background
    if contrast < MIN_CONTRAST:
        return np.zeros_like(grey)
    return np.clip((grey - background) / contrast, 0.0, 1.0)


def shrink(grey: np.ndarray) -> np.ndarray:
    """A large image (a phone photo, a scan) at most MAX_SIDE pixels a side: the 28x28 result
    needs no more, the stroke steps stay fast, and averaging pixels averages noise away."""
    if max(grey.shape) <= MAX_SIDE:
        return grey
    return area_resize(torch.from_numpy(np.ascontiguousarray(grey)), MAX_SIDE).numpy()


def area_resize(image: torch.Tensor, side: int) -> torch.Tensor:
    """(H, W) averaged down (or up) so its longer side is ``side`` pixels, keeping the aspect."""
    h, w = image.shape
    size = (max(2, round(h * side / max(h, w))), max(2, round(w * side / max(h, w))))
    return F.interpolate(image[None, None], size=size, mode="area")[0, 0]


def noise_below_zero(values: torch.Tensor) -> torch.Tensor:
    """The noise width (a robust standard deviation) of the values below zero: with the paper
    at zero, only paper lies below it, so the ink above does not widen the estimate."""
    below = values[values < 0]
    return 1.4826 * below.abs().median() if len(below) else torch.tensor(0.0)


def flatten_photo(grey: np.ndarray) -> np.ndarray:
    """A photo of a digit on paper, light on dark: subtract the slowly varying background (a
    shadow, uneven light), the lines of ruled or squared paper and sensor noise, and drop
    specks, all of which would otherwise pass for ink."""
    image = torch.from_numpy(np.ascontiguousarray(grey, dtype=np.float32))
    flat = F.avg_pool2d((image - paper_light(image))[None, None], 3, stride=1, padding=1, count_include_pad=False)[0, 0]
    paper = 5 * noise_below_zero(flat)  # within 5 noise widths of the paper: paper
    return drop_specks((flat - rulings(flat) - paper).clamp(min=0).numpy())


def drop_specks(ink: np.ndarray) -> np.ndarray:
    """Keep the digit's ink, not the specks: the end of a paper line at the photo's edge, a
    speck of dust. Pieces under 5% of the largest go, and so do pieces at the photo's edge
    under half of it (a digit seldom touches the edge of a photo of paper); otherwise they
    would stretch the digit's box across the photo. Found on the search copy (gaps of a few
    pixels close up)."""
    if not ink.any():
        return ink
    small, factor = search_copy(ink)
    labels = connected_pieces(small[0, 0] > INK * ink.max())
    sizes = torch.bincount(labels.flatten()).float()
    sizes[0] = 0  # the background
    at_edge = torch.zeros_like(sizes, dtype=torch.bool)
    at_edge[border_of(labels)] = True
    keep = (sizes >= 0.05 * sizes.max()) & (~at_edge | (sizes >= 0.5 * sizes.max()))
    return ink * full_size(keep[labels].float()[None, None], factor, ink.shape).numpy()


def drop_dots(ink: np.ndarray) -> np.ndarray:
    """Remove stray dots: pieces of ink at most DOT stroke widths across and under half the
    largest piece. A tap on the canvas beside the digit would otherwise stretch the digit's
    box and shrink the digit into a corner of it; a digit's own strokes, even a 7's crossbar
    or a 4's second stroke, are longer than that."""
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
    dots = (sizes > 0) & (sizes < sizes.max() / 2) & (across <= DOT * stroke_width(mask.astype(np.float32)))
    if not dots.any():
        return ink
    return ink * full_size((~dots[labels]).float()[None, None], factor, ink.shape).numpy()


def side_by_side(mask: np.ndarray) -> bool:
    """Whether the ink is two or more digits written side by side: an empty band of columns
    at least GAP of the ink's height wide, with ink at least TALL of that height on both
    sides. A single digit has no such band: a 4 drawn in two strokes has its crossbar across
    the gap. Of the 70,000 MNIST digits re-drawn like canvas drawings, one is taken for two
    (a 4 whose bar the thinner brush broke); pairs drawn a sixth of their height apart or
    more are caught."""

    def ink_height(part: np.ndarray) -> int:
        rows, _ = ink_box(part)
        return rows.stop - rows.start

    height = ink_height(mask)
    cols = np.flatnonzero(mask.any(0))
    for gap in np.flatnonzero(np.diff(cols) - 1 >= GAP * height):
        left, right = mask[:, : cols[gap] + 1], mask[:, cols[gap + 1] :]
        if min(ink_height(left), ink_height(right)) >= TALL * height:
            return True
    return False


def connected_pieces(mask: torch.Tensor) -> torch.Tensor:
    """Label each True pixel of ``mask`` (H, W) with the largest index in its 8-connected
    piece, 0 elsewhere: grow the labels within the mask until nothing changes."""
    labels = torch.arange(1, mask.numel() + 1, dtype=torch.float32).view(mask.shape) * mask
    while True:
        grown = F.max_pool2d(labels[None, None], 3, stride=1, padding=1)[0, 0] * mask
        if torch.equal(grown, labels):
            return labels.long()
        labels = grown


def paper_light(image: torch.Tensor, rounds: int = 4) -> torch.Tensor:
    """The paper's brightness under uneven light: a smooth (quadratic) surface fitted to a
    64-pixel copy, refitted without the pixels far above it (the ink), however thick the strokes."""
    small = area_resize(image, 64)

    def terms(rows: int, cols: int) -> torch.Tensor:
        y, x = torch.meshgrid(torch.linspace(-1, 1, rows), torch.linspace(-1, 1, cols), indexing="ij")
        return torch.stack([torch.ones_like(x), x, y, x * x, x * y, y * y], -1).reshape(-1, 6)

    a, b = terms(*small.shape), small.reshape(-1, 1)
    paper = b[:, 0] <= b.median()  # to start: the darker half, paper even under thick strokes
    for _ in range(rounds):
        coef = torch.linalg.lstsq(a[paper], b[paper]).solution
        residual = (b - a @ coef)[:, 0]
        paper = residual < 3 * noise_below_zero(residual) + 1e-3
    return (terms(*image.shape) @ coef).reshape(image.shape)


def rulings(flat: torch.Tensor) -> torch.Tensor:
    """The printed lines of ruled or squared paper in a flattened photo, to be taken away:
    they would otherwise pass for ink. Found on the search copy, max-pooled so that thin lines
    keep their strength; where squares' lines cross, both add up."""
    small, factor = search_copy(flat)
    lines = level_rulings(small) + level_rulings(small.transpose(2, 3)).transpose(2, 3)
    lines = F.max_pool2d(lines, 3, stride=1, padding=1)  # a pixel's margin: turning them level and back blurs them
    return full_size(lines, factor, flat.shape)


def level_rulings(image: torch.Tensor) -> torch.Tensor:
    """The thin straight lines within RULING_TILT degrees of level across RULING_SPAN of
    ``image`` (1, 1, H, W), when there are at least two; otherwise zeros.

    A ruling comes with others parallel to it, so one long line alone stays: it may be the
    digit's own stroke (a tall 1, a 7's bar).
    """
    _, _, h, w = image.shape
    # thin level ridges: what an opening with a 5-pixel upright line removes (a white top-hat);
    # the paper's level, even where uneven, and anything tall (upright lines, thick strokes) drop out
    ridges = image - opening(image, (5, 1))
    faint = max(3 * ridges.median().item(), 0.01)  # most of a photo is plain paper
    short = 2 * max(1, w // 8) + 1  # the stretch along a line over which its own strength is taken
    found, most = torch.zeros_like(image), 0
    for degrees in range(-RULING_TILT, RULING_TILT + 1):
        slope = math.tan(math.radians(degrees)) * w / h  # in affine_grid's [-1, 1] units
        level = F.max_pool2d(shear_rows(ridges, slope), (3, 1), stride=1, padding=(1, 0))  # turned level, +-1 px slack
        # a ridge along RULING_SPAN of the row's part inside the photo (a line near a corner
        # leaves the photo), and along a quarter of the photo's width at least
        inside = shear_rows(torch.ones_like(image), slope)[0, 0] > 0.99
        length = inside.sum(1)
        rows = ((level[0, 0] > faint) & inside).sum(1) >= torch.clamp(RULING_SPAN * length, min=w / 4)
        if not rows.any():
            continue
        most = max(most, int((rows[1:] & ~rows[:-1]).sum() + rows[0]))  # runs of such rows: lines at this angle
        # the line's own strength: the least along a short stretch, so where the digit crosses
        # it only the line is taken away
        strength = opening(level, (1, short)) * rows[:, None]
        found = torch.maximum(found, shear_rows(strength, -slope))
    return found if most >= 2 else torch.zeros_like(image)


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


def ink_box(mask: np.ndarray) -> tuple[slice, slice]:
    """The rows and columns of the smallest box holding every True pixel (the mask has one)."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def grey_dilate(image: torch.Tensor, radius: int) -> torch.Tensor:
    """Grey-level dilation (radius > 0) or erosion (radius < 0) with a square of side 2|r|+1."""
    r = abs(radius)
    sign = 1.0 if radius > 0 else -1.0
    return sign * F.max_pool2d(sign * image[None, None], 2 * r + 1, stride=1, padding=r)[0, 0]


def stroke_width(crop: np.ndarray) -> float:
    """Mean stroke width in pixels: for a stroke of length L and width w, the area is about
    w * L and the one-pixel boundary about 2 * L, so w = 2 * area / boundary."""
    mask = torch.from_numpy(crop > 0.5).float()
    boundary = (mask - grey_dilate(mask, -1)).sum().item()
    return 2 * mask.sum().item() / boundary if boundary else 0.0


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
    if excess == 0 or abs(drift) > 1:  # over 45 degrees: a dash or a lying shape, not a slanted digit
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
    except that a digit drawn wider than MAX_ASPECT is made taller, up to twice, towards it.

    A 7 or a 2 dashed off wide and flat becomes a squashed shape, rare in MNIST, that models
    misread; twice at most, so that a dash stays a bar and does not become a block.
    """
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    if size[1] > MAX_ASPECT * size[0]:
        size = (min(2 * size[0], round(size[1] / MAX_ASPECT)), size[1])
    resized = F.interpolate(torch.from_numpy(crop)[None, None], size=size, mode="bilinear", antialias=True, align_corners=False)
    return resized[0, 0].clamp(0, 1).numpy()


def centre_by_mass(digit: np.ndarray) -> np.ndarray:
    """Place ``digit`` in a FIELD x FIELD image with its centre of mass at the centre."""
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


def prepare(image: np.ndarray | Image.Image) -> Prepared:
    """Turn a drawing or picture of one digit into the MNIST-style 28x28 image."""
    found = light_on_dark(crop_to_page(shrink(to_grayscale(image))))
    ink = drop_dots(found)
    mask = ink > INK
    if not mask.any():
        return Prepared(None, message=NO_DIGIT)
    note = "a stray dot left out" if mask.sum() < (found > INK).sum() else None
    rows, cols = ink_box(mask)
    crop = np.where(ink[rows, cols] > INK / 2, ink[rows, cols], 0.0).astype(np.float32)
    field = centre_by_mass(fit_box(straighten(normalise_stroke(crop))))

    height, width = ink.shape
    warning = None
    if (rows.stop - rows.start) < TINY * height and (cols.stop - cols.start) < TINY * width:
        warning = "That is a very small mark, not much like a digit: draw the digit larger."
    elif mask.mean() > FILLED:
        warning = (
            "The picture is mostly ink and does not look like one digit: on the canvas, draw just the digit; "
            "crop a photo to the paper around the digit."
        )
    elif side_by_side(mask):
        warning = "That looks like more than one digit: the models read one digit at a time, so draw just one."
    return Prepared(field, warning=warning, note=note)


def drawing_png(image: np.ndarray | Image.Image) -> bytes:
    """A drawing as a greyscale PNG, light strokes on black: a file to keep a drawing in and
    upload again later (it reads back as the same digit)."""
    buffer = io.BytesIO()
    Image.fromarray(np.round(255 * to_grayscale(image)).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def load_image(path: str | Path) -> Image.Image:
    """Open an image file, with a clear error for a missing or unreadable one."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            return img
    except FileNotFoundError as err:
        raise ValueError(f"{path}: no such file") from err
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"{path}: not a readable image ({err})") from err

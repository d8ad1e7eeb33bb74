"""A picture's background taken away, so that only the digit's ink is left, light on dark.

Any image is first shrunk to at most MAX_SIDE pixels a side. A photo of a digit on paper is
then cropped to the page (when a darker desk, or a flat dark background around a card,
shows around it), turned light on dark if it is dark on light, and loses its uneven light,
the printed lines of ruled or squared paper, its noise and stray specks: each would
otherwise pass for ink and stretch the digit's box. A canvas drawing (one flat background)
only has its background set to 0 and its brightest ink to 1.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .imageops import (
    INK,
    MIN_CONTRAST,
    area_resize,
    average_pool,
    border_of,
    connected_pieces,
    full_size,
    grey_dilate,
    ink_box,
    opening,
    search_copy,
    shear_rows,
)

MAX_SIDE = 800  # larger images are shrunk to this many pixels a side first
MID_GREY = 0.5  # a background brighter than this is paper (dark on light), darker is a canvas or a desk

# -- the border: a flat colour (canvas, picture from an image editor) or a photo
# The border's spread is measured between these percentiles: its darker (background) half,
# so that ink touching the border does not count, and most of it, for light fading to the edges.
BORDER_DARKER_HALF, BORDER_MOST = (5, 50), (5, 95)
FLAT_BORDER_SPREAD = 0.005  # the border's darker half spread over no more than this: one flat colour, not a photo
UNEVEN_BORDER_SPREAD = 0.02  # the border's darker half (or most of it) spread over more than this: a photo

# -- a page lying on a darker desk
DESK_DARKER = 0.1  # a photo's border this much darker than its brighter quarter: a page on a desk, not a shadow
BRIGHTER_QUARTER = 0.75  # the page is judged by this quantile: a page's far corner may fall to the desk's grey
MIN_PAGE_EDGE_STEP = DESK_DARKER / 2  # a page's outline is a step at least this high; fading light has none
PAGE_EDGE_RING = 2  # search-copy pixels either side of the outline the step is measured over
MIN_PAGE_SHARE = 0.25  # a page fills at least this share of the photo
MIN_PAGE_SOLIDITY = 0.6  # ... and of its box, even turned (a big, thick drawing does not)
CARD_FILL = 0.9  # in a flat-coloured picture, a page must fill this much of its box: a card, not a stroke
FULL_LINE = 0.9  # the page's rows and columns filled at least this share of the fullest one's are kept
PAGE_INSET_PERCENT = 3  # cut this far (of the page's size) further in, past the page's edge and its shadow

# -- uneven light, noise and specks
LIGHT_FIT_SIDE = 64  # the paper's light is fitted on a copy this small: it varies slowly
LIGHT_FIT_ROUNDS = 4  # refits without the ink found so far; thick strokes need a few
INK_NOISE_WIDTHS = 3  # a pixel this many noise widths above the fitted light is ink, not paper
FIT_TOLERANCE = 1e-3  # ... plus this, so that a noiseless picture keeps its paper
MAD_TO_SIGMA = 1.4826  # median absolute deviation to standard deviation, for Gaussian noise
NOISE_BLUR = 3  # a 3x3 mean averages sensor noise down, and no stroke is that thin
PAPER_NOISE_WIDTHS = 5  # within this many noise widths of the paper: paper
SPECK_SHARE = 0.05  # pieces under this share of the largest are specks of dust
EDGE_SPECK_SHARE = 0.5  # at the photo's edge, pieces under this share of the largest are line ends

# -- the printed lines of ruled or squared paper
RULING_SPAN = 0.75  # a straight line across this much of a photo is printed on the paper
MIN_RULING_LENGTH = 0.25  # ... and across this share of the photo's width at least (a line near a corner is short)
RULING_TILT = 10  # degrees a photo of ruled or squared paper may be turned either way
MIN_RULINGS = 2  # a ruling comes with others parallel to it; one long line alone may be the digit's own stroke
RULING_THICKNESS = 5  # ridges thinner than this many pixels (upright) may be printed lines
FAINT_MEDIANS = 3  # a ridge stronger than this many times the median ridge stands out of plain paper
MIN_FAINT = 0.01  # ... and stronger than this on very clean paper
STRENGTH_REACH = 1 / 8  # a line's own strength: the least within this share of the width either side
LINE_SLACK = 1  # pixels either side: a line turned level wanders by one, and turning it back blurs it
WHOLLY_INSIDE = 0.99  # a sheared row counts where it lies this much inside the photo


def shrink(grey: np.ndarray) -> np.ndarray:
    """A large image (a phone photo, a scan) at most MAX_SIDE pixels a side: the 28x28 result
    needs no more, the stroke steps stay fast, and averaging pixels averages noise away."""
    if max(grey.shape) <= MAX_SIDE:
        return grey
    return area_resize(torch.from_numpy(np.ascontiguousarray(grey)), MAX_SIDE).numpy()


def crop_to_page(grey: np.ndarray) -> np.ndarray:
    """A photo of a page lying on a darker desk: just the page, or the desk would read as ink.

    The page: the largest bright piece, solid (MIN_PAGE_SOLIDITY of its box or more, even
    turned) and MIN_PAGE_SHARE of the photo or more, with the photo's border DESK_DARKER darker
    than the brighter quarter of the photo (a page's far corner can fall to the desk's grey),
    and the piece's outline a step in brightness (light fading towards the edges is no page).
    Where the border is one flat colour (a canvas, or a picture made in an image editor), the
    piece must also be a card, CARD_FILL of its box: a big, thick drawing on the canvas is a
    bright piece too. Kept: the rows and columns it fills at least FULL_LINE of, each row
    filled in between the page's ends (a page turned in the photo leaves dark corners),
    PAGE_INSET_PERCENT further in, past its edge and shadow.
    """
    small, factor = search_copy(grey, average_pool)
    small = small[0, 0]
    border = border_of(small).median()
    if border > small.quantile(BRIGHTER_QUARTER) - DESK_DARKER:
        return grey  # not a page on a darker desk
    flat = np.ptp(np.percentile(border_of(grey), BORDER_DARKER_HALF)) <= FLAT_BORDER_SPREAD  # a canvas or a digital picture, not a photo
    labels = connected_pieces(small > (small.median() + border) / 2)
    sizes = torch.bincount(labels.flatten())
    sizes[0] = 0
    page = labels == sizes.argmax()
    box_rows, box_cols = ink_box(page.numpy())
    box = (box_rows.stop - box_rows.start) * (box_cols.stop - box_cols.start)
    if sizes.max() < MIN_PAGE_SHARE * small.numel() or sizes.max() < MIN_PAGE_SOLIDITY * box:
        return grey  # no page, or no solid one: a big, thick drawing is not a page
    page = fill_rows(page)  # the digit's strokes are not gaps in the page
    if flat and page.sum() < CARD_FILL * box:
        return grey  # a big drawing on the canvas, whatever touches its edge; only a card is that square
    if edge_step(small, page, PAGE_EDGE_RING) < MIN_PAGE_EDGE_STEP:
        return grey  # no sharp edge: light falling off towards the photo's edges, not a page on a desk
    row_fill, col_fill = page.float().mean(1), page.float().mean(0)
    full_rows = torch.nonzero(row_fill >= FULL_LINE * row_fill.max()).flatten()
    full_cols = torch.nonzero(col_fill >= FULL_LINE * col_fill.max()).flatten()
    (top, bottom), (left, right) = (full_rows[[0, -1]] * factor).tolist(), (full_cols[[0, -1]] * factor).tolist()
    inset_r = (bottom - top) * PAGE_INSET_PERCENT // 100 + 1
    inset_c = (right - left) * PAGE_INSET_PERCENT // 100 + 1
    cropped = grey[top + inset_r : bottom - inset_r, left + inset_c : right - inset_c]
    return cropped if min(cropped.shape) >= 2 else grey


def light_on_dark(grey: np.ndarray) -> np.ndarray:
    """Flip dark-on-light images (a light border, or a photo of paper whose light fades to dark
    edges), then stretch so background -> 0 and the brightest ink -> 1. A photo (its border not
    one flat colour) first loses its uneven light and its noise."""
    border = border_of(grey)
    background = float(np.median(border))
    lamp_lit_page = (
        np.median(grey) > MID_GREY and np.ptp(np.percentile(border, BORDER_MOST)) > UNEVEN_BORDER_SPREAD
    )  # light fading to dark edges
    if background > MID_GREY or lamp_lit_page:
        grey, border, background = 1.0 - grey, 1.0 - border, 1.0 - background
    if np.ptp(np.percentile(border, BORDER_DARKER_HALF)) > UNEVEN_BORDER_SPREAD:  # ink on the border does not count
        grey, background = flatten_photo(grey), 0.0
    contrast = float(grey.max()) - background
    if contrast < MIN_CONTRAST:
        return np.zeros_like(grey)
    return np.clip((grey - background) / contrast, 0.0, 1.0)


def flatten_photo(grey: np.ndarray) -> np.ndarray:
    """A photo of a digit on paper, light on dark: subtract the slowly varying background (a
    shadow, uneven light), the lines of ruled or squared paper and sensor noise, and drop
    specks, all of which would otherwise pass for ink."""
    image = torch.from_numpy(np.ascontiguousarray(grey, dtype=np.float32))
    lit = (image - paper_light(image))[None, None]
    flat = F.avg_pool2d(lit, NOISE_BLUR, stride=1, padding=NOISE_BLUR // 2, count_include_pad=False)[0, 0]
    paper = PAPER_NOISE_WIDTHS * noise_below_zero(flat)
    return drop_specks((flat - rulings(flat) - paper).clamp(min=0).numpy())


def paper_light(image: torch.Tensor, rounds: int = LIGHT_FIT_ROUNDS) -> torch.Tensor:
    """The paper's brightness under uneven light: a smooth (quadratic) surface fitted to a
    LIGHT_FIT_SIDE-pixel copy, refitted without the pixels far above it (the ink), however
    thick the strokes."""
    small = area_resize(image, LIGHT_FIT_SIDE)

    def terms(rows: int, cols: int) -> torch.Tensor:
        y, x = torch.meshgrid(torch.linspace(-1, 1, rows), torch.linspace(-1, 1, cols), indexing="ij")
        return torch.stack([torch.ones_like(x), x, y, x * x, x * y, y * y], -1).reshape(-1, 6)

    a, b = terms(*small.shape), small.reshape(-1, 1)
    paper = b[:, 0] <= b.median()  # to start: the darker half, paper even under thick strokes
    for _ in range(rounds):
        coef = torch.linalg.lstsq(a[paper], b[paper]).solution
        residual = (b - a @ coef)[:, 0]
        paper = residual < INK_NOISE_WIDTHS * noise_below_zero(residual) + FIT_TOLERANCE
    return (terms(*image.shape) @ coef).reshape(image.shape)


def rulings(flat: torch.Tensor) -> torch.Tensor:
    """The printed lines of ruled or squared paper in a flattened photo, to be taken away:
    they would otherwise pass for ink. Found on the search copy, max-pooled so that thin lines
    keep their strength; where squares' lines cross, both add up."""
    small, factor = search_copy(flat)
    lines = level_rulings(small) + level_rulings(small.transpose(2, 3)).transpose(2, 3)
    lines = F.max_pool2d(lines, 2 * LINE_SLACK + 1, stride=1, padding=LINE_SLACK)  # turning them level and back blurs them
    return full_size(lines, factor, flat.shape)


def level_rulings(image: torch.Tensor) -> torch.Tensor:
    """The thin straight lines within RULING_TILT degrees of level across RULING_SPAN of
    ``image`` (1, 1, H, W), when there are at least MIN_RULINGS; otherwise zeros.

    A ruling comes with others parallel to it, so one long line alone stays: it may be the
    digit's own stroke (a tall 1, a 7's bar).
    """
    _, _, h, w = image.shape
    # thin level ridges: what an opening with an upright line removes (a white top-hat); the
    # paper's level, even where uneven, and anything tall (upright lines, thick strokes) drop out
    ridges = image - opening(image, (RULING_THICKNESS, 1))
    faint = max(FAINT_MEDIANS * ridges.median().item(), MIN_FAINT)  # most of a photo is plain paper
    short = 2 * max(1, int(w * STRENGTH_REACH)) + 1  # the stretch along a line over which its own strength is taken
    found, most = torch.zeros_like(image), 0
    for degrees in range(-RULING_TILT, RULING_TILT + 1):
        slope = math.tan(math.radians(degrees)) * w / h  # in affine_grid's [-1, 1] units
        slack = (2 * LINE_SLACK + 1, 1)
        level = F.max_pool2d(shear_rows(ridges, slope), slack, stride=1, padding=(LINE_SLACK, 0))  # turned level
        # a ridge along RULING_SPAN of the row's part inside the photo (a line near a corner
        # leaves the photo), and along MIN_RULING_LENGTH of the photo's width at least
        inside = shear_rows(torch.ones_like(image), slope)[0, 0] > WHOLLY_INSIDE
        length = inside.sum(1)
        rows = ((level[0, 0] > faint) & inside).sum(1) >= torch.clamp(RULING_SPAN * length, min=w * MIN_RULING_LENGTH)
        if not rows.any():
            continue
        most = max(most, int((rows[1:] & ~rows[:-1]).sum() + rows[0]))  # runs of such rows: lines at this angle
        # the line's own strength: the least along a short stretch, so where the digit crosses
        # it only the line is taken away
        strength = opening(level, (1, short)) * rows[:, None]
        found = torch.maximum(found, shear_rows(strength, -slope))
    return found if most >= MIN_RULINGS else torch.zeros_like(image)


def drop_specks(ink: np.ndarray) -> np.ndarray:
    """Keep the digit's ink, not the specks: the end of a paper line at the photo's edge, a
    speck of dust. Pieces under SPECK_SHARE of the largest go, and so do pieces at the photo's
    edge under EDGE_SPECK_SHARE of it (a digit seldom touches the edge of a photo of paper);
    otherwise they would stretch the digit's box across the photo. Found on the search copy
    (gaps of a few pixels close up)."""
    if not ink.any():
        return ink
    small, factor = search_copy(ink)
    labels = connected_pieces(small[0, 0] > INK * ink.max())
    sizes = torch.bincount(labels.flatten()).float()
    sizes[0] = 0  # the background
    at_edge = torch.zeros_like(sizes, dtype=torch.bool)
    at_edge[border_of(labels)] = True
    keep = (sizes >= SPECK_SHARE * sizes.max()) & (~at_edge | (sizes >= EDGE_SPECK_SHARE * sizes.max()))
    return ink * full_size(keep[labels].float()[None, None], factor, ink.shape).numpy()


def noise_below_zero(values: torch.Tensor) -> torch.Tensor:
    """The noise width (a robust standard deviation) of the values below zero: with the paper
    at zero, only paper lies below it, so the ink above does not widen the estimate."""
    below = values[values < 0]
    return MAD_TO_SIGMA * below.abs().median() if len(below) else torch.tensor(0.0)


def fill_rows(mask: torch.Tensor) -> torch.Tensor:
    """``mask`` (H, W) filled in from the first to the last pixel of each row: a page (convex)
    without the gaps its digit's strokes leave."""
    cols = torch.arange(mask.shape[1])
    first = torch.where(mask, cols, mask.shape[1]).min(1, keepdim=True).values
    last = torch.where(mask, cols, -1).max(1, keepdim=True).values
    return (cols >= first) & (cols <= last)


def edge_step(image: torch.Tensor, region: torch.Tensor, width: int = PAGE_EDGE_RING) -> float:
    """How much brighter ``image`` (H, W) is just inside ``region``'s outline than just outside
    it (the medians of two rings ``width`` pixels wide): a page's edge is a step, fading light is not."""
    inside = region & grey_dilate((~region).float(), width).bool()
    outside = grey_dilate(region.float(), width).bool() & ~region
    if not inside.any() or not outside.any():
        return 0.0
    return float(image[inside].median() - image[outside].median())

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

``prepare`` is the entry point. The steps live by job:
``photo`` (a picture's background: page, light, paper lines, specks), ``canvas`` (a
drawing brought into MNIST's range: dots, stroke width, slant, aspect, two digits) and
``imageops`` (what both use: grey, boxes, connected pieces, resizing, centring).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..data import normalize
from .canvas import MAX_ASPECT, SLANT_RANGE, STROKE_RANGE, drop_dots, fit_box, normalise_stroke, side_by_side, straighten, stroke_width
from .imageops import BOX, FIELD, INK, centre_by_mass, ink_box, to_grayscale
from .photo import crop_to_page, drop_specks, light_on_dark, rulings, shrink
from .pictures import PictureError, read_picture

__all__ = [
    "BOX",
    "FIELD",
    "INK",
    "MAX_ASPECT",
    "NO_DIGIT",
    "SLANT_RANGE",
    "STROKE_RANGE",
    "PictureError",
    "Prepared",
    "centre_by_mass",
    "crop_to_page",
    "drawing_png",
    "drop_dots",
    "drop_specks",
    "fit_box",
    "ink_box",
    "light_on_dark",
    "load_image",
    "normalise_stroke",
    "prepare",
    "read_picture",
    "rulings",
    "shrink",
    "side_by_side",
    "straighten",
    "stroke_width",
    "to_grayscale",
]

NO_DIGIT = "No digit yet: draw one on the canvas."
SMALL_MARK_FRACTION = 0.08  # ink box smaller than this fraction of the image on both sides: a dot, not a digit
SCRIBBLE_INK_FRACTION = 0.45  # more than this fraction of the image inked: a scribble, not a digit
# Within the ink's box, pixels fainter than this are cleared to black: the haze of a
# brush's soft edge or of a photo's paper would otherwise be scaled up with the digit.
CROP_INK = INK / 2


def prepare(image: np.ndarray | Image.Image) -> Prepared:
    """Turn a drawing or picture of one digit into the MNIST-style 28x28 image."""
    found = light_on_dark(crop_to_page(shrink(to_grayscale(image))))
    ink = drop_dots(found)
    mask = ink > INK
    if not mask.any():
        return Prepared(None, message=NO_DIGIT)
    note = "a stray dot left out" if mask.sum() < (found > INK).sum() else None
    rows, cols = ink_box(mask)
    crop = np.where(ink[rows, cols] > CROP_INK, ink[rows, cols], 0.0).astype(np.float32)
    field = centre_by_mass(fit_box(straighten(normalise_stroke(crop))))

    height, width = ink.shape
    warning = flag = None
    if (rows.stop - rows.start) < SMALL_MARK_FRACTION * height and (cols.stop - cols.start) < SMALL_MARK_FRACTION * width:
        warning, flag = "That is a very small mark, not much like a digit: draw the digit larger.", "dot"
    elif mask.mean() > SCRIBBLE_INK_FRACTION:
        warning = (
            "The picture is mostly ink and does not look like one digit: on the canvas, draw just the digit; "
            "crop a photo to the paper around the digit."
        )
        flag = "scribble"
    elif side_by_side(mask):
        warning, flag = "That looks like more than one digit: the models read one digit at a time, so draw just one.", "two digits"
    return Prepared(field, warning=warning, note=note, flag=flag)


def load_image(path: str | Path) -> Image.Image:
    """Open an image file within bounds (``read_picture``): a missing, unreadable, truncated or
    oversized file raises PictureError, a ValueError with a clear message."""
    return read_picture(path)


def drawing_png(image: np.ndarray | Image.Image) -> bytes:
    """A drawing as a greyscale PNG, light strokes on black: a file to keep a drawing in and
    upload again later (it reads back as the same digit)."""
    buffer = io.BytesIO()
    Image.fromarray(np.round(255 * to_grayscale(image)).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class Prepared:
    """A drawing ready for the models, or the reason there is nothing to classify.

    image: 28x28 float array in [0, 1], ink bright (None when blank); message: why there is
    no digit; warning: a digit was found but does not look like one (a dot, a scribble, two
    digits); flag: that warning as a word ("dot", "scribble", "two digits"), kept with a drawing
    in the class set; note: ink the preprocessing left out, so the user knows (a stray dot).
    """

    image: np.ndarray | None
    message: str | None = None
    warning: str | None = None
    note: str | None = None
    flag: str | None = None

    @property
    def has_digit(self) -> bool:
        return self.image is not None

    def tensor(self) -> torch.Tensor:
        """The normalised (1, 1, 28, 28) model input."""
        if self.image is None:
            raise ValueError(self.message or NO_DIGIT)
        return normalize(torch.from_numpy(self.image).float()[None, None])

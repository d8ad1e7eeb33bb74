"""A picture file opened within bounds: refused from its header before it is decoded when it is
larger than a picture of one digit can need, decoded no larger than the preprocessing uses, and
turned upright by its EXIF orientation.

A 0.04 MB PNG can claim 13,300 x 13,300 pixels and cost seconds and gigabytes to decode, so the
size in the header is checked against a pixel budget first (MAX_MEGAPIXELS). A JPEG is decoded at
1/2 to 1/8 of its size by the decoder itself (``draft``), so its budget is larger: a 48-megapixel
phone photo costs less to read than a 12-megapixel PNG. Every other picture is shrunk right after
decoding, by a whole factor, to no less than MAX_SIDE a side (``prepare`` shrinks to exactly
MAX_SIDE), so what is kept is small. Only the first frame of an animation is read. Anything that
goes wrong (not an image, a truncated file, a decompression bomb) is a ``PictureError`` with a
message for the user.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
import struct
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .photo import MAX_SIDE

__all__ = ["DEFAULT_MEGAPIXELS", "FORMATS", "MAX_ASPECT_RATIO", "MAX_MEGAPIXELS", "PictureError", "read_canvas_png", "read_picture"]

# Formats a digit's picture comes in; any other Pillow plugin (and its own bugs) is never reached.
FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")  # a phone's MPO opens as JPEG
FORMAT_NAMES = "PNG, JPEG, GIF, WebP, BMP or TIFF"
# Megapixels a picture of 8 bits a channel may claim in its header, by format: the most that decodes
# in <= 1 s of CPU and <= 300 MB (benchmarks/hostile_inputs.py, docs/hostile-inputs.md). A JPEG is
# decoded at 1/2 to 1/8 of its size (draft): a 48 MP phone photo takes ~0.2 s, a 108 MP one ~0.3 s
# (Pillow itself refuses 179 MP and more). A noisy 36 MP PNG with alpha takes ~0.8 s to inflate (an A4
# page scanned at 600 dpi is 35 MP); Pillow's WebP decoder keeps several full-size copies (~15 MB a
# megapixel). MPO: a JPEG with a second picture in it (a phone's depth map). 16 bits a channel take
# twice the data to inflate and a conversion.
MAX_MEGAPIXELS = {"JPEG": 150, "MPO": 150, "WEBP": 12}
DEFAULT_MEGAPIXELS = 36
BITS_COST = {8: 1, 16: 3, 32: 5}  # a budget is divided by this, by bits a channel (a 40 MP 16-bit PNG: ~2.3 s)
BAND_PIXELS = 2_000_000  # a picture with alpha is shrunk this many pixels at a time
# A picture this many times longer than wide is a strip, not a digit (and would shrink to nothing).
MAX_ASPECT_RATIO = 20
# The modes the preprocessing reads; any other is converted once the picture is small.
KEPT_MODES = ("L", "LA", "RGB", "RGBA")


PNG_URL = "data:image/png;base64,"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RGBA, RGB = 6, 2  # PNG colour types a browser's canvas.toDataURL writes (8 bits a channel)
CANVAS_REFUSED = "That drawing could not be read: clear the canvas and draw again."


class PictureError(ValueError):
    """A picture that was not read, with a message for the user naming why (and the limit, if any)."""


def read_picture(source: bytes | str | Path) -> Image.Image:
    """Open a picture (its bytes or its path) within bounds, upright, its first frame only, in
    mode L, LA, RGB or RGBA, shrunk by a whole factor to no less than MAX_SIDE pixels a side.

    Raises PictureError (a ValueError) with a user-facing message for a missing file, a file that
    is not a picture, a picture larger than its format's pixel budget (checked from its header,
    before decoding) or an extreme strip, and a truncated or otherwise broken file.
    """
    name = Path(source).name if isinstance(source, (str, Path)) else "The file"
    try:
        opened = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source, formats=FORMATS)
    except FileNotFoundError as err:
        raise PictureError(f"{name}: no such file.") from err
    except IsADirectoryError as err:
        raise PictureError(f"{name} is a folder, not a picture.") from err
    except Image.DecompressionBombError as err:  # Pillow's own limit, far above ours, checked as it opens
        claimed = re.search(r"\((\d+) pixels\)", str(err))  # its message is the only place the size is told
        size = f"{int(claimed[1]) / 1e6:,.0f} megapixels" if claimed else f"over {2 * Image.MAX_IMAGE_PIXELS / 1e6:,.0f} megapixels"
        raise PictureError(
            f"{name} is {size}, more than the {max(MAX_MEGAPIXELS.values())} megapixels any picture may have: "
            "send a smaller picture of the digit."
        ) from err
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise PictureError(f"{name} is not a readable image: send a {FORMAT_NAMES} file.") from err
    with opened as image:
        check_size(image, name)
        try:
            return decode(image)
        except Image.DecompressionBombError as err:
            raise PictureError(f"{name} is a decompression bomb ({err}): send a normal picture of the digit.") from err
        except OSError as err:
            if "truncated" in str(err):
                raise PictureError(f"{name} is cut short (truncated): send the whole file again.") from err
            raise PictureError(f"{name} is broken and could not be decoded: send a {FORMAT_NAMES} file.") from err
        except Exception as err:  # a broken file trips Pillow's decoders in many ways; none may reach the user as a traceback
            raise PictureError(f"{name} is broken and could not be decoded: send a {FORMAT_NAMES} file.") from err


def check_size(image: Image.Image, name: str) -> None:
    """Refuse, from the header alone, a picture over its format's pixel budget or an extreme strip."""
    width, height = image.size
    bits = channel_bits(image)
    budget = MAX_MEGAPIXELS.get(image.format or "", DEFAULT_MEGAPIXELS) // BITS_COST[bits]
    if width * height > budget * 1e6:
        kind = f"{bits}-bit {image.format}" if bits > 8 else image.format
        raise PictureError(
            f"{name} is {width:,} x {height:,} pixels ({width * height / 1e6:,.0f} megapixels), more than the "
            f"{budget} megapixels a {kind} picture may have: send a smaller picture of the digit."
        )
    if min(width, height) < 1 or max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise PictureError(
            f"{name} is {width:,} x {height:,} pixels, a strip rather than a picture of a digit "
            f"(at most {MAX_ASPECT_RATIO} times longer than wide): crop it around the digit."
        )


def channel_bits(image: Image.Image) -> int:
    """Bits a channel, from the header: 16 for a 16-bit PNG or TIFF (Pillow's raw mode says so
    even where the mode is 8-bit RGB), 32 for integer or float pictures, else 8."""
    if image.mode in ("I", "F"):
        return 32
    tiles = getattr(image, "tile", None) or []
    return 16 if image.mode.startswith("I;16") or any(";16" in str(tile.args) for tile in tiles) else 8


def decode(image: ImageFile.ImageFile) -> Image.Image:
    """The first frame, decoded no larger than needed, in a kept mode and upright."""
    width, height = image.size
    if image.format in ("JPEG", "MPO") and max(width, height) > MAX_SIDE:
        scale = MAX_SIDE / max(width, height)
        image.draft(None, (math.ceil(width * scale), math.ceil(height * scale)))  # the decoder skips what MAX_SIDE does not need
    image.load()
    exif = image.getexif()  # read from the file's own image: a TIFF keeps its orientation outside info["exif"]
    small = to_kept_mode(image)
    factor = max(small.size) // MAX_SIDE
    small = reduce(small, factor) if factor > 1 else small
    if small is image:
        small = image.copy()  # not tied to the file (a GIF keeps it open for its next frames)
    if exif.get(ImageOps.ExifTags.Base.Orientation, 1) != 1:
        small.info["exif"] = exif.tobytes()
        ImageOps.exif_transpose(small, in_place=True)
    return small


def reduce(image: Image.Image, factor: int) -> Image.Image:
    """``Image.reduce`` a band of rows at a time: for a picture with alpha it makes a premultiplied
    copy of the whole picture first (even of a box of it), which would double the memory it takes."""
    if image.mode not in ("LA", "RGBA"):
        return image.reduce(factor)
    width, height = image.size
    band = factor * max(1, BAND_PIXELS // (width * factor))  # whole blocks of rows
    small = Image.new(image.mode, (math.ceil(width / factor), math.ceil(height / factor)))
    for top in range(0, height, band):
        small.paste(image.crop((0, top, width, min(top + band, height))).reduce(factor), (0, top // factor))
    return small


def to_kept_mode(image: Image.Image) -> Image.Image:
    """L, LA, RGB or RGBA: what the preprocessing reads (16-bit grey scaled down, not clipped to white)."""
    if image.mode in KEPT_MODES:
        return image
    if image.mode.startswith("I;16"):
        # 16-bit grey (a scan, a 16-bit PNG): its high byte; Pillow's own conversion clips at 255, all white
        return Image.fromarray((np.asarray(image) >> 8).astype(np.uint8))
    if image.mode in ("I", "F"):
        values = np.asarray(image)
        top = 1.0 if image.mode == "F" and values.max(initial=0.0) <= 1.0 else 65535.0  # floats in [0, 1], else 16-bit values
        return Image.fromarray((values * (255.0 / top)).clip(0, 255).astype(np.uint8))
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    if image.mode in ("1", "L") or (image.mode in ("P", "PA") and image.palette is not None and image.palette.mode == "L"):
        return image.convert("LA" if has_alpha else "L")
    return image.convert("RGBA" if has_alpha else "RGB")


def read_canvas_png(data_url: str, size: tuple[int, int]) -> np.ndarray:
    """The canvas's drawing, a ``data:image/png;base64,`` URL, as an RGBA uint8 array of shape
    (height, width, 4): accepted only when it is the canvas's own PNG, ``size`` (width, height).

    The browser sends the canvas as a data URL, which anyone can replace with a message of any
    size: its length and its PNG header (the first 33 bytes) are checked before the rest is
    decoded, so an odd value costs nothing. Raises PictureError with a message for the user.
    """
    width, height = size
    # The largest PNG a canvas of this size can be: every row stored uncompressed (a filter byte and
    # 4 bytes a pixel), deflate's 5 bytes per 64 KiB block, and room for a few small chunks.
    longest = 4 * math.ceil((height * (1 + 4 * width) * 1.01 + 4096) / 3) + len(PNG_URL)
    if not data_url.startswith(PNG_URL) or len(data_url) > longest:
        raise PictureError(f"{CANVAS_REFUSED} (It was not the canvas's own {width} x {height} PNG: {len(data_url):,} characters.)")
    try:
        header = base64.b64decode(data_url[len(PNG_URL) : len(PNG_URL) + 44], validate=True)
        signature, chunk, found_width, found_height, depth, colour = struct.unpack(">8s4x4sIIBB", header[:26])
    except (binascii.Error, struct.error) as err:
        raise PictureError(f"{CANVAS_REFUSED} (It was not a PNG.)") from err
    if signature != PNG_SIGNATURE or chunk != b"IHDR":
        raise PictureError(f"{CANVAS_REFUSED} (It was not a PNG.)")
    if (found_width, found_height) != size or depth != 8 or colour not in (RGBA, RGB):
        raise PictureError(
            f"{CANVAS_REFUSED} (It was a {found_width:,} x {found_height:,} PNG of colour type {colour}, {depth} bits, "
            f"not the canvas's own {width} x {height} RGBA PNG.)"
        )
    try:
        with Image.open(io.BytesIO(base64.b64decode(data_url[len(PNG_URL) :], validate=True)), formats=("PNG",)) as image:
            if image.size != size:  # the header was read above; Pillow reads the same one
                raise PictureError(f"{CANVAS_REFUSED} (It was {image.size[0]} x {image.size[1]}, not {width} x {height}.)")
            array = np.asarray(image.convert("RGBA"))
    except PictureError:
        raise
    except Exception as err:  # a broken PNG trips Pillow's decoder in many ways; none may reach the user as a traceback
        raise PictureError(f"{CANVAS_REFUSED} (Its PNG is broken.)") from err
    return array

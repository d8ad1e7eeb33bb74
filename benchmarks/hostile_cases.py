"""The hostile inputs of ``benchmarks.hostile_inputs``, each made on the fly (nothing big is kept
in the repository), and the read paths as they were before bounded input (issue 25), to measure
against."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent


MNIST_DIR = Path(os.environ.get("MNIST_SMALL_TEST_DATA", ROOT.parent / "shared" / "mnist"))


CANVAS = 280


SEVEN = 7


def seven() -> np.ndarray:
    """A handwritten 7, light on black, 28x28 uint8: MNIST's first test digit, or a drawn one without MNIST."""
    from mnist_small.data import find_raw_files, read_idx

    files = find_raw_files(MNIST_DIR)
    if files is not None:
        return read_idx(files["test_images"])[0]
    ink = Image.new("L", (28, 28))
    ImageDraw.Draw(ink).line([(6, 6), (21, 6), (12, 23)], fill=255, width=3)
    return np.asarray(ink)


def on_paper(size: tuple[int, int], digit_share: float = 0.5, noise: float = 3.0, seed: int = 0) -> Image.Image:
    """A photo-like picture of the 7: dark ink on light paper with soft light and sensor noise."""
    width, height = size
    rng = np.random.default_rng(seed)
    side = int(min(size) * digit_share)
    digit = np.asarray(Image.fromarray(seven()).resize((side, side), Image.BILINEAR), dtype=np.float32) / 255
    paper = np.full((height, width), 215.0, dtype=np.float32)
    paper += np.linspace(-15, 15, width, dtype=np.float32)[None, :]
    top, left = (height - side) // 2, (width - side) // 2
    paper[top : top + side, left : left + side] -= 170 * digit
    paper += rng.normal(0, noise, (height, width)).astype(np.float32)
    grey = np.clip(paper, 0, 255).astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")


def big_digit(size: tuple[int, int], mode: str = "L") -> Image.Image:
    """A flat picture of the 7 (no noise, so the file stays small whatever its size)."""
    side = min(size) // 2
    image = Image.new("L", size, 255)
    image.paste(Image.fromarray(255 - seven()).resize((side, side), Image.NEAREST), ((size[0] - side) // 2, (size[1] - side) // 2))
    return image.convert(mode)


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def canvas_drawing() -> Image.Image:
    """The 7 as the canvas draws it: white strokes on a transparent 280x280 RGBA canvas."""
    ink = Image.fromarray(seven()).resize((200, 200), Image.BILINEAR)
    rgba = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
    rgba.paste(Image.merge("RGBA", (ink, ink, ink, ink.point(lambda v: 255 if v else 0))), (40, 40))
    return rgba


def data_url(png: bytes) -> bytes:
    return b"data:image/png;base64," + base64.b64encode(png)


def huge_png() -> bytes:
    return encoded(Image.new("L", (13_300, 13_300)), "PNG")  # 0.04 MB; black: no digit


def huge_png_digit() -> bytes:
    return encoded(big_digit((13_300, 13_300), "RGB"), "PNG")  # the sidebar upload of the issue


def bomb_png() -> bytes:
    return encoded(Image.new("1", (20_000, 20_000)), "PNG")  # 400 MP: over Pillow's own bomb limit


def phone_jpeg() -> bytes:
    return encoded(on_paper((8000, 6000)), "JPEG", quality=90)  # a 48 MP phone photo


def phone_jpeg_108() -> bytes:
    return encoded(on_paper((12_000, 9000)), "JPEG", quality=90)  # a 108 MP phone's full-size mode


def huge_jpeg() -> bytes:
    return encoded(Image.new("L", (16_320, 12_240), 255), "JPEG", quality=50)  # a 200 MP phone's mode, as a small file


def png_48() -> bytes:
    return encoded(on_paper((8000, 6000)), "PNG", compress_level=1)


def png_48_flat() -> bytes:
    return encoded(big_digit((8000, 6000), "RGBA"), "PNG")


def png_36_flat() -> bytes:
    return encoded(big_digit((6930, 5190), "RGBA"), "PNG")  # within the app's 5 MB upload limit


def webp_lossless_12() -> bytes:
    return encoded(on_paper((4000, 3000)), "WEBP", lossless=True, method=0)  # the slowest WebP: lossless, 12 MP


def grey16_png_40() -> bytes:
    rng = np.random.default_rng(1)
    grey = np.asarray(on_paper((7300, 5480)).convert("L"), dtype=np.uint16) * 257 + rng.integers(0, 256, (5480, 7300), dtype=np.uint16)
    return encoded(Image.fromarray(grey), "PNG", compress_level=1)  # a 16-bit scan


def rgba_png_36() -> bytes:
    return encoded(on_paper((6930, 5190)).convert("RGBA"), "PNG", compress_level=1)  # just under the 36 MP budget


def scan_png_36() -> bytes:
    return encoded(on_paper((7000, 5000), noise=2.0), "PNG", compress_level=1)  # a page scanned at 600 dpi


def tall_png() -> bytes:
    return encoded(big_digit((300, 9000)), "PNG")  # a 1:30 strip


def animated_gif() -> bytes:
    frame = big_digit((400, 400))
    frames = [frame.rotate(0.72 * i, fillcolor=255) for i in range(500)]
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=20, loop=0)


def grey16_png() -> bytes:
    grey = (np.asarray(big_digit((600, 600)), dtype=np.uint16) * 257).astype(np.uint16)
    return encoded(Image.fromarray(grey), "PNG")  # 16-bit grey: Pillow's own conversion reads it all white


def cmyk_jpeg() -> bytes:
    return encoded(big_digit((600, 600), "RGB").convert("CMYK"), "JPEG", quality=90)


def palette_png() -> bytes:
    drawing = canvas_drawing().convert("RGBA")
    return encoded(drawing.convert("P", palette=Image.Palette.ADAPTIVE), "PNG", transparency=0)


def truncated_png() -> bytes:
    data = encoded(on_paper((1200, 900)), "PNG")
    return data[: len(data) // 2]


def not_an_image() -> bytes:
    return np.random.default_rng(0).bytes(200_000)


def sideways_jpeg() -> bytes:
    """A phone held sideways stores the 7 lying on its side, and says in EXIF how to turn it upright."""
    exif = Image.Exif()
    exif[0x0112] = 8  # Orientation 8: turn the stored picture 90 degrees anticlockwise to show it
    return encoded(on_paper((1600, 1200)).transpose(Image.Transpose.ROTATE_270), "JPEG", quality=90, exif=exif)


def webp_photo() -> bytes:
    return encoded(on_paper((3000, 2000)), "WEBP", quality=80)


def canvas_normal() -> bytes:
    return data_url(encoded(canvas_drawing(), "PNG"))


def canvas_hidpi() -> bytes:
    return data_url(encoded(canvas_drawing().resize((3 * CANVAS, 3 * CANVAS)), "PNG"))  # if a phone sent its device pixels


def canvas_11mb() -> bytes:
    """An ~11 MB hand-made message: a 3200 x 3200 drawing of the 7 whose black background carries
    faint noise, so that its PNG (and the greyscale PNG the class set keeps) hardly compresses."""
    side = 3200
    ink = np.asarray(Image.fromarray(seven()).resize((side * 2 // 3, side * 2 // 3), Image.BILINEAR))
    grey = np.random.default_rng(0).integers(0, 8, (side, side), dtype=np.uint8)
    top = side // 6
    grey[top : top + ink.shape[0], top : top + ink.shape[1]] = np.maximum(grey[top : top + ink.shape[0], top : top + ink.shape[1]], ink)
    rgba = np.dstack([grey, grey, grey, np.full_like(grey, 255)])
    return data_url(encoded(Image.fromarray(rgba, "RGBA"), "PNG", compress_level=1))


def canvas_huge_png() -> bytes:
    return data_url(encoded(Image.new("L", (13_300, 13_300)), "PNG"))  # 0.06 MB of text, 177 MP


def canvas_jpeg() -> bytes:
    return b"data:image/png;base64," + base64.b64encode(encoded(canvas_drawing().convert("RGB"), "JPEG"))


@dataclass(frozen=True)
class Case:
    name: str
    what: str  # for the table
    make: Callable[[], bytes]
    kind: str = "picture"  # or "canvas": a data URL
    digit: int | None = SEVEN  # the digit in it, to count the models that read it
    paths: tuple[str, ...] = ("app upload", "cli predict")


CANVAS_PATHS = ("app canvas",)


CASES = [
    Case("normal-photo", "normal phone photo, 12 MP JPEG (for scale)", lambda: encoded(on_paper((4000, 3000)), "JPEG", quality=90)),
    Case("huge-png", "13,300 x 13,300 black PNG (the issue's 0.04 MB one)", huge_png, digit=None),
    Case("huge-png-digit", "13,300 x 13,300 PNG of a 7, RGB (the issue's sidebar upload)", huge_png_digit),
    Case("bomb-png", "decompression bomb: 20,000 x 20,000 1-bit PNG", bomb_png, digit=None),
    Case("jpeg-48mp", "48 MP JPEG phone photo (8000 x 6000)", phone_jpeg),
    Case("jpeg-108mp", "108 MP JPEG phone photo (12,000 x 9,000)", phone_jpeg_108),
    Case("jpeg-200mp", "200 MP JPEG (16,320 x 12,240, white)", huge_jpeg, digit=None),
    Case("png-48mp", "48 MP PNG photo (8000 x 6000, noisy)", png_48),
    Case("png-48mp-flat", "48 MP PNG, RGBA, flat (small file)", png_48_flat),
    Case("png-35mp-scan", "35 MP PNG (an A4 page at 600 dpi)", scan_png_36),
    Case("png-36mp-rgba", "36 MP PNG photo with alpha (noisy)", rgba_png_36),
    Case("png-36mp-flat", "36 MP PNG with alpha, flat (small file)", png_36_flat),
    Case("png-16bit-40mp", "40 MP 16-bit grey PNG (noisy)", grey16_png_40),
    Case("webp-6mp", "6 MP WebP photo", webp_photo),
    Case("webp-12mp", "12 MP lossless WebP (noisy)", webp_lossless_12),
    Case("tall-png", "very tall, thin PNG (300 x 9,000)", tall_png),
    Case("gif-500-frames", "animated GIF, 500 frames of 400 x 400", animated_gif),
    Case("png-16bit", "16-bit grey PNG", grey16_png),
    Case("jpeg-cmyk", "CMYK JPEG", cmyk_jpeg),
    Case("png-palette", "palette PNG with a transparent background", palette_png),
    Case("truncated", "truncated PNG (half the file)", truncated_png, digit=None),
    Case("not-image", "200 kB of random bytes", not_an_image, digit=None),
    Case("exif-sideways", "photo of a 7 taken sideways (EXIF Orientation=8)", sideways_jpeg),
    Case("canvas-normal", "canvas value: the canvas's own 280 x 280 PNG (for scale)", canvas_normal, "canvas", paths=CANVAS_PATHS),
    Case("canvas-3x", "canvas value: 840 x 840 PNG (a phone's device pixels)", canvas_hidpi, "canvas", paths=CANVAS_PATHS),
    Case("canvas-11mb", "canvas value: an 11 MB hand-made message (3200 x 3200, a 7)", canvas_11mb, "canvas", paths=CANVAS_PATHS),
    Case("canvas-huge", "canvas value: 13,300 x 13,300 PNG in 0.06 MB", canvas_huge_png, "canvas", digit=None, paths=CANVAS_PATHS),
    Case("canvas-jpeg", "canvas value: a JPEG labelled PNG", canvas_jpeg, "canvas", paths=CANVAS_PATHS),
]


def old_load_image(path: str | Path) -> Image.Image:
    """mnist_small.preprocess.load_image before bounded input."""
    from PIL import UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            return img
    except FileNotFoundError as err:
        raise ValueError(f"{path}: no such file") from err
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"{path}: not a readable image ({err})") from err


def old_read_upload(data: bytes, name: str):
    """views.draw.read_upload before bounded input (without its cache)."""
    from mnist_small.preprocess import Prepared, prepare

    try:
        with Image.open(io.BytesIO(data)) as image:
            return prepare(image)
    except Exception:
        return Prepared(None, message=f"{name} could not be read as an image: upload a PNG or JPEG photo of one digit.")


def old_image_data(url: str) -> np.ndarray:
    """streamlit_drawable_canvas's CanvasResult.image_data: decodes the data URL at every access."""
    _, encoded_png = url.split(";base64,", 1)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded_png))))

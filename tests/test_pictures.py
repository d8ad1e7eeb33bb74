"""Bounded input: pictures refused from their header before decoding, decoded small, turned upright;
broken files reported per file; the canvas value accepted only in the canvas's own shape."""

from __future__ import annotations

import base64
import io
import json
import re
import struct
import sys
import types
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, JpegImagePlugin

from mnist_small.preprocess import NO_DIGIT, PictureError, load_image, pictures, prepare, read_picture
from mnist_small.preprocess.photo import MAX_SIDE
from mnist_small.preprocess.pictures import DEFAULT_MEGAPIXELS, read_canvas_png

from .apptest import run_app
from .conftest import draw_on_canvas, run_cli

CANVAS = (280, 280)
SEVEN = 0  # MNIST's first test digit is a 7


def png_bytes(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def png_claiming(width: int, height: int, bits: int = 8) -> bytes:
    """A small grey PNG whose header claims ``width`` x ``height`` pixels: its data is a few bytes,
    as a hostile file's would be, and decoding it would allocate the full claimed size."""
    ihdr = struct.pack(">IIBBBBB", width, height, bits, 0, 0, 0, 0)
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))  # noqa: E731
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")


def seven_on_paper(mnist, size: tuple[int, int] = (1200, 900)) -> Image.Image:
    """The 7 dark on light paper, photo-sized."""
    digit = Image.fromarray(255 - mnist.test_images[SEVEN, 0].numpy()).resize((min(size) // 2,) * 2, Image.BILINEAR)
    page = Image.new("L", size, 255)
    page.paste(digit, ((size[0] - digit.width) // 2, (size[1] - digit.height) // 2))
    return page.convert("RGB")


def sideways(image: Image.Image) -> tuple[Image.Image, Image.Exif]:
    """The picture as a phone held sideways stores it, and the EXIF that says how to show it upright."""
    exif = Image.Exif()
    exif[0x0112] = 8  # Orientation 8: turn 90 degrees anticlockwise to show
    return image.transpose(Image.Transpose.ROTATE_270), exif


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every ImageFile.load call, by format: a refused picture must never be decoded."""
    calls: list[str] = []
    original = ImageFile.ImageFile.load

    def spy(self):
        calls.append(self.format)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    return calls


@pytest.mark.parametrize(("width", "height"), [(20_000, 20_000), (13_300, 13_300), (9000, 7000)])
def test_an_oversized_picture_is_refused_from_its_header_without_decoding(loads, width, height):
    data = png_claiming(width, height)
    with pytest.raises(PictureError) as refused:
        read_picture(data)
    message = str(refused.value)
    if width * height > 2 * Image.MAX_IMAGE_PIXELS:  # Pillow's own check comes first, and tells only the pixel count
        assert f"is {width * height / 1e6:,.0f} megapixels, more than the" in message
    else:
        assert f"{width:,} x {height:,} pixels" in message and f"the {DEFAULT_MEGAPIXELS} megapixels a PNG picture may have" in message
    assert loads == []


def test_a_picture_within_the_budget_is_decoded_and_shrunk_by_a_whole_factor(loads):
    image = read_picture(png_bytes(Image.new("RGB", (3300, 2000), "white")))
    assert set(loads) == {"PNG"}
    assert image.size == (825, 500)  # a quarter: the preprocessing shrinks to MAX_SIDE itself
    assert image.mode == "RGB"
    small = read_picture(png_bytes(Image.new("L", (500, 400))))
    assert small.size == (500, 400)


def test_a_16_bit_picture_has_a_smaller_budget(loads):
    budget = DEFAULT_MEGAPIXELS // 3  # a third: 16 bits a channel are twice the data to inflate, and converted
    with pytest.raises(
        PictureError, match=re.escape(f"5,000 x 4,000 pixels (20 megapixels), more than the {budget} megapixels a 16-bit PNG")
    ):
        read_picture(png_claiming(5000, 4000, bits=16))
    assert loads == []
    with pytest.raises(PictureError, match=r"cut short|broken"):  # the same size in 8 bits is within budget: decoded (and broken)
        read_picture(png_claiming(5000, 4000, bits=8))
    assert loads == ["PNG"]


def test_a_picture_with_alpha_is_shrunk_a_band_at_a_time_as_in_one_go(monkeypatch):
    monkeypatch.setattr(pictures, "BAND_PIXELS", 50_000)  # many bands, the last one short
    rng = np.random.default_rng(0)
    for mode in ("RGBA", "LA"):
        image = Image.fromarray(rng.integers(0, 256, (1003, 2411, 4), dtype=np.uint8), "RGBA").convert(mode)
        for factor in (2, 3, 7):
            assert np.array_equal(np.asarray(pictures.reduce(image, factor)), np.asarray(image.reduce(factor))), (mode, factor)


def test_a_strip_is_refused(loads):
    with pytest.raises(PictureError, match="strip"):
        read_picture(png_claiming(300, 9000))
    assert loads == []


def test_jpeg_is_decoded_small_by_the_decoder(monkeypatch, mnist):
    drafts = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        drafts.append(size)
        return original(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    buffer = io.BytesIO()
    seven_on_paper(mnist, (4000, 3000)).save(buffer, format="JPEG")
    image = read_picture(buffer.getvalue())
    assert drafts == [(MAX_SIDE, MAX_SIDE * 3 // 4)]
    assert image.size == (1000, 750)  # decoded at 1/4: the largest scale that keeps MAX_SIDE
    assert prepare(image).has_digit


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_sideways_photo_is_turned_upright_by_its_exif(mnist, fmt):
    upright = seven_on_paper(mnist)
    stored, exif = sideways(upright)
    buffer = io.BytesIO()
    stored.save(buffer, format=fmt, exif=exif, **({"quality": 95} if fmt == "JPEG" else {}))
    turned = read_picture(buffer.getvalue())
    assert turned.size == upright.size
    assert turned.getexif().get(0x0112) is None  # the orientation is applied once, not again downstream
    if fmt == "PNG":
        assert np.array_equal(np.asarray(turned), np.asarray(upright))
    np.testing.assert_allclose(prepare(turned).image, prepare(upright).image, atol=0.05)
    assert not np.allclose(prepare(stored).image, prepare(upright).image, atol=0.05)  # the stored one is not upright


def test_a_large_sideways_jpeg_is_shrunk_and_turned(mnist):
    stored, exif = sideways(seven_on_paper(mnist, (4000, 3000)))
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", exif=exif)
    assert read_picture(buffer.getvalue()).size == (1000, 750)


def test_a_decompression_bomb_is_a_picture_error(monkeypatch):
    data = png_bytes(Image.new("L", (100, 100)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow's own limit, so that a small file trips it
    with pytest.raises(PictureError, match="megapixels"):
        read_picture(data)


def test_broken_files_are_picture_errors_with_a_message(tmp_path):
    whole = png_bytes(Image.effect_noise((600, 400), 60).convert("RGB"))
    with pytest.raises(PictureError, match="truncated"):
        read_picture(whole[: len(whole) // 2])
    with pytest.raises(PictureError, match="not a readable image"):
        read_picture(b"these are not the pixels you are looking for")
    with pytest.raises(PictureError, match="no such file"):
        read_picture(tmp_path / "missing.png")
    with pytest.raises(PictureError, match="is a folder"):
        read_picture(tmp_path)
    svg = b"<svg xmlns='http://www.w3.org/2000/svg'/>"
    with pytest.raises(PictureError, match="not a readable image"):
        read_picture(svg)


def test_only_the_first_frame_of_an_animation_is_read(tmp_path):
    first, second = Image.new("L", (64, 64), 0), Image.new("L", (64, 64), 255)
    path = tmp_path / "two.gif"
    first.save(path, save_all=True, append_images=[second])
    image = read_picture(path)
    assert np.asarray(image.convert("L")).max() == 0
    assert getattr(image, "fp", None) is None  # not tied to the file: nothing is left open


def test_odd_modes_are_read_as_their_picture(mnist):
    digit = 255 - mnist.test_images[SEVEN, 0].numpy()  # dark ink on white
    reference = prepare(Image.fromarray(digit).resize((300, 300))).image
    grey16 = read_picture(png_bytes(Image.fromarray(digit.astype(np.uint16) * 257).resize((300, 300))))
    assert grey16.mode == "L"  # Pillow's own conversion of 16-bit grey clips it all to white
    np.testing.assert_allclose(prepare(grey16).image, reference, atol=0.01)
    cmyk = io.BytesIO()
    Image.fromarray(digit).resize((300, 300)).convert("CMYK").save(cmyk, format="JPEG", quality=95)
    from_cmyk = read_picture(cmyk.getvalue())
    assert from_cmyk.mode == "RGB"
    np.testing.assert_allclose(prepare(from_cmyk).image, reference, atol=0.05)
    # a palette picture with a transparent background (what an image editor saves): the transparency is kept
    drawing = draw_on_canvas(mnist.test_images[SEVEN, 0].numpy())
    palette = read_picture(png_bytes(Image.fromarray(drawing[..., 0]).convert("P"), transparency=0))
    assert palette.mode == "RGBA"
    np.testing.assert_array_equal(prepare(palette).image, prepare(drawing).image)


def test_load_image_goes_through_the_bounded_reader(tmp_path, loads):
    path = tmp_path / "huge.png"
    path.write_bytes(png_claiming(20_000, 20_000))
    with pytest.raises(PictureError, match=r"huge\.png is 400 megapixels"):
        load_image(path)
    assert loads == []


def test_predict_reports_bad_files_and_goes_on_with_the_others(tmp_path, mnist):
    upright = seven_on_paper(mnist)
    stored, exif = sideways(upright)
    files = {
        "seven.png": png_bytes(upright),
        "bomb.png": png_claiming(20_000, 20_000),  # over Pillow's own limit: a traceback that ended the batch
        "huge.png": png_claiming(13_300, 13_300),
        "cut.png": png_bytes(upright)[:2000],
        "text.png": b"hello",
        "sideways.png": png_bytes(stored, exif=exif),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    proc = run_cli("predict", *(str(tmp_path / name) for name in files), "--json")
    assert proc.returncode == 1, proc.stderr  # some files failed
    assert "Traceback" not in proc.stderr
    results = {Path(entry["file"]).name: entry for entry in json.loads(proc.stdout)}
    assert list(results) == list(files)
    for bad in ("bomb.png", "huge.png", "cut.png", "text.png"):
        assert results[bad]["models"] == {} and results[bad]["message"], bad
    assert "400 megapixels" in results["bomb.png"]["message"] and "13,300 x 13,300" in results["huge.png"]["message"]
    assert "truncated" in results["cut.png"]["message"]
    for good in ("seven.png", "sideways.png"):
        labels = [out["label"] for out in results[good]["models"].values()]
        assert labels and labels.count(7) >= len(labels) - 1, (good, labels)


# -- the canvas value


def canvas_url(image: Image.Image) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode()


def test_the_canvas_value_is_read_in_the_canvas_shape(mnist):
    drawing = draw_on_canvas(mnist.test_images[SEVEN, 0].numpy())
    array = read_canvas_png(canvas_url(Image.fromarray(drawing, "RGBA")), CANVAS)
    assert array.shape == (280, 280, 4) and np.array_equal(array, drawing)


@pytest.mark.parametrize(
    ("value", "decoded"),
    [
        (canvas_url(Image.new("RGBA", (840, 840))), False),  # a phone's device pixels
        (canvas_url(Image.new("L", CANVAS)), False),
        (canvas_url(Image.new("RGBA", (280, 281))), False),
        ("data:image/png;base64," + base64.b64encode(b"\xff\xd8\xff" + bytes(500)).decode(), False),  # a JPEG
        ("data:image/jpeg;base64,AAAA", False),
        ("data:image/png;base64," + "A" * 1_000_000, False),  # longer than any 280 x 280 PNG can be
        ("data:image/png;base64,!!!!" + "A" * 100, False),
        (canvas_url(Image.effect_noise(CANVAS, 50).convert("RGBA"))[:2022], True),  # the canvas's own header, cut short
    ],
)
def test_an_odd_canvas_value_is_refused(value, decoded, loads):
    with pytest.raises(PictureError, match="That drawing could not be read"):
        read_canvas_png(value, CANVAS)
    assert set(loads) == ({"PNG"} if decoded else set())  # only a value whose header is the canvas's own is decoded


def test_the_app_refuses_an_odd_canvas_value_and_keeps_nothing(mnist):
    """views.tabs.draw.read_canvas on the component's raw value: refused, with a message, no drawing to store."""
    from views.tabs.draw import read_canvas

    good = canvas_url(Image.fromarray(draw_on_canvas(mnist.test_images[SEVEN, 0].numpy()), "RGBA"))
    drawing, image = read_canvas(types.SimpleNamespace(_image_data_url=good))
    assert drawing.has_digit and image.shape == (280, 280, 4)
    big = canvas_url(Image.fromarray(draw_on_canvas(mnist.test_images[SEVEN, 0].numpy(), canvas=840, size=600), "RGBA"))
    drawing, image = read_canvas(types.SimpleNamespace(_image_data_url=big))
    assert not drawing.has_digit and image is None
    assert "840 x 840" in drawing.message and "280 x 280" in drawing.message
    drawing, image = read_canvas(
        types.SimpleNamespace(image_data=np.zeros((560, 560, 4), np.uint8))
    )  # an array, as the tests' stand-in hands
    assert not drawing.has_digit and image is None and "could not be read" in drawing.message
    drawing, image = read_canvas(types.SimpleNamespace(_image_data_url=["not", "a", "URL"]))
    assert not drawing.has_digit and image is None and "could not be read" in drawing.message
    drawing, image = read_canvas(types.SimpleNamespace(_image_data_url=None, image_data=None))  # an empty canvas
    assert drawing.message == NO_DIGIT and image is None


def test_the_draw_tab_shows_a_refused_canvas_value_and_offers_nothing_to_keep(monkeypatch, mnist, tmp_path):
    big = canvas_url(Image.fromarray(draw_on_canvas(mnist.test_images[SEVEN, 0].numpy(), canvas=840, size=600), "RGBA"))
    component = types.ModuleType("streamlit_drawable_canvas")
    component.st_canvas = lambda **kwargs: types.SimpleNamespace(_image_data_url=big, json_data=None)
    monkeypatch.setitem(sys.modules, "streamlit_drawable_canvas", component)
    monkeypatch.setenv("MNIST_SMALL_DB", f"sqlite:///{tmp_path / 'class.db'}")
    at = run_app()
    assert not at.exception
    assert any("That drawing could not be read" in w.value and "840 x 840" in w.value for w in at.warning)
    assert not at.sidebar.get("download_button") and not [b for b in at.button if b.key == "class_add"]


def test_an_upload_is_refused_from_its_header_and_shown_small(mnist, loads):
    from views.tabs.draw import PREVIEW_WIDTH, read_upload

    drawing, preview = read_upload(png_claiming(20_000, 20_000), "huge.png")
    assert not drawing.has_digit and preview is None and loads == []
    assert drawing.message.startswith("huge.png is 400 megapixels")
    drawing, preview = read_upload(png_bytes(seven_on_paper(mnist, (3000, 2000))), "seven.png")
    assert drawing.has_digit
    assert Image.open(io.BytesIO(preview)).size == (PREVIEW_WIDTH, 90)  # st.image shows this, not the 6 MP upload

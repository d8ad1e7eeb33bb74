"""prepare() and its steps: the entry point and its result, photos of paper (photo.py),
canvas drawings (canvas.py) and the connected pieces both look for (imageops.py)."""

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter

from benchmarks.preprocess_latency import canvas_of as strokes_on_canvas
from benchmarks.preprocess_latency import spiral, zigzag
from mnist_small.preprocess import BOX, INK, Prepared, ink_box, load_image, prepare, straighten, to_grayscale
from mnist_small.preprocess.canvas import DOT_SEARCH_SIDE, drop_dots
from mnist_small.preprocess.imageops import average_pool, connected_pieces, grey_dilate, search_copy
from mnist_small.preprocess.photo import crop_to_page, light_on_dark

from .conftest import draw_on_canvas, paper_photo, tap


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(float).ravel(), b.astype(float).ravel()
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


SEVEN_WITH_CROSSBAR = [[(70, 50), (210, 50), (120, 240)], [(110, 140), (190, 140)]]
TWO_STROKE_FOUR = [[(120, 40), (70, 170), (210, 170)], [(170, 90), (165, 250)]]
ONE = [[(150, 40), (140, 245)]]


@pytest.fixture(scope="module")
def shipped():
    from mnist_small.checkpoints import load_all

    from .conftest import CHECKPOINTS

    models, _ = load_all(CHECKPOINTS)
    if not models:
        pytest.skip("no shipped checkpoints")
    return models


def votes(models, canvas) -> list[int]:
    from mnist_small.inference import all_probabilities

    prepared = prepare(canvas)
    assert prepared.has_digit and prepared.warning is None
    return [int(p.argmax()) for p in all_probabilities(models, prepared.tensor()).values()]


# ---- prepare: the entry point, its result, image files -----------------------------------


@pytest.mark.parametrize("index", [0, 1, 2, 3, 4, 7, 11, 18])
def test_large_off_centre_canvas_digit_comes_back_like_the_original(mnist, index):
    """Test digits 7 and 18 (a 9 and a 3) lean 29-30 degrees to the left, beyond MNIST's
    usual slant: they come back straightened, like the original sheared to the range."""
    original = mnist.test_images[index, 0].numpy()
    rgba = draw_on_canvas(original, size=210, top=60, left=10)
    prepared = prepare(rgba)
    assert prepared.has_digit and prepared.warning is None
    assert prepared.image.shape == (28, 28)
    expected = original / 255.0 if index not in (7, 18) else prepare(straighten(original / 255.0)).image
    assert similarity(prepared.image, expected) > 0.85


def test_output_is_centred_and_fills_the_mnist_box(mnist):
    prepared = prepare(draw_on_canvas(mnist.test_images[0, 0].numpy(), size=120, top=150, left=150))
    ink = prepared.image
    rows, cols = np.nonzero(ink > 0.05)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 in (BOX - 1, BOX, BOX + 1)
    com = np.array([(ink.sum(1) * np.arange(28)).sum(), (ink.sum(0) * np.arange(28)).sum()]) / ink.sum()
    assert np.all(np.abs(com - 14.0) <= 0.75)


@pytest.mark.parametrize(
    "canvas",
    [
        np.zeros((280, 280, 4), np.uint8),  # transparent, as the canvas starts
        np.dstack([np.zeros((280, 280, 3), np.uint8), np.full((280, 280), 255, np.uint8)]),  # opaque black
        np.full((100, 80), 255, np.uint8),  # white paper, grey
        np.full((50, 50, 3), 128, np.uint8),  # flat grey
    ],
)
def test_blank_images_are_no_digit(canvas):
    prepared = prepare(canvas)
    assert not prepared.has_digit and prepared.message
    with pytest.raises(ValueError):
        prepared.tensor()


def test_dark_on_light_and_rgb_match_light_on_dark(mnist):
    digit = mnist.test_images[0, 0].numpy()
    rgba = draw_on_canvas(digit)
    light = prepare(rgba).image
    paper = 255 - rgba[..., 0]  # black ink on white paper, grey
    assert similarity(prepare(paper).image, light) > 0.99
    rgb = np.repeat(rgba[..., :1], 3, axis=2)
    assert similarity(prepare(rgb).image, light) > 0.99
    dark_strokes_on_transparent = np.dstack([np.zeros_like(rgba[..., :3]), rgba[..., 0]])
    assert similarity(prepare(dark_strokes_on_transparent).image, light) > 0.99


def test_a_dot_and_a_filled_canvas_are_flagged():
    dot = np.zeros((280, 280), np.uint8)
    dot[130:145, 130:145] = 255
    assert prepare(dot).has_digit and "small" in prepare(dot).warning
    scribble = np.zeros((280, 280), np.uint8)
    scribble[20:260, 20:260] = 255
    scribble[::40] = 0
    assert prepare(scribble).has_digit and "mostly ink" in prepare(scribble).warning


def test_tensor_is_normalised_like_training():
    image = np.zeros((28, 28), np.float32)
    tensor = Prepared(image).tensor()
    assert tensor.shape == (1, 1, 28, 28)
    assert tensor.min().item() == pytest.approx(-0.1307 / 0.3081, abs=1e-4)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_a_tight_crop_dark_on_light_reads_like_light_on_dark(mnist, index):
    """Ink covering part of the border is not uneven paper: no photo clean-up, whichever way round."""
    digit = mnist.test_images[index, 0].numpy()
    rows, cols = np.nonzero(digit > 30)
    crop = digit[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    np.testing.assert_allclose(prepare(255 - crop).image, prepare(crop).image, atol=1e-5)


def test_image_files(tmp_path, mnist):
    path = tmp_path / "digit.png"
    Image.fromarray(255 - mnist.test_images[0, 0].numpy()).resize((300, 300)).save(path)
    assert prepare(load_image(path)).has_digit
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="not a readable image"):
        load_image(tmp_path / "broken.png")
    with pytest.raises(ValueError, match="no such file"):
        load_image(tmp_path / "missing.png")


def test_rejects_non_image_arrays():
    with pytest.raises(ValueError, match="expected an image array"):
        to_grayscale(np.zeros((4, 4, 7)))


@pytest.mark.parametrize("lines", [SEVEN_WITH_CROSSBAR, TWO_STROKE_FOUR])
def test_a_saved_drawing_reads_back_as_the_same_digit(lines):
    from mnist_small.preprocess import drawing_png

    canvas = tap(strokes_on_canvas(lines), 20, 260)
    saved = Image.open(io.BytesIO(drawing_png(canvas)))
    assert saved.mode == "L" and saved.size == (280, 280)
    again, first = prepare(saved), prepare(canvas)
    assert similarity(again.image, first.image) > 0.999
    assert (again.warning, again.note) == (first.warning, first.note)


def test_names_other_modules_import_stay_importable():
    """The app, drawn MNIST, the command line and the benchmarks import these from the package
    itself, whichever of its modules they live in."""
    import mnist_small.preprocess as preprocess

    for name in ("prepare", "Prepared", "NO_DIGIT", "drawing_png", "load_image", "ink_box", "to_grayscale", "BOX", "INK", "FIELD"):
        assert hasattr(preprocess, name), name
    assert all(hasattr(preprocess, name) for name in preprocess.__all__)


# ---- photos of paper: the page, its light, printed lines, specks (photo.py) --------------


@pytest.mark.parametrize("tilt", [0, 8])
def test_a_page_photographed_on_a_dark_desk_reads_as_on_paper_alone(mnist, shipped, tilt):
    """The desk around the page would read as ink (after the flip, it is the brightest part)."""
    page = paper_photo(mnist.test_images[0, 0].numpy(), 600, seed=1)  # test digit 0 is a 7
    desk = np.random.default_rng(0).normal(50, 8, (800, 1000, 3)).clip(0, 255).astype(np.uint8)
    photo = Image.fromarray(desk)
    turned = page.convert("RGBA").rotate(tilt, expand=True)
    photo.paste(turned, ((1000 - turned.width) // 2, (800 - turned.height) // 2), turned)
    if not tilt:
        assert similarity(prepare(photo).image, prepare(page).image) > 0.95
    got = votes(shipped, photo)
    assert got.count(7) >= 0.75 * len(got), got


@pytest.mark.parametrize(("index", "tilt"), [(3, 0), (18, 0), (3, 6), (7, 6)])
def test_a_page_on_a_light_grey_desk_is_found_where_its_shadowed_corner_is_as_grey(mnist, shipped, index, tilt):
    """The page's light falls off to the desk's grey in its far corner: the page still counts as
    one (judged by its brighter part), and the digit's strokes are not gaps in it."""
    page = paper_photo(mnist.test_images[index, 0].numpy(), 600, seed=index)
    grey = round(255 * 0.6)
    turned = page.resize((640, 480)).rotate(tilt, expand=True, fillcolor=(grey,) * 3)
    photo = np.full((600, 800, 3), grey, np.float32)
    top, left = (600 - turned.height) // 2, (800 - turned.width) // 2
    photo[top : top + turned.height, left : left + turned.width] = np.asarray(turned)
    desk = (photo == grey).all(axis=2)
    photo[desk] += np.random.default_rng(index).normal(0, 6, (desk.sum(), 1))
    photo = Image.fromarray(photo.clip(0, 255).astype(np.uint8))
    if not tilt:
        assert similarity(prepare(photo).image, prepare(page).image) > 0.9
    got = votes(shipped, photo)
    assert got.count(int(mnist.test_labels[index])) >= 0.75 * len(got), got


@pytest.mark.parametrize(("index", "offset"), [(0, 0.0), (0, 0.2), (3, 0.2)])
def test_a_lamp_lit_page_with_dark_edges_is_read_dark_on_light(mnist, shipped, index, offset):
    """Light fading from the middle to nearly black corners: the paper is still the background,
    and there is no page edge to crop to, even with the digit off to one side."""
    height, width, size = 600, 800, 330
    ink = np.zeros((height, width), np.float32)
    top, left = (height - size) // 2, round(width / 2 - size / 2 + offset * width)
    ink[top : top + size, left : left + size] = np.asarray(Image.fromarray(mnist.test_images[index, 0].numpy()).resize((size, size))) / 255
    rows, cols = np.mgrid[0:height, 0:width]
    fall_off = ((rows - height / 2) / (height / 2)) ** 2 + ((cols - width / 2) / (width / 2)) ** 2
    grey = (0.92 - 0.35 * fall_off) * (1 - 0.75 * ink) + np.random.default_rng(index).normal(0, 0.04, (height, width))
    photo = Image.fromarray((255 * grey.clip(0, 1)).astype(np.uint8)).convert("RGB")
    got = votes(shipped, photo)
    assert got.count(int(mnist.test_labels[index])) >= 0.75 * len(got), got


@pytest.mark.parametrize(("index", "side"), [(0, 300), (1, 1200), (2, 600), (3, 2000)])
def test_a_photo_of_a_digit_on_paper_comes_back_like_the_original(mnist, index, side):
    """Uneven light and noise would pass for ink; they are flattened and averaged away first."""
    original = mnist.test_images[index, 0].numpy()
    prepared = prepare(paper_photo(original, side))
    assert prepared.has_digit and prepared.warning is None
    assert similarity(prepared.image, original / 255.0) > 0.85


@pytest.mark.parametrize("index", [0, 2, 3])
def test_a_thick_marker_digit_filling_the_photo_is_not_taken_for_paper(mnist, index):
    """The light is fitted to the paper alone, however much of the photo the strokes cover."""
    original = mnist.test_images[index, 0].numpy()
    marker = np.asarray(Image.fromarray(original).filter(ImageFilter.MaxFilter(3)))  # strokes ~2 px wider
    prepared = prepare(paper_photo(marker, 600, fill=0.95))
    assert prepared.has_digit
    assert similarity(prepared.image, prepare(marker).image) > 0.85  # the same marker digit, scanned clean


@pytest.mark.parametrize(("index", "ruling", "tilt"), [(0, "ruled", 0.0), (2, "ruled", -8.0), (3, "squared", 0.0), (4, "squared", 6.0)])
def test_a_digit_on_ruled_or_squared_paper_reads_as_on_plain_paper(mnist, index, ruling, tilt):
    """The paper's printed lines would pass for ink and stretch the digit's box across the photo."""
    original = mnist.test_images[index, 0].numpy()
    on_lines = prepare(paper_photo(original, 900, ruling=ruling, tilt=tilt))
    on_plain = prepare(paper_photo(original, 900, tilt=tilt))
    assert on_lines.has_digit and on_lines.warning is None
    assert similarity(on_lines.image, on_plain.image) > 0.95


def test_only_repeated_long_lines_count_as_printed_on_the_paper():
    from mnist_small.preprocess.photo import rulings

    flat = torch.zeros(300, 400)
    flat[100:103, 10:390] = 0.3  # one line nearly across: it may be a digit's stroke (a 7's bar)
    assert rulings(flat).abs().max() == 0
    flat[200:203, 10:390] = 0.3  # a second one parallel to it: ruled paper
    lines = rulings(flat)
    assert torch.all(lines[100:103, 10:390] >= 0.3) and torch.all(lines[200:203, 10:390] >= 0.3)
    assert lines[120:180].abs().max() == 0  # nothing between them


def test_specks_and_line_ends_at_the_edge_are_dropped_not_the_digit():
    from mnist_small.preprocess.photo import drop_specks

    ink = np.zeros((400, 400), np.float32)
    ink[100:300, 150:170] = 1.0  # the digit: a 1
    ink[120:140, 220:260] = 1.0  # a separate flag beside it, a sixth of its size: kept
    ink[0:4, 0:60] = 0.8  # the end of a paper line at the photo's edge
    ink[380:383, 380:383] = 1.0  # a speck of dust
    kept = drop_specks(ink)
    np.testing.assert_array_equal(kept[100:300, 140:270], ink[100:300, 140:270])
    assert kept[0:4].max() == 0 and kept[380:].max() == 0


def test_a_photo_of_blank_paper_is_no_digit():
    assert not prepare(paper_photo(None, 800)).has_digit


@pytest.mark.parametrize(("index", "desk", "card"), [(0, 40, 240), (1, 90, 250), (3, 0, 255)])
def test_a_flat_digital_card_on_a_dark_background_is_cropped_to_the_card(shipped, mnist, index, desk, card):
    """A white card on one flat dark colour, as an image editor makes it (no photo noise)."""
    original = mnist.test_images[index, 0].numpy()
    picture = np.full((300, 400), desk, np.uint8)
    picture[60:240, 100:300] = card
    picture[90:210, 140:260] = card - np.asarray(Image.fromarray(original).resize((120, 120)))
    assert similarity(prepare(picture).image, original / 255.0) > 0.8
    got = votes(shipped, picture)
    assert got.count(int(mnist.test_labels[index])) >= 0.75 * len(got), got


@pytest.mark.parametrize("index", [1, 3, 8])
def test_a_thick_marker_digit_filling_the_canvas_is_not_taken_for_a_card(mnist, index):
    """Its strokes are a bright piece as big and solid as a page, but not as square as a card."""
    marker = np.asarray(Image.fromarray(mnist.test_images[index, 0].numpy()).filter(ImageFilter.MaxFilter(5)))
    smaller = prepare(draw_on_canvas(marker, size=150, top=60, left=60)).image  # too small to pass for a page
    assert similarity(prepare(draw_on_canvas(marker, size=270, top=5, left=5)).image, smaller) > 0.95


# ---- canvas drawings: how people really draw (canvas.py) ---------------------------------


@pytest.mark.parametrize(
    ("lines", "digit", "width"),
    [(SEVEN_WITH_CROSSBAR, 7, 20), (TWO_STROKE_FOUR, 4, 20), (ONE, 1, 20), (SEVEN_WITH_CROSSBAR, 7, 40), (TWO_STROKE_FOUR, 4, 8)],
)
def test_drawn_strokes_are_read_by_most_models(shipped, lines, digit, width):
    got = votes(shipped, strokes_on_canvas(lines, width))
    assert got.count(digit) >= 0.75 * len(got), got


def test_thick_brush_is_thinned_to_mnist_width():
    from mnist_small.preprocess.canvas import STROKE_RANGE, stroke_width

    small_thick = strokes_on_canvas([[(40, 30), (70, 30), (45, 110)]], width=24)  # a small 7, fat brush
    image = prepare(small_thick).image
    assert stroke_width(image) <= STROKE_RANGE[1] + 1.0


def slant_degrees(image: np.ndarray) -> float:
    """The ink's slant from the vertical by second moments, negative leaning right."""
    rows, cols = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    mass = image.sum()
    row_offset, col_offset = rows - (image * rows).sum() / mass, cols - (image * cols).sum() / mass
    return float(np.degrees(np.arctan((image * col_offset * row_offset).sum() / (image * row_offset**2).sum())))


@pytest.mark.parametrize(("lines", "leaning_right"), [(ONE, False), ([[(230, 40), (60, 245)]], True), ([[(50, 40), (230, 245)]], False)])
def test_a_far_slanted_digit_is_straightened_to_mnist_range(lines, leaning_right):
    from mnist_small.preprocess.canvas import SLANT_RANGE

    canvas = strokes_on_canvas(lines)
    drawn_slant = slant_degrees(canvas[..., 3].astype(float))
    slant = slant_degrees(prepare(canvas).image)
    if SLANT_RANGE[0] <= drawn_slant <= SLANT_RANGE[1]:  # the upright 1 keeps its slant
        assert slant == pytest.approx(drawn_slant, abs=2.0)
    else:  # a 1 leaning far over (40 deg either way) comes back to the range's nearer edge
        assert slant == pytest.approx(SLANT_RANGE[0] if leaning_right else SLANT_RANGE[1], abs=2.0)


def ink_box_size(image: np.ndarray) -> tuple[int, int]:
    rows, cols = ink_box(image > INK)
    return rows.stop - rows.start, cols.stop - cols.start


@pytest.mark.parametrize("index", [0, 1, 3, 7])  # a 7, a 2, a 0 and a 9
def test_a_digit_drawn_wide_and_flat_is_made_taller_and_more_like_the_original(mnist, monkeypatch, index):
    import mnist_small.preprocess.canvas as drawing_steps  # where fit_box reads MAX_ASPECT

    original = mnist.test_images[index, 0].numpy()
    canvas = draw_on_canvas(original, size=120, top=80, left=20, width=240)  # twice as wide
    prepared = prepare(canvas).image
    height, width = ink_box_size(prepared)
    assert width == BOX and abs(height - BOX / drawing_steps.MAX_ASPECT) <= 1
    monkeypatch.setattr(drawing_steps, "MAX_ASPECT", float("inf"))  # keeping the drawn aspect instead
    squashed = prepare(canvas).image
    assert similarity(prepared, original) > similarity(squashed, original) + 0.05


def test_a_dash_is_made_at_most_twice_as_tall(monkeypatch):
    import mnist_small.preprocess.canvas as drawing_steps  # where fit_box reads MAX_ASPECT

    dash = strokes_on_canvas([[(20, 150), (260, 150)]], width=16)
    height, _ = ink_box_size(prepare(dash).image)
    monkeypatch.setattr(drawing_steps, "MAX_ASPECT", float("inf"))
    flat_height, _ = ink_box_size(prepare(dash).image)
    assert flat_height < height <= 2 * flat_height + 1


def test_a_flat_stroke_is_not_straightened():
    dash = strokes_on_canvas([[(20, 150), (260, 120)]], width=16)[..., 3].astype(np.float32) / 255
    assert straighten(dash) is dash


@pytest.mark.parametrize(("size", "top", "left"), [(45, 235, 235), (200, 0, 80), (150, 60, 130)])
def test_small_digit_in_a_corner_and_digits_touching_an_edge(shipped, mnist, size, top, left):
    original = mnist.test_images[0, 0].numpy()  # a 7
    canvas = draw_on_canvas(original, size=size, top=top, left=left)
    assert similarity(prepare(canvas).image, original / 255.0) > 0.7
    got = votes(shipped, canvas)
    assert got.count(7) >= 0.75 * len(got), got


@pytest.mark.parametrize(("row", "col"), [(20, 20), (260, 150), (140, 270)])
def test_a_stray_tap_beside_the_digit_is_ignored(mnist, row, col):
    original = mnist.test_images[0, 0].numpy()  # a 7
    canvas = draw_on_canvas(original, size=150, top=60, left=60)
    tapped = prepare(tap(canvas, row, col))
    assert similarity(tapped.image, prepare(canvas).image) > 0.99
    assert tapped.note and "dot" in tapped.note  # the app says what it left out
    assert prepare(canvas).note is None


@pytest.mark.parametrize("lines", [SEVEN_WITH_CROSSBAR, TWO_STROKE_FOUR])
@pytest.mark.parametrize("width", [8, 20, 40])
def test_a_digits_own_second_stroke_is_no_dot(lines, width):
    from mnist_small.preprocess.canvas import drop_dots

    ink = strokes_on_canvas(lines, width)[..., 3].astype(np.float32) / 255
    assert np.array_equal(drop_dots(ink), ink)


def test_a_lone_dot_is_kept():
    from mnist_small.preprocess.canvas import drop_dots

    dot = tap(np.zeros((280, 280, 4), np.uint8), 140, 140)[..., 3].astype(np.float32) / 255
    assert np.array_equal(drop_dots(dot), dot)


@pytest.mark.parametrize(("first", "second", "apart"), [(0, 1, 130), (2, 3, 100), (4, 4, 110)])  # 7 2, 1 0, 4 4
def test_two_digits_side_by_side_get_a_warning(mnist, first, second, apart):
    left = draw_on_canvas(mnist.test_images[first, 0].numpy(), size=120, top=70, left=15)
    right = draw_on_canvas(mnist.test_images[second, 0].numpy(), size=120, top=85, left=15 + apart)
    prepared = prepare(np.maximum(left, right))
    assert prepared.has_digit and "more than one digit" in prepared.warning


def test_eleven_gets_a_warning_and_one_does_not():
    eleven = [[(90, 40), (85, 240)], [(180, 40), (175, 240)]]
    assert "more than one digit" in prepare(strokes_on_canvas(eleven)).warning
    assert prepare(strokes_on_canvas(ONE)).warning is None


@pytest.mark.parametrize("lines", [SEVEN_WITH_CROSSBAR, TWO_STROKE_FOUR, [[(80, 40), (80, 150), (150, 150)], [(175, 40), (175, 250)]]])
def test_a_digit_in_two_strokes_is_one_digit(lines):
    """A crossbar joins the strokes' columns; a 4 whose bar stops short of its upright leaves
    only a narrow gap (the last one)."""
    assert prepare(strokes_on_canvas(lines)).warning is None


# ---- connected pieces, pooling, dilation: as before to the bit, and fast (imageops.py) ---


def max_pool_pieces(mask: torch.Tensor) -> torch.Tensor:
    """The labels connected_pieces always gave, grown the slow way it used to: each pixel starts
    with its own index (from 1) and takes the largest of its 3x3 neighbours' within the mask,
    round after round, until nothing changes."""
    labels = torch.arange(1, mask.numel() + 1, dtype=torch.float32).view(mask.shape) * mask
    while True:
        grown = F.max_pool2d(labels[None, None], 3, stride=1, padding=1)[0, 0] * mask
        if torch.equal(grown, labels):
            return labels.long()
        labels = grown


@pytest.mark.parametrize("seed", range(20))
def test_connected_pieces_label_as_the_max_pool_growth_did(seed):
    """The same labels, not just the same pieces: a caller picking the largest piece by argmax
    breaks a tie between two as large the same way."""
    rng = np.random.default_rng(seed)
    rows, cols = rng.integers(1, 50, 2)
    mask = torch.from_numpy(rng.random((rows, cols)) < rng.uniform(0.2, 0.7))
    assert torch.equal(connected_pieces(mask), max_pool_pieces(mask))


def test_pixels_touching_at_a_corner_are_one_piece():
    mask = torch.zeros(5, 6, dtype=torch.bool)
    mask[0, 0] = mask[1, 1] = mask[2, 2] = True  # a thin diagonal stroke
    mask[4, 5] = True  # a dot apart from it
    labels = connected_pieces(mask)
    assert labels[0, 0] == labels[1, 1] == labels[2, 2] == 2 * 6 + 2 + 1  # named after its last pixel
    assert labels[4, 5] == 30 and torch.all(labels[~mask] == 0)
    assert torch.equal(connected_pieces(torch.zeros(3, 4, dtype=torch.bool)), torch.zeros(3, 4, dtype=torch.long))


@pytest.mark.parametrize(("draw", "total"), [(zigzag, 240.70284), (spiral, 302.68094)], ids=["zigzag", "spiral"])
def test_long_strokes_read_as_before(draw, total):
    """A zigzag across the whole canvas and a long spiral, the strokes whose pieces took the
    max-pool growth hundreds of rounds (timed in benchmarks/preprocess_latency.py): still one
    piece of ink, no page, nothing left out as a dot, no warning, and the same 28x28 image
    (its total ink as before the pieces came from scipy)."""
    grey = to_grayscale(draw())
    assert crop_to_page(grey) is grey
    ink = light_on_dark(grey)
    small, _ = search_copy(ink > INK, side=DOT_SEARCH_SIDE)
    assert len(connected_pieces(small[0, 0] > 0).unique()) == 2  # the background and one piece
    assert np.array_equal(drop_dots(ink), ink)
    prepared = prepare(draw())
    assert prepared.has_digit and prepared.warning is None and prepared.note is None
    assert float(prepared.image.sum()) == pytest.approx(total, rel=1e-6)


@pytest.mark.parametrize("seed", range(10))
def test_average_pool_is_torchs_to_the_bit(seed):
    """The page is looked for on a copy averaged in numpy: the same copy torch made, edge windows too."""
    rng = np.random.default_rng(seed)
    rows, cols = rng.integers(2, 300, 2)
    factor = int(rng.integers(1, 6))
    image = torch.from_numpy(rng.random((rows, cols), dtype=np.float32))[None, None]
    assert torch.equal(average_pool(image, factor), F.avg_pool2d(image, factor, ceil_mode=True))


@pytest.mark.parametrize("radius", [-3, -1, 1, 2, 12])
def test_grey_dilation_is_the_max_pool_over_its_square(radius):
    """Stroke widths are measured and changed with scipy's row-then-column filter: the same as
    torch's max-pool over the whole square, which grew slow with a fine brush's large radius."""
    image = torch.from_numpy(np.random.default_rng(radius + 10).random((60, 45), dtype=np.float32))
    sign, side = (1.0 if radius > 0 else -1.0), 2 * abs(radius) + 1
    square = sign * F.max_pool2d(sign * image[None, None], side, stride=1, padding=abs(radius))[0, 0]
    assert torch.equal(grey_dilate(image, radius), square)

"""Pen digits (UCI pendigits): reading, the writer split, drawing them as the canvas does,
and ``evaluate --pen``. Tests on the real data skip when it is not on this machine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import spatial

from mnist_small.data import DataError
from mnist_small.handwriting.pen import (
    SHA256,
    TRAIN_FILE,
    TRAIN_WRITERS,
    VALIDATION_WRITERS,
    PenDataError,
    PenDigit,
    parse_pendigits,
    read_pendigits,
    split,
)
from mnist_small.handwriting.render import (
    Look,
    brush_ink,
    canvas,
    canvas_alpha,
    canvas_paths,
    render,
    render_set,
    smooth_path,
    training_set,
)

from .conftest import CHECKPOINTS, MNIST_DIR, ROOT

PEN_DIR = Path(os.environ.get("MNIST_SMALL_TEST_PEN", ROOT.parent / "shared" / "pendigits"))

# A "6" written in one stroke from its top right down into its loop, and a "4" in two
# strokes, in tablet coordinates (y pointing up): the 6's loop has the smaller y values.
SAMPLE = """.INCLUDE        dene.doc

.LEXICON "0" "1" "2" "3" "4" "5" "6" "7" "8" "9"
.HIERARCHY      DIGIT

.SEGMENT DIGIT    0 ? "6"
.COMMENT 6  3  17
.PEN_DOWN
 300  450
 260  420
 220  360
 200  280
 200  200
 220  130
 260  100
 300  110
 320  160
 300  210
 250  220
 210  190
.PEN_UP
.DT 100

.SEGMENT DIGIT    1-2 ? "4"
.COMMENT 4  5  2
.PEN_DOWN
 200  450
 150  250
 320  250
.PEN_UP
.DT 100
.PEN_DOWN
 280  350
 280  60
.PEN_UP
.DT 100
"""


def unipen(digits: list[PenDigit]) -> str:
    """Digits written back in the data set's format (for small test files)."""
    lines = []
    for d in digits:
        lines += [f'.SEGMENT DIGIT    0 ? "{d.label}"', f".COMMENT {d.label} {d.writer} {d.sample}"]
        for stroke in d.strokes:
            lines += [".PEN_DOWN", *(f" {x:g}  {500 - y:g}" for x, y in stroke), ".PEN_UP", ".DT 100"]
    return "\n".join(lines) + "\n"


def line(x0: float, y0: float, x1: float, y1: float, n: int = 30, label: int = 1, writer: int = 1, sample: int = 1) -> PenDigit:
    points = np.linspace([x0, y0], [x1, y1], n)
    return PenDigit(label, writer, sample, (points,))


@pytest.fixture(scope="module")
def pendigits():
    if not (PEN_DIR / TRAIN_FILE).is_file():
        pytest.skip(f"pen digits not found in {PEN_DIR} (set MNIST_SMALL_TEST_PEN)")
    return read_pendigits(PEN_DIR)


def test_parse_sample():
    six, four = parse_pendigits(SAMPLE)
    assert (six.label, six.writer, six.sample, len(six.strokes)) == (6, 3, 17, 1)
    assert (four.label, four.writer, four.sample, len(four.strokes)) == (4, 5, 2, 2)
    assert [len(s) for s in four.strokes] == [3, 2]
    np.testing.assert_array_equal(six.strokes[0][0], [300, 50])  # y = 500 - the tablet's y
    assert not six.strokes[0].flags.writeable


def test_six_has_its_loop_at_the_bottom():
    six = parse_pendigits(SAMPLE)[0]
    ink = canvas_alpha(six, Look(width=12, size=200)).astype(float)
    rows = np.flatnonzero(ink.any(1))
    centre = (ink.sum(1) @ np.arange(len(ink))) / ink.sum()
    assert centre > (rows[0] + rows[-1]) / 2 + 10  # the ink's weight is in its lower half
    assert six.strokes[0][0, 1] < six.strokes[0][:, 1].mean()  # the pen starts at the top


def test_read_a_gzipped_file(tmp_path):
    import gzip

    (tmp_path / TRAIN_FILE).write_bytes(gzip.compress(SAMPLE.encode()))
    assert [d.label for d in read_pendigits(tmp_path)] == [6, 4]
    assert [d.label for d in read_pendigits(tmp_path / TRAIN_FILE)] == [6, 4]


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        (" 260  420", " 260  4x0", 10, "expected a point"),
        (" 260  420", " 260  nan", 10, "expected a point"),
        (".COMMENT 4  5  2", ".COMMENT 5  5  2", 25, "differs"),
        (".COMMENT 4  5  2", ".COMMENT 4  5", 25, "three whole numbers"),
        (".PEN_UP\n.DT 100\n\n.SEGMENT", ".PEN_UP\n 1 2\n\n.SEGMENT", 22, "outside a .PEN_DOWN"),
        ('.SEGMENT DIGIT    0 ? "6"', '.SEGMENT DIGIT    0 ? "six"', 6, "expected .SEGMENT"),
        (".COMMENT 6  3  17\n", "", 7, ".PEN_DOWN before"),
        (".COMMENT 6  3  17\n.PEN_DOWN", '.SEGMENT DIGIT 1 ? "6"\n.PEN_DOWN', 6, "without its .COMMENT"),
        (".PEN_UP\n.DT 100\n\n.SEGMENT", ".PEN_UP\n.PEN_UP\n\n.SEGMENT", 22, "without a .PEN_DOWN"),
        (".HIERARCHY", ".HIERARCHIE", 4, "unknown keyword"),
    ],
)
def test_malformed_content_names_the_line(old, new, line, words):
    assert old in SAMPLE
    with pytest.raises(PenDataError, match=rf"sample\.tra, line {line}: .*{words}"):
        parse_pendigits(SAMPLE.replace(old, new, 1), source="sample.tra")


def test_truncated_file():
    with pytest.raises(PenDataError, match=r"ends inside a \.PEN_DOWN"):
        parse_pendigits(SAMPLE.rsplit(".PEN_UP", 1)[0])
    with pytest.raises(PenDataError, match="no digits"):
        parse_pendigits(".INCLUDE dene.doc\n")


def test_missing_data_says_how_to_get_it(tmp_path):
    for path in (tmp_path / "nowhere", tmp_path):
        with pytest.raises(DataError) as info:
            read_pendigits(path)
        assert isinstance(info.value, PenDataError)
        message = str(info.value)
        for words in ("pendigits-orig.tra", "doi:10.24432/C5MG6K", "archive.ics.uci.edu/dataset/81", "--pen DIR", "MNIST_SMALL_PEN"):
            assert words in message
    (tmp_path / f"{TRAIN_FILE}.Z").write_bytes(b"\x1f\x9d\x90")
    with pytest.raises(PenDataError, match=r"found pendigits-orig\.tra\.Z: uncompress it"):
        read_pendigits(tmp_path)


def test_split_is_fixed_and_writer_disjoint():
    assert VALIDATION_WRITERS == (3, 6, 9, 12, 15, 18, 21, 24, 27, 30)
    assert len(TRAIN_WRITERS) == 20 and not set(TRAIN_WRITERS) & set(VALIDATION_WRITERS)
    assert set(TRAIN_WRITERS) | set(VALIDATION_WRITERS) == set(range(1, 31))
    digits = [line(0, 0, 0, 100, writer=w, sample=s) for w in range(1, 31) for s in range(2)]
    train, validation = split(digits)
    assert {d.writer for d in train} == set(TRAIN_WRITERS) and {d.writer for d in validation} == set(VALIDATION_WRITERS)
    assert len(train) + len(validation) == len(digits)
    with pytest.raises(PenDataError, match="31"):
        split([line(0, 0, 0, 100, writer=31)])


def test_smooth_path_is_fabrics_pencil_brush():
    """Through the first point, the midpoints and the last point; the middle quadratic's own
    midpoint is (m01 + 2 p1 + m12) / 4; samples at most half a pixel apart."""
    points = np.array([[0.0, 0.0], [40.0, 0.0], [40.0, 30.0]])
    path = smooth_path(points)
    steps = np.hypot(*np.diff(path, axis=0).T)
    assert steps.max() <= 0.5 + 1e-9
    m01, m12 = (points[0] + points[1]) / 2, (points[1] + points[2]) / 2
    for expected in (points[0], m01, (m01 + 2 * points[1] + m12) / 4, m12, points[2]):
        assert np.hypot(*(path - expected).T).min() < 0.3
    assert np.hypot(*(path - points[1]).T).min() > 5  # the corner is a curve, not a sharp turn
    np.testing.assert_array_equal(smooth_path(points[:1]), points[:1])  # a tap: a dot


def test_brush_ink_is_the_distance_to_the_path():
    path = smooth_path(np.array([[40.0, 50.0], [120.0, 90.0], [160.0, 60.0]]))
    ink = brush_ink([path], 15)
    rows, cols = np.mgrid[0:280, 0:280] + 0.5
    distance = spatial.cKDTree(path).query(np.stack([cols.ravel(), rows.ravel()], 1))[0].reshape(280, 280)
    np.testing.assert_allclose(ink, np.clip(7.5 + 0.5 - distance, 0, 1), atol=1e-5)


@pytest.mark.parametrize("width", [8, 20, 40])
def test_stroke_width_matches_the_brush(width):
    """Ink area = width x path length + a round cap's disc, for a straight and a curved stroke."""
    circle = np.stack([250 + 150 * np.cos(np.linspace(0, 5, 40)), 250 - 150 * np.sin(np.linspace(0, 5, 40))], 1)
    for digit in (line(100, 100, 300, 400), PenDigit(0, 1, 1, (circle,))):
        look = Look(width=width, size=220)
        (path,) = canvas_paths(digit, look)
        length = np.hypot(*np.diff(path, axis=0).T).sum()
        area = canvas(digit, look)[..., 3].sum() / 255
        measured = (area - np.pi * width**2 / 4) / length
        assert measured == pytest.approx(width, rel=0.03)


def test_size_and_place():
    digit = parse_pendigits(SAMPLE)[1]
    for look in (Look(width=10, size=100, place=(0.0, 1.0)), Look(width=30, size=250, place=(0.5, 0.2))):
        ink = canvas_alpha(digit, look) > 0
        rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 == pytest.approx(look.size, abs=3)
    assert rows[0] > 0 and rows[-1] < 279  # placed, not cut by an edge
    ink = canvas_alpha(digit, Look(width=10, size=100, place=(0.0, 1.0))) > 0
    assert ink[0].any() and ink[:, -1].any() and not ink[-1].any() and not ink[:, 0].any()  # the top right corner


def test_render_set_is_deterministic_per_seed():
    digits = [*parse_pendigits(SAMPLE), line(200, 50, 220, 450, sample=2)]
    for augment in (False, True):
        first = render_set(digits, seed=3, augment=augment)
        again = render_set(digits, seed=3, augment=augment)
        assert torch.equal(first.images, again.images)
        assert not torch.equal(first.images, render_set(digits, seed=4, augment=augment).images)
        alone = render_set(digits[1:2], seed=3, augment=augment)  # the same digit, in another set
        assert torch.equal(alone.images[0], first.images[1])
    assert first.images.dtype == torch.uint8 and first.images.shape == (3, 28, 28)
    assert first.labels.tolist() == [6, 4, 1] and first.labels.dtype == torch.int64
    assert first.writers.tolist() == [3, 5, 1]
    assert not torch.equal(render_set(digits, seed=3).images, render_set(digits, seed=3, augment=True).images)


def test_render_reads_like_the_canvas():
    """The grey the preprocessing is given is what it reads from the RGBA canvas."""
    from mnist_small.preprocess import prepare

    six = parse_pendigits(SAMPLE)[0]
    look = Look(width=25, size=180, place=(0.3, 0.7))
    image = prepare(canvas(six, look)).image
    assert np.array_equal(render(six, look), np.round(255 * image).astype(np.uint8))


def test_real_data(pendigits):
    assert len(pendigits) == 7494
    assert np.bincount([d.label for d in pendigits]).tolist() == [780, 779, 780, 719, 780, 720, 720, 778, 719, 719]
    train, validation = split(pendigits)
    assert {d.writer for d in train} == set(TRAIN_WRITERS) and {d.writer for d in validation} == set(VALIDATION_WRITERS)
    assert len(validation) == 2498
    # y flipped: 6s carry their ink low (the loop), 9s high
    for label, low in ((6, True), (9, False)):
        below = []
        for digit in [d for d in validation if d.label == label][:60]:
            points = np.concatenate([smooth_path(s) for s in digit.strokes])
            top, bottom = points[:, 1].min(), points[:, 1].max()
            below.append(points[:, 1].mean() > (top + bottom) / 2)
        assert np.mean(below) > 0.9 if low else np.mean(below) < 0.1, label


@pytest.fixture
def small_pen_folder(tmp_path, pendigits):
    """A folder with 40 validation writers' and 20 training writers' digits."""
    train, validation = split(pendigits)
    folder = tmp_path / "pen"
    folder.mkdir()
    (folder / TRAIN_FILE).write_text(unipen(validation[:40] + train[:20]))
    return folder


def test_evaluate_pen(small_pen_folder, tmp_path, mnist):
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    for file in CHECKPOINTS.glob("ours_separable_2.0k.*"):
        shutil.copy(file, checkpoints)

    def run(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "mnist_small", "--checkpoints", str(checkpoints), "evaluate", "--data-dir", str(MNIST_DIR)]
        return subprocess.run([*command, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)

    proc = run("--pen", str(small_pen_folder), "--json")
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)["ours_separable_2.0k"]
    assert set(row) == {"params", "accuracy", "recorded_accuracy", "pen_accuracy"}
    assert 50 < row["pen_accuracy"] <= 100 and row["pen_accuracy"] == round(row["pen_accuracy"], 4)
    assert row["accuracy"] > 98  # MNIST's test accuracy is still there

    env = {**os.environ, "MNIST_SMALL_PEN": str(small_pen_folder)}
    proc = subprocess.run(
        [sys.executable, "-m", "mnist_small", "--checkpoints", str(checkpoints), "evaluate", "--data-dir", str(MNIST_DIR), "--pen"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    header, table_row = proc.stdout.splitlines()[:2]
    assert header.split()[-1] == "pen" and table_row.endswith(f"{row['pen_accuracy']:.2f}%")
    assert "40 pen-written digits of the validation writers 3, 6, 9" in proc.stdout

    proc = run("--pen", str(tmp_path / "nowhere"))
    assert proc.returncode == 2 and "doi:10.24432/C5MG6K" in proc.stderr


def test_the_shipped_variants_never_saw_a_validation_writer():
    """What each +pen checkpoint records of its pen data: training writers only, none of the
    writers every model is scored on."""
    variants = sorted(CHECKPOINTS.glob("*+pen.json"))
    assert variants, "no +pen checkpoints shipped"
    for path in variants:
        seen = json.loads(path.read_text())["pen_data"]
        assert set(seen["train_writers"]) == set(TRAIN_WRITERS) and not set(seen["train_writers"]) & set(VALIDATION_WRITERS), path.name
        assert seen["validation_writers"] == list(VALIDATION_WRITERS) and seen["sha256"] == SHA256, path.name


def test_training_set_holds_only_training_writers(pendigits, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_SMALL_CACHE", str(tmp_path))
    few = [d for d in pendigits if d.writer in (1, 3)][:40] + [d for d in pendigits if d.writer == 3][:5]
    (tmp_path / TRAIN_FILE).write_text(unipen(few))
    drawn = training_set(tmp_path, renders=2)
    assert set(drawn.writers.tolist()) == {1} and len(drawn.labels) == 2 * sum(d.writer == 1 for d in few)
    assert torch.equal(training_set(tmp_path, renders=2).images, drawn.images), "read back from the cache"

"""Shared fixtures: where the real MNIST and the shipped checkpoints are, and empty databases
(SQLite, and PostgreSQL when MNIST_SMALL_TEST_PG holds a URL) for the class mode."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = ROOT / "checkpoints"
MNIST_DIR = Path(os.environ.get("MNIST_SMALL_TEST_DATA", ROOT.parent / "shared" / "mnist"))
PEN_DIR = Path(os.environ.get("MNIST_SMALL_TEST_PEN", ROOT.parent / "shared" / "pendigits"))


@pytest.fixture(scope="session")
def mnist():
    """The full MNIST from the shared folder (skips when it is not on this machine)."""
    from mnist_small.data import find_raw_files, load_mnist

    if find_raw_files(MNIST_DIR) is None:
        pytest.skip(f"MNIST not found in {MNIST_DIR} (set MNIST_SMALL_TEST_DATA)")
    return load_mnist(MNIST_DIR, allow_download=False)


def pg_admin_url() -> str:
    """MNIST_SMALL_TEST_PG, a PostgreSQL URL whose role may create databases and end other
    sessions in them (CREATEDB, pg_signal_backend: .ci/postgres.sh makes such a role and prints its URL); skips without it, or fails when MNIST_SMALL_REQUIRE_PG=1 (set by CI)."""
    url = os.environ.get("MNIST_SMALL_TEST_PG")
    if not url:
        reason = "no PostgreSQL: set MNIST_SMALL_TEST_PG to a URL such as the last line of .ci/postgres.sh"
        if os.environ.get("MNIST_SMALL_REQUIRE_PG") == "1":
            pytest.fail(f"MNIST_SMALL_REQUIRE_PG=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return url


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards even while connections
    to it are still open (WITH (FORCE)), so a test that forgets to dispose its engine leaves nothing."""
    admin_url = sa.make_url(pg_admin_url())
    name = f"t_{uuid.uuid4().hex}"
    # CREATE and DROP DATABASE cannot run inside a transaction
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin_url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL of a brand-new empty database for each test, once on SQLite (a file in
    tmp_path) and once on PostgreSQL (skips, or fails under MNIST_SMALL_REQUIRE_PG=1, without
    MNIST_SMALL_TEST_PG). The test disposes the engines it makes."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/class.db"
    else:
        with fresh_pg_database() as url:
            yield url


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """One new empty PostgreSQL database for the whole session, for tests in which several
    processes (app servers, workers) share one database; skips or fails as ``db_url`` does.
    What one test writes there the next test sees."""
    with fresh_pg_database() as url:
        yield url


def draw_on_canvas(
    digit: np.ndarray, size: int = 200, top: int = 30, left: int = 60, canvas: int = 280, width: int | None = None
) -> np.ndarray:
    """An MNIST digit drawn large and off-centre on an RGBA canvas, as streamlit-drawable-canvas
    returns it; ``size`` pixels tall and ``width`` (default: ``size``) wide."""
    from PIL import Image

    width = width or size
    big = np.asarray(Image.fromarray(digit).resize((width, size), Image.BILINEAR))
    rgba = np.zeros((canvas, canvas, 4), dtype=np.uint8)
    patch = rgba[top : top + size, left : left + width]
    patch[..., :3] = big[..., None]
    patch[..., 3] = np.where(big > 0, 255, 0)  # transparent background, opaque strokes
    return rgba


def tap(canvas: np.ndarray, row: int, col: int, radius: int = 10) -> np.ndarray:
    """The canvas with a round dot, as a tap of the brush leaves."""
    rows, cols = np.ogrid[: canvas.shape[0], : canvas.shape[1]]
    dotted = canvas.copy()
    dotted[(rows - row) ** 2 + (cols - col) ** 2 <= radius**2] = 255
    return dotted


def paper_photo(digit: np.ndarray | None, side: int, seed: int = 0, fill: float = 0.6, ruling: str = "", tilt: float = 0.0) -> Image.Image:
    """A phone-photo-like JPEG of dark ink on paper: a shadow across the page and sensor noise;
    the digit's box is ``fill`` of the photo's height. ``ruling``: "ruled" (a printed line every
    tenth of the height) or "squared" (a grid as fine); ``tilt``: the camera turned by degrees."""
    rng = np.random.default_rng(seed)
    margin = side // 4 if tilt else 0  # room to turn the page without black corners
    height, width = side + 2 * margin, side * 4 // 3 + 2 * margin
    ink = np.zeros((height, width), np.float32)
    if digit is not None:
        size, top = round(side * fill), margin + round(side * (1 - fill) / 2)
        left = margin + side // 3
        ink[top : top + size, left : left + size] = np.asarray(Image.fromarray(digit).resize((size, size))) / 255
    rows, cols = np.mgrid[0:height, 0:width] / side
    light = 0.9 - 0.25 * (0.6 * cols + 0.4 * rows)  # brighter top left, darker bottom right
    paper = np.ones_like(ink)
    step, thickness = side // 10, max(1, side // 300)
    for start in range(step // 2, max(height, width), step) if ruling else ():
        paper[start : start + thickness] *= 0.75
        if ruling == "squared":
            paper[:, start : start + thickness] *= 0.75
    grey = light * paper * (1 - 0.75 * ink)
    if tilt:
        turned = Image.fromarray(grey.astype(np.float32), mode="F").rotate(tilt, resample=Image.BILINEAR)
        grey = np.asarray(turned)[margin : margin + side, margin : margin + side * 4 // 3]
    grey = np.clip(grey + rng.normal(0, 0.05, grey.shape), 0, 1)
    buffer = io.BytesIO()
    Image.fromarray((255 * grey).astype(np.uint8)).convert("RGB").save(buffer, "JPEG", quality=75)
    return Image.open(buffer)


# Playwright's own browser cannot be downloaded here: the browser tests use Debian's chromium.
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    from benchmarks.appserver import CHROMIUM, CHROMIUM_FLAGS

    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1500, "height": 1000}}


def class_rows(mnist, n: int, students: int, prefix: str = "s") -> list[dict]:
    """``n`` MNIST test digits as class-set drawings (ClassSet.import_rows) by ``students``
    students named ``<prefix><k>``: real digits, so the models have something to read, and
    their 28x28 pictures as the PNGs (an import checks them)."""
    from mnist_small.preprocess import drawing_png

    return [
        {
            "created": i,
            "student": f"{prefix}{i % students}",
            "label": int(mnist.test_labels[i]),
            "image": mnist.test_images[i, 0].numpy() / 255,
            "png": drawing_png(mnist.test_images[i, 0].numpy()),
        }
        for i in range(n)
    ]


@pytest.fixture
def canvas(monkeypatch: pytest.MonkeyPatch):
    """The app's canvas under AppTest: a fake component whose ``image`` the test sets."""
    from .apptest import FakeCanvas

    fake = FakeCanvas()
    monkeypatch.setitem(sys.modules, "streamlit_drawable_canvas", fake.module)
    return fake


@pytest.fixture
def class_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new SQLite class set for the app (MNIST_SMALL_DB), and no teacher code set."""
    url = f"sqlite:///{tmp_path / 'class.db'}"
    monkeypatch.setenv("MNIST_SMALL_DB", url)
    monkeypatch.delenv("MNIST_SMALL_TEACHER_CODE", raising=False)
    return url


def run_cli(*args, env=None) -> subprocess.CompletedProcess:
    """``python -m mnist_small ARGS`` from the repository, with ``env`` added to the environment."""
    proc = subprocess.run(
        [sys.executable, "-m", "mnist_small", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )
    return proc

"""What the browser tests share: their marks (skipped without Debian's chromium unless
MNIST_SMALL_REQUIRE_BROWSER=1), drawing with the mouse, reading the answer, no error on the page."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from benchmarks.appserver import BIG_DIGIT, CANVAS, CHROMIUM

MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() and not os.environ.get("MNIST_SMALL_REQUIRE_BROWSER"),
        reason=f"no {CHROMIUM} (apt-get install chromium)",
    ),
]


def draw(page, strokes):
    """Draw polylines given in canvas pixels (0-280) with the mouse."""
    canvas = page.locator(CANVAS)
    canvas.wait_for(timeout=30_000)
    box = canvas.bounding_box()
    for stroke in strokes:
        (x0, y0), rest = stroke[0], stroke[1:]
        page.mouse.move(box["x"] + x0, box["y"] + y0)
        page.mouse.down()
        for x, y in rest:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=15)
        page.mouse.up()


def big_digit(page) -> str:
    says = page.get_by_text(re.compile(r" says$"))
    says.first.wait_for(timeout=20_000)
    return page.locator(BIG_DIGIT).first.inner_text(timeout=15_000).strip()


def assert_no_error(page):
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "Traceback" not in page.content()

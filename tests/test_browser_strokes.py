"""Every stroke lands: strokes started anywhere on the canvas, the top band included, each get an
answer, by touch on a phone and with a mouse that presses the moment it arrives.

The canvas's toolbar (undo, redo, reset) used to sit, invisible until hovered, over the canvas's
top-right corner: a stroke started there was swallowed by the toolbar. Needs Debian's chromium
(/usr/bin/chromium); skipped without it unless MNIST_SMALL_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from benchmarks.appserver import BIG_DIGIT, CANVAS, HINT, running_app

from .browser import MARKS

pytestmark = MARKS

# Start points in canvas pixels: two rows in the top band, where most digits start and where the
# toolbar used to lie (x >= 140, y <= 30), then the middle and the bottom.
XS = (15, 105, 190, 265)
YS = (10, 30, 150, 262)
START_POINTS = [(x, y) for y in YS for x in XS]
TOOLBAR = ["Undo", "Redo", "Reset canvas & history"]  # the toolbar's buttons, by their accessible names


def stroke(x: int, y: int) -> list[tuple[float, float]]:
    """A one-like stroke, 100 px down from (x, y), or up from a start near the bottom."""
    down = 1 if y < 150 else -1
    return [(x - k, y + down * 20 * k) for k in range(6)]


@pytest.fixture(scope="module")
def app_url():
    with running_app() as url:
        yield url


def open_draw(page, url: str):
    """The Draw tab, empty; returns the canvas's box on the page."""
    page.goto(url)
    page.get_by_text(HINT).wait_for(timeout=60_000)
    return canvas_box(page)


def canvas_box(page) -> dict:
    canvas = page.locator(CANVAS)
    canvas.wait_for(timeout=30_000)
    return canvas.bounding_box()


def answered(page) -> bool:
    try:
        page.locator(BIG_DIGIT).first.wait_for(timeout=8_000)
        return True
    except PlaywrightTimeout:  # the stroke was lost
        return False


def assert_toolbar_beside(page, canvas: dict) -> None:
    """Each toolbar button is on view, and outside the canvas: none covers a pixel of it."""
    for name in TOOLBAR:
        button = page.get_by_role("button", name=name, exact=True)
        box = button.bounding_box()
        assert box is not None and float(button.evaluate("b => getComputedStyle(b.closest('.dc-toolbar')).opacity")) == 1, name
        inside_x = box["x"] < canvas["x"] + canvas["width"] and box["x"] + box["width"] > canvas["x"]
        inside_y = box["y"] < canvas["y"] + canvas["height"] and box["y"] + box["height"] > canvas["y"]
        assert not (inside_x and inside_y), f"{name} covers the canvas: {box} over {canvas}"


def test_every_mouse_stroke_lands_even_when_the_pointer_presses_as_it_arrives(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        canvas = open_draw(page, app_url)
        lost = []
        for x0, y0 in START_POINTS:
            page.mouse.move(canvas["x"] - 40, canvas["y"] - 40)  # off the canvas, then straight to the start and down
            points = stroke(x0, y0)
            page.mouse.move(canvas["x"] + x0, canvas["y"] + y0)
            page.mouse.down()
            for x, y in points[1:]:
                page.mouse.move(canvas["x"] + x, canvas["y"] + y, steps=4)
            page.mouse.up()
            if not answered(page):
                lost.append((x0, y0))
            page.locator(CANVAS).evaluate("canvas => canvas.dataset.used = 'yes'")
            page.get_by_role("button", name="Clear the canvas").click()  # the app's own control, in the sidebar
            expect(page.locator(f"{CANVAS}:not([data-used])")).to_have_count(1, timeout=20_000)  # a new, empty canvas
            expect(page.locator(CANVAS)).to_have_count(1, timeout=20_000)  # and the old one gone (both stay a while on a busy server)
            page.get_by_text(HINT).wait_for(timeout=20_000)
            canvas = canvas_box(page)
        assert lost == [], f"{len(lost)} of {len(START_POINTS)} mouse strokes left no answer, started at {lost}"
        assert_toolbar_beside(page, canvas)
    finally:
        context.close()


def test_every_touch_stroke_lands_on_a_phone_and_the_page_stays_put(browser, app_url, playwright):
    context = browser.new_context(**playwright.devices["Pixel 5"])  # touch, a phone's viewport and user agent
    try:
        page = context.new_page()
        canvas = open_draw(page, app_url)
        cdp = context.new_cdp_session(page)

        def touch(kind: str, *points: tuple[float, float]) -> None:
            touch_points = [{"x": canvas["x"] + x, "y": canvas["y"] + y} for x, y in points]
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": touch_points})

        scrolled = page.evaluate("window.scrollY")
        lost = []
        for x0, y0 in START_POINTS:
            points = stroke(x0, y0)
            touch("touchStart", points[0])
            for point in points[1:]:
                touch("touchMove", point)
            touch("touchEnd")
            if not answered(page):
                lost.append((x0, y0))
            assert page.evaluate("window.scrollY") == scrolled  # a finger on the canvas draws, it does not scroll the page
            page.get_by_role("button", name="Reset canvas & history", exact=True).tap()  # clear, by touch
            page.get_by_text(HINT).wait_for(timeout=20_000)
            # and touch the page elsewhere, as the next student would: a tap leaves the tapped element
            # hovered, and a hovered canvas had its toolbar moved up, out of the way
            page.get_by_text(HINT).tap()
        assert lost == [], f"{len(lost)} of {len(START_POINTS)} touch strokes left no answer, started at {lost}"
        assert_toolbar_beside(page, canvas)

        # undo by touch takes the last stroke back, and the app hears of it
        touch("touchStart", (150, 40))
        for y in range(50, 250, 20):
            touch("touchMove", (150, y))
        touch("touchEnd")
        assert answered(page)
        page.get_by_role("button", name="Undo", exact=True).tap()
        page.get_by_text(HINT).wait_for(timeout=20_000)
    finally:
        context.close()

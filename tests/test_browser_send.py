"""The drawing goes to the app soon after the pen lifts: the page's script (views/style.py,
CANVAS_TOOLBAR) sends it through the component's own send button, ahead of the component's
200 ms wait. Needs Debian's chromium (/usr/bin/chromium); skipped without it unless
MNIST_SMALL_REQUIRE_BROWSER=1.

Not timed (speed lives in benchmarks.browser_latency): the component's own wait is made ten
minutes long instead, so an answer can only come from the page's send.
"""

from __future__ import annotations

import pytest

from benchmarks.appserver import HINT, running_app
from views.style import SEND_AFTER_MS

from .browser import MARKS, big_digit, draw

pytestmark = MARKS

COMPONENT_WAIT_MS = 200  # streamlit-drawable-canvas 0.13's debounce before it sends a drawing
# Every timer of exactly the component's wait that the component's own bundle sets (index-<hash>.js;
# Streamlit's bundles are Name.<hash>.js and set 200 ms timers of their own) made ten minutes long,
# before any script of the page runs.
STALL_THE_COMPONENTS_SEND = f"""
const setTimeoutAsIs = window.setTimeout;
const bundle = /\\/index-[A-Za-z0-9_-]+\\.js/;
window.setTimeout = (handler, ms, ...args) =>
  setTimeoutAsIs(handler, ms === {COMPONENT_WAIT_MS} && bundle.test(new Error().stack || '') ? 600000 : ms, ...args);
"""
ONE = [[(150, 40), (145, 140), (140, 245)]]
SEVEN = [[(60, 50), (220, 50), (120, 250)]]


@pytest.fixture(scope="module")
def app_url():
    with running_app() as url:
        yield url


def test_the_page_sends_a_stroke_without_the_components_wait(browser, app_url):
    assert SEND_AFTER_MS < COMPONENT_WAIT_MS
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        context.add_init_script(STALL_THE_COMPONENTS_SEND)
        page = context.new_page()
        page.goto(app_url)
        page.get_by_text(HINT).wait_for(timeout=60_000)
        draw(page, ONE)
        assert big_digit(page) == "1"
        draw(page, SEVEN)  # a second stroke on the same canvas: sent too
        page.get_by_role("button", name="Clear the canvas").click()
        page.get_by_text(HINT).wait_for(timeout=20_000)
        draw(page, SEVEN)  # a new canvas (the script adopts each one)
        assert big_digit(page) == "7"
    finally:
        context.close()

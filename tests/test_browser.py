"""The app in a real Chromium: draw with the mouse, read the prediction, switch views.

Needs Debian's chromium (/usr/bin/chromium); skipped without it unless
MNIST_SMALL_REQUIRE_BROWSER=1 (set by CI), where a missing browser is a failure.
Saves screenshots to docs/ for the README.
"""

import re

import pytest
from playwright.sync_api import expect
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from benchmarks.appserver import BIG_DIGIT, CANVAS, HINT, ROOT, running_app
from mnist_small.registry import PEN, REGISTRY

from .browser import MARKS, assert_no_error, big_digit, draw
from .conftest import CHECKPOINTS, MNIST_DIR, paper_photo

DOCS = ROOT / "docs"
pytestmark = MARKS


@pytest.fixture(scope="module")
def app_url():
    # MNIST on disk, when the tests have it, for the views that show training and test digits
    with running_app(env={"MNIST_SMALL_DATA": str(MNIST_DIR)} if MNIST_DIR.is_dir() else None) as url:
        yield url


def pick_model(page, architecture: str, pen: bool) -> str:
    """Pick an architecture and what it was trained on in the sidebar; returns the model's name."""
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name=re.compile(re.escape(architecture))).click()
    name = architecture + PEN if pen else architecture
    kind = page.get_by_role("radiogroup", name="Trained on").get_by_role(
        "radio", name="MNIST + pen writers" if pen else "MNIST", exact=True
    )
    kind.click()
    expect(kind).to_be_checked(timeout=20_000)
    return name


def has_twin(name: str) -> bool:
    return (CHECKPOINTS / f"{name}{PEN}.json").exists()


def test_draw_switch_compare_and_curves(page, app_url):
    page.goto(app_url)
    page.get_by_text(HINT).wait_for(timeout=60_000)
    DOCS.mkdir(exist_ok=True)

    draw(page, [[(150, 40), (145, 140), (140, 245)]])  # a one
    assert big_digit(page) == "1"
    expect(page.locator(".js-plotly-plot", has_text="probability")).to_be_visible(timeout=20_000)  # the bars, drawn
    page.wait_for_timeout(500)
    page.screenshot(path=str(DOCS / "app-draw.png"))

    # switch the model in the sidebar; the drawing stays and the new model answers
    other = [name for name in REGISTRY if not name.endswith(PEN)][-1]
    page.get_by_text(f"{pick_model(page, other, pen=False)} says").wait_for(timeout=20_000)
    assert big_digit(page) == "1"
    if has_twin(other):  # and its +pen twin: the same architecture, the same drawing
        page.get_by_text(f"{pick_model(page, other, pen=True)} says").wait_for(timeout=20_000)
        assert big_digit(page) == "1"

    page.get_by_role("tab", name=re.compile("Compare models")).click()
    page.get_by_text(re.compile(r"models (agree|disagree)")).first.wait_for(timeout=20_000)
    expect(page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"] input')).to_have_value(other)  # kept over reruns
    page.wait_for_timeout(800)
    page.screenshot(path=str(DOCS / "app-compare.png"))

    page.get_by_role("tab", name=re.compile("Training curves")).click()
    page.locator(".js-plotly-plot", has_text="learning rate").wait_for(timeout=20_000)
    page.wait_for_timeout(800)
    page.screenshot(path=str(DOCS / "app-curves.png"))

    page.get_by_role("tab", name="Zoo").click()
    page.locator(".js-plotly-plot", has_text="Size vs accuracy").wait_for(timeout=20_000)
    page.wait_for_timeout(800)
    page.screenshot(path=str(DOCS / "app-zoo.png"))
    assert_no_error(page)


def test_inside_view_hides_the_part_of_a_four_the_model_needs(page, app_url):
    page.goto(app_url)
    page.get_by_text(HINT).wait_for(timeout=60_000)
    draw(page, [[(80, 50), (60, 150), (200, 150)], [(170, 60), (170, 250)]])  # a four in two strokes
    big_digit(page)
    expect(page.locator(BIG_DIGIT).first).to_have_text("4", timeout=20_000)  # after the second stroke
    page.get_by_role("tab", name=re.compile("Inside the model")).click()
    page.get_by_text(re.compile(r"brightest spot hidden: \d \(\d+%\)|no patch matters")).wait_for(timeout=20_000)
    page.wait_for_timeout(800)
    page.screenshot(path=str(DOCS / "app-inside.png"))
    assert_no_error(page)


def test_model_card_shows_training_digits_as_the_model_saw_them(page, app_url, mnist):
    page.goto(app_url)
    page.get_by_text(HINT).wait_for(timeout=60_000)
    name = pick_model(page, "three_blocks_9.6k", pen=has_twin("three_blocks_9.6k"))  # the +pen card names its data
    page.get_by_role("tab", name=re.compile("Model card")).click()
    page.get_by_text(f"Training digits as {name} saw them").wait_for(timeout=30_000)
    expect(page.locator('[data-testid="stImage"] img')).to_have_count(10, timeout=20_000)  # one picture per digit
    page.wait_for_timeout(800)
    page.screenshot(path=str(DOCS / "app-card.png"))
    assert_no_error(page)


def test_the_whole_canvas_takes_strokes_on_a_1024_px_projector(page, app_url):
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(app_url)
    page.get_by_text(HINT).wait_for(timeout=60_000)
    draw(page, [[(262, 40), (262, 140), (262, 245)]])  # a one along the canvas's right edge
    assert big_digit(page) == "1"
    canvas, answer = page.locator(CANVAS).bounding_box(), page.locator(".st-key-answer").bounding_box()
    assert answer["x"] >= canvas["x"] + canvas["width"] and answer["y"] < 768 / 2  # beside the canvas, in view
    # what the models see is under the canvas, where there is room, and shown once
    expect(page.locator(".st-key-pictures_under img")).to_be_visible()
    expect(page.locator(".st-key-pictures_beside img")).to_be_hidden()
    assert page.locator(".st-key-pictures_under").bounding_box()["y"] > canvas["y"] + canvas["height"]
    assert_no_error(page)


def test_a_tablet_held_upright_draws_by_touch_and_shows_the_answer_below(browser, app_url):
    """820x1180 with the sidebar open: too narrow for the answer beside the canvas, so it wraps below."""
    context = browser.new_context(viewport={"width": 820, "height": 1180}, has_touch=True, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(app_url)
        page.get_by_text(HINT).wait_for(timeout=60_000)
        canvas = page.locator(CANVAS)
        canvas.wait_for(timeout=30_000)
        box = canvas.bounding_box()
        cdp = context.new_cdp_session(page)

        def touch(kind, *points):
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": box["x"] + x, "y": box["y"] + y} for x, y in points]})

        touch("touchStart", (150, 40))
        for y in range(50, 250, 10):  # a one, drawn with a finger
            touch("touchMove", (150 - y / 40, y))
        touch("touchEnd")
        assert big_digit(page) == "1"
        answer = page.locator(".st-key-answer").bounding_box()
        assert answer["y"] > box["y"] + box["height"] and answer["width"] > box["width"]
        assert answer["y"] < 1180  # the digit is in view without scrolling
        # what the models see moved beside the verdict, not left under the canvas above it
        expect(page.locator(".st-key-pictures_beside img")).to_be_visible()
        expect(page.locator(".st-key-pictures_under img")).to_be_hidden()
        assert_no_error(page)
    finally:
        context.close()


def test_a_phone_in_dark_mode_gets_the_dark_theme_and_the_answer_in_view(browser, app_url, playwright):
    """400x780 (a phone's browser window) with a dark system theme and a phone's user agent."""
    phone = playwright.devices["Pixel 5"]["user_agent"]
    context = browser.new_context(viewport={"width": 400, "height": 780}, color_scheme="dark", user_agent=phone)
    try:
        page = context.new_page()
        page.goto(app_url)
        page.get_by_text(HINT).wait_for(timeout=60_000)
        background = page.evaluate("getComputedStyle(document.querySelector('.stApp')).backgroundColor")
        assert max(int(v) for v in re.findall(r"\d+", background)[:3]) < 60, background
        draw(page, [[(150, 40), (145, 140), (140, 245)]])
        assert big_digit(page) == "1"
        digit = page.locator(BIG_DIGIT).first.bounding_box()
        assert digit["y"] + digit["height"] < 780  # right under the canvas, in view without scrolling
        expect(page.locator(".st-key-pictures_beside img")).to_be_visible()
        page.get_by_role("tab", name="Zoo").click()
        expect(page.get_by_text("smallest model first")).to_be_visible()  # the phone's zoo chart, not the scatter
        assert_no_error(page)
    finally:
        context.close()


def test_an_uploaded_photo_of_a_digit_on_paper_is_read(page, app_url, mnist, tmp_path):
    photo = tmp_path / "seven.jpg"
    paper_photo(mnist.test_images[0, 0].numpy(), 900).save(photo)  # test digit 0 is a 7
    page.goto(app_url)
    page.get_by_text(HINT).wait_for(timeout=60_000)
    page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(str(photo))
    page.get_by_text("Reading the uploaded").wait_for(timeout=20_000)
    assert big_digit(page) == "7"
    page.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(timeout=20_000)  # the bars, not their placeholder
    page.wait_for_timeout(500)
    page.screenshot(path=str(DOCS / "app-upload.png"))
    broken = tmp_path / "notes.png"
    broken.write_text("not a picture")
    page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(str(broken))
    page.get_by_text("notes.png is not a readable image").wait_for(timeout=20_000)
    assert_no_error(page)


def watch_script_runs(page) -> list[str]:
    """How each script run of the page's session ended, as the server tells the browser:
    FINISHED_SUCCESSFULLY for a run of the whole script, FINISHED_FRAGMENT_RUN_SUCCESSFULLY for a
    fragment's own rerun. Filled as the messages arrive (one ForwardMsg per websocket frame)."""
    ends: list[str] = []

    def on_frame(payload: str | bytes) -> None:
        if isinstance(payload, bytes):
            message = ForwardMsg.FromString(payload)
            if message.WhichOneof("type") == "script_finished":
                ends.append(ForwardMsg.ScriptFinishedStatus.Name(message.script_finished))

    page.on("websocket", lambda socket: socket.on("framereceived", on_frame))
    return ends


def runs_of(page, ends: list[str], action) -> list[str]:
    """The script runs that ``action`` sets off, once the page has been quiet for a second."""
    page.wait_for_timeout(1000)  # runs set off before, e.g. by opening the tab, have ended
    before = len(ends)
    action()
    for _ in range(40):
        page.wait_for_timeout(500)
        if len(ends) > before and page.locator('[data-testid="stStatusWidget"]').count() == 0:
            break
    page.wait_for_timeout(1000)
    return ends[before:]


def test_widgets_of_one_view_rerun_that_view_alone(page, app_url, mnist):
    """The layer picker, "New random draw" and the mistakes filter are in fragments: using them
    reruns their view, not the whole page (model loading, the canvas, every model's answer)."""
    ends = watch_script_runs(page)
    page.goto(app_url)
    page.get_by_text(HINT).wait_for(timeout=60_000)
    assert runs_of(page, ends, lambda: draw(page, [[(150, 40), (145, 140), (140, 245)]])) == ["FINISHED_SUCCESSFULLY"]
    assert big_digit(page) == "1"

    page.get_by_role("tab", name=re.compile("Inside the model")).click()
    page.get_by_text(re.compile(r"brightest spot hidden|no patch matters")).wait_for(timeout=20_000)
    layer = page.get_by_role("combobox", name="Layer")
    first_layer = layer.input_value()
    channel_0 = page.locator('[data-testid="stImageContainer"]', has=page.get_by_text("ch 0", exact=True)).locator("img")
    first_maps = channel_0.get_attribute("src")  # a media URL: a hash of the picture

    def pick_the_next_layer():
        layer.click()
        page.get_by_role("option").nth(1).click()

    assert runs_of(page, ends, pick_the_next_layer) == ["FINISHED_FRAGMENT_RUN_SUCCESSFULLY"]
    assert layer.input_value() != first_layer
    expect(channel_0).not_to_have_attribute("src", first_maps)  # the feature maps of the layer picked
    expect(page.locator(BIG_DIGIT).first).to_have_text("1")  # the Draw tab (hidden) kept its answer

    page.get_by_role("tab", name=re.compile("Model card")).click()
    redraw = page.get_by_role("button", name="New random draw")
    redraw.wait_for(timeout=20_000)
    assert runs_of(page, ends, redraw.click) == ["FINISHED_FRAGMENT_RUN_SUCCESSFULLY"]

    page.get_by_role("tab", name=re.compile("Errors on MNIST")).click()
    mistakes = page.get_by_role("combobox", name="Show")
    mistakes.wait_for(timeout=20_000)

    def pick_one_confusion():
        mistakes.click()
        page.get_by_role("option", name=re.compile(r"read as")).first.click()

    assert runs_of(page, ends, pick_one_confusion) == ["FINISHED_FRAGMENT_RUN_SUCCESSFULLY"]
    expect(mistakes).to_have_value(re.compile(r"read as"))
    assert_no_error(page)

"""Class mode in a real Chromium: two students on two app processes that share one database
each keep a drawing; the teacher's page, open on the Class tab all along, shows both without a
reload. On PostgreSQL where there is one (CI), else on one SQLite file. Saves the Class tab's
screenshots (desktop and phone) to docs/."""

import os
import re

import pytest
from playwright.sync_api import expect

from benchmarks.appserver import ROOT, running_app
from mnist_small.classset.folder import export_set
from mnist_small.classset.store import ClassSet

from .browser import MARKS, assert_no_error, big_digit, draw
from .conftest import MNIST_DIR, PEN_DIR, class_rows

DOCS = ROOT / "docs"
pytestmark = MARKS
SEVEN = [[(60, 50), (220, 50), (120, 240)]]
ONE = [[(130, 40), (150, 240)]]


def keep(page, url: str, strokes, digit: str) -> None:
    """A student opens the app, draws, picks the digit they meant and adds the drawing."""
    page.goto(url)
    draw(page, strokes)
    assert big_digit(page)  # the models answered
    page.get_by_role("radiogroup", name="Which digit did you mean?").get_by_role("radio", name=digit, exact=True).click()
    page.get_by_role("button", name="Add to the class set").click()
    expect(page.get_by_text(re.compile(f"^Added: your {digit}"))).to_be_visible(timeout=20_000)


def earlier_drawings(mnist) -> list[dict]:
    """120 drawings by 10 students: the pen validation writers' digits drawn as on the canvas
    where the pen digits are at hand (so the leaderboard tells the models apart), else MNIST's."""
    if not (PEN_DIR / "pendigits-orig.tra").exists():
        return class_rows(mnist, 120, 10, prefix="earlier-")
    from mnist_small.handwriting.render import validation_set

    drawn = validation_set(PEN_DIR)
    picked = [i for w in sorted(set(drawn.writers.tolist())) for i in (drawn.writers == w).nonzero().flatten()[:12].tolist()]
    return [
        {
            "created": i,
            "student": f"writer-{int(drawn.writers[i])}",
            "label": int(drawn.labels[i]),
            "image": drawn.images[i].numpy() / 255,
            "png": b"",
        }
        for i in picked
    ]


@pytest.fixture
def shared_db(request, tmp_path, mnist):
    """One database for both app processes, already holding 120 drawings by 10 students, as a
    class half-way through a lesson."""
    url = request.getfixturevalue("pg_url") if os.environ.get("MNIST_SMALL_TEST_PG") else f"sqlite:///{tmp_path / 'class.db'}"
    store = ClassSet(url)
    store.clear()
    store.import_rows(earlier_drawings(mnist))
    store.dispose()
    return url


def test_two_students_on_two_servers_and_the_teacher_sees_both(browser, shared_db, tmp_path):
    db_url = shared_db
    env = {
        "MNIST_SMALL_DB": db_url,
        "MNIST_SMALL_TEACHER_CODE": "owl",
        "MNIST_SMALL_DATA": str(MNIST_DIR if MNIST_DIR.is_dir() else tmp_path),
    }
    with running_app(env=env) as first, running_app(env=env) as second:
        contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(3)]  # three browsers: three students
        teacher, one, two = (c.new_page() for c in contexts)
        teacher.goto(second)
        teacher.get_by_role("tab", name="Class").click()
        expect(teacher.get_by_text(re.compile(r"120 drawings by 10 students"))).to_be_visible(timeout=30_000)

        keep(one, first, SEVEN, "7")
        keep(two, second, ONE, "1")
        # no reload: the Class tab refreshes itself
        expect(teacher.get_by_text(re.compile(r"122 drawings by 12 students"))).to_be_visible(timeout=20_000)
        expect(teacher.get_by_text("Which model reads our handwriting best?")).to_be_visible()
        assert_no_error(teacher)
        expect(teacher.locator(".js-plotly-plot").nth(1)).to_be_visible(timeout=20_000)
        teacher.screenshot(path=str(DOCS / "app-class.png"))
        teacher.get_by_label("Teacher code").fill("owl")
        teacher.get_by_label("Teacher code").press("Enter")
        expect(teacher.get_by_role("button", name="Start teaching")).to_be_visible(timeout=20_000)
        assert_no_error(teacher)

        phone = browser.new_context(viewport={"width": 393, "height": 851}, device_scale_factor=2, is_mobile=True, has_touch=True)
        page = phone.new_page()
        page.goto(first)
        page.get_by_role("tab", name="Class").click()
        expect(page.get_by_text(re.compile(r"122 drawings by 12 students"))).to_be_visible(timeout=30_000)
        expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=20_000)  # charts drawn, not their placeholders
        page.wait_for_timeout(1000)
        page.screenshot(path=str(DOCS / "app-class-phone.png"))
        phone.close()
        for c in contexts:
            c.close()


def test_two_classes_on_one_server_stay_apart(browser, tmp_path, mnist):
    """Two classes joined by link on one server, a student each in a browser of their own: each
    class's page, leaderboard and export hold its own drawing only; a reload keeps the tab."""
    url = f"sqlite:///{tmp_path / 'school.db'}"
    school = ClassSet(url)
    for code in ("7a", "7b"):
        school.in_class(code).open_class()
    env = {"MNIST_SMALL_DB": url, "MNIST_SMALL_DATA": str(MNIST_DIR if MNIST_DIR.is_dir() else tmp_path)}
    with running_app(env=env) as app:
        contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(2)]
        a, b = (c.new_page() for c in contexts)
        keep(a, f"{app}?class=7a", SEVEN, "7")
        keep(b, f"{app}?class=7B", ONE, "1")
        expect(a.get_by_text("Class 7a", exact=False).first).to_be_visible()
        for page, code, digit in ((a, "7a", "7"), (b, "7b", "1")):
            page.get_by_role("tab", name="Class").click()
            expect(page.get_by_text(re.compile(r"1 drawing by 1 student"))).to_be_visible(timeout=30_000)
            expect(page.locator("[data-testid=stMain] [data-testid=stCode]").first).to_contain_text(f"?class={code}")  # its join link
            expect(page.locator(".st-key-join_qr img").first).to_be_visible()
            page.reload()  # the tab and the class are in the URL
            expect(page.get_by_text(re.compile(r"1 drawing by 1 student"))).to_be_visible(timeout=30_000)
            assert f"class={code}" in page.url and "view=Class" in page.url
            assert_no_error(page)
            exported = export_set(ClassSet(url, code), tmp_path / code)
            assert exported == 1 and f",{digit}," in (tmp_path / code / "labels.csv").read_text()
        a.screenshot(path=str(DOCS / "app-class-join.png"))
        assert ClassSet(url).all() == []  # the default class got nothing
        for c in contexts:
            c.close()

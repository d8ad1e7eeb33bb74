"""Classes and links in the app (AppTest): a page joined by ``?class=CODE`` keeps its drawings
in that class, a class that is not open takes none, the Class tab shows its join link and QR
code, the teacher opens classes, and the model and tab live in the URL."""

from __future__ import annotations

import io

import numpy as np
import pytest
import segno
from PIL import Image
from streamlit.testing.v1 import AppTest

from mnist_small.classset.store import ClassSet
from mnist_small.registry import REGISTRY
from views.classes import qr_png

from .apptest import APP
from .conftest import draw_on_canvas


def page(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def add(at: AppTest, digit: str) -> AppTest:
    at.segmented_control(key="class_label").set_value(digit).run()
    return at.button(key="class_add").click().run()


def badge_text(at: AppTest) -> str:
    """The class line above the tabs."""
    return "\n".join(str(m.value) for m in at.main.markdown) + "\n".join(str(w.value) for w in at.main.warning)


def test_a_page_joined_by_class_code_adds_to_that_class_only(canvas, mnist, class_db):
    ClassSet(class_db, "7b").open_class()
    canvas.image = draw_on_canvas(mnist.test_images[0, 0].numpy())  # a 7
    at = add(page({"class": "7B"}), "7")
    assert not at.exception
    assert "Class **7b**" in badge_text(at)
    assert any(s.value.startswith("Added: your 7") for s in at.success)
    assert [d.label for d in ClassSet(class_db, "7b").all()] == [7]
    assert ClassSet(class_db).all() == []  # the default class got nothing


def test_a_class_that_is_not_open_takes_no_drawings(canvas, mnist, class_db):
    canvas.image = draw_on_canvas(mnist.test_images[0, 0].numpy())
    at = add(page({"class": "8c"}), "7")
    assert "Class 8c is not open" in badge_text(at)
    assert any("class 8c is not open" in w.value for w in at.warning)
    store = ClassSet(class_db, "8c")
    assert store.all() == [] and not store.is_open()


def test_a_bad_class_code_is_said_and_the_page_still_works(canvas, mnist, class_db):
    canvas.image = draw_on_canvas(mnist.test_images[0, 0].numpy())
    at = page({"class": "<script>"})
    assert not at.exception
    assert any("class code cannot be used" in w.value for w in at.warning)
    assert any("says" in m.value for m in at.markdown)  # the models still answer


def test_the_class_tab_shows_its_join_link_and_qr_code(mnist, class_db, monkeypatch):
    monkeypatch.setenv("MNIST_SMALL_PUBLIC_URL", "http://school.example:8500")
    ClassSet(class_db, "7b").open_class()
    at = page({"class": "7b", "view": "Class"})
    assert not at.exception
    assert "http://school.example:8500/?class=7b" in [c.value for c in at.code]
    assert len(at.get("image")) == 1  # the QR code


def test_the_qr_code_holds_the_link_module_by_module():
    link = "http://school.example:8500/?class=7b"
    picture = np.asarray(Image.open(io.BytesIO(qr_png.__wrapped__(link))).convert("L"))
    modules = picture[6::12, 6::12] < 128  # the centre of each 12-pixel module
    expected = np.array(segno.make(link, error="m").matrix, bool)
    assert (modules[2:-2, 2:-2] == expected).all() and not modules[:2].any()  # and a quiet border


def test_the_teacher_opens_a_class_goes_there_and_closes_it(mnist, class_db, monkeypatch):
    monkeypatch.setenv("MNIST_SMALL_TEACHER_CODE", "letmein-42")
    at = page({"view": "Class"})
    at.text_input(key="teacher_code_entered").set_value("letmein-42").run()
    at.text_input(key="new_class").set_value("9A")
    at.button[[b.label for b in at.button].index("Open")].click().run()  # the form's submit button
    assert not at.exception
    assert ClassSet(class_db, "9a").is_open()
    assert at.query_params["class"] in ("9a", ["9a"])  # the page moved to the new class, teacher still unlocked
    assert at.button(key="class_toggle_9a").label == "Close"
    at.button(key="class_toggle_9a").click().run()
    assert not ClassSet(class_db, "9a").is_open()
    assert "Class 9a is not open" in badge_text(at)
    at.button(key="class_go_default").click().run()
    assert "class" not in at.query_params


LINKED = [next(name for name in REGISTRY if name.endswith("+pen")), next(iter(REGISTRY))]  # a twin, and a name without a "+"


@pytest.mark.parametrize("model", LINKED)
def test_a_link_opens_its_model_and_tab_and_the_url_follows_the_page(mnist, class_db, model):
    at = page({"model": model.replace("+", " "), "view": "Zoo"})  # a "+" typed into a link arrives as a space
    assert not at.exception
    assert at.session_state["view"] == "Zoo"
    assert at.query_params["model"] == [model] or at.query_params["model"] == model
    other = next(name for name in REGISTRY if "+" not in name and name != model.split("+")[0])
    at.selectbox(key="model").set_value(other).run()
    assert str(at.query_params["model"]).strip("[]'").startswith(other)
    assert any("view=Zoo" in c.value and "model=" in c.value for c in at.sidebar.code)  # the link to this view

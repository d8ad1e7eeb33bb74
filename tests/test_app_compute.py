"""Which models the app runs (AppTest): the Draw tab the chosen model only, the Compare tab every
model once per drawing, and adding a drawing to the class set runs none (it keeps the answers shown)."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pytest
import torch
from torch import nn

from mnist_small.checkpoints import load_all
from mnist_small.inference import all_probabilities
from mnist_small.models import Net
from mnist_small.preprocess import prepare
from mnist_small.summary import guesses

from .apptest import FIRST, chart, run_app
from .conftest import CHECKPOINTS, draw_on_canvas

OTHER = "three_blocks_9.6k"  # not FIRST: the answer must come from the model picked


class Forwards:
    """Every forward pass of a model that the app runs (each model is a Net), and its input."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[nn.Module, torch.Tensor]] = []
        original = Net.forward

        def counted(model: Net, x: torch.Tensor) -> torch.Tensor:
            self.calls.append((model, x.clone()))
            return original(model, x)

        monkeypatch.setattr(Net, "forward", counted)

    def on(self, canvas: np.ndarray) -> Counter[str]:
        """The passes so far on the drawing ``canvas`` (others, such as a model card's layer table on
        a blank input, cached once per process, are left out), by model name; and start afresh."""
        from views.resources import load_models

        by_model = {loaded.model: name for name, loaded in load_models(CHECKPOINTS)[0].items()}
        drawing = prepare(canvas).tensor()
        on_drawing = [model for model, x in self.calls if x.shape == drawing.shape and torch.equal(x, drawing)]
        self.calls.clear()
        assert set(on_drawing) <= set(by_model), "a forward pass of a model the app does not hold"
        return Counter(by_model[model] for model in on_drawing)


@pytest.fixture
def forwards(monkeypatch: pytest.MonkeyPatch) -> Forwards:
    return Forwards(monkeypatch)


@pytest.fixture(scope="module")
def zoo() -> dict:
    models, _ = load_all(CHECKPOINTS)
    assert len(models) >= 2 and all(isinstance(loaded.model, Net) for loaded in models.values())
    return models


def every_answer(zoo: dict, canvas: np.ndarray) -> dict[str, int]:
    """Every model's digit for ``canvas``, computed here from freshly loaded checkpoints."""
    return guesses(all_probabilities(zoo, prepare(canvas).tensor()))


@pytest.mark.parametrize("model", [FIRST, OTHER])
def test_the_draw_tab_runs_the_chosen_model_only(canvas, mnist, forwards, model):
    canvas.image = draw_on_canvas(mnist.test_images[0, 0].numpy())  # a 7
    at = run_app(model=model)
    assert not at.exception
    assert forwards.on(canvas.image) == {model: 1}
    assert chart(at, "bars")  # its answer is shown
    other = FIRST if model == OTHER else OTHER
    at.selectbox(key="model").select(other).run()
    assert forwards.on(canvas.image) == {other: 1}


def test_without_a_digit_no_model_runs(canvas, forwards):
    at = run_app("Compare models")
    assert not at.exception
    assert all(not x.any() for _, x in forwards.calls)  # none but a model card's layer table, on a zero input


def test_compare_runs_every_model_once_per_drawing(canvas, mnist, forwards, zoo):
    canvas.image = draw_on_canvas(mnist.test_images[0, 0].numpy())
    at = run_app("Compare models")
    assert not at.exception
    assert forwards.on(canvas.image) == Counter(list(zoo)) + Counter([FIRST])  # every model, and the Draw tab's own
    heatmap = chart(at, "compare")["data"][0]
    assert sorted(heatmap["y"]) == sorted(zoo)
    at.run()  # the same drawing again (a rerun that changed nothing else)
    assert forwards.on(canvas.image) == {FIRST: 1}
    canvas.image = draw_on_canvas(mnist.test_images[1, 0].numpy())  # a new drawing: every model again
    at.run()
    assert forwards.on(canvas.image) == Counter(list(zoo)) + Counter([FIRST])


def test_adding_runs_no_model_and_stores_the_answer_the_student_saw(canvas, mnist, class_db, forwards, zoo):
    from mnist_small.classset.store import ClassSet

    for index in (0, 8):  # a 7, and a 5 that not every model reads alike
        canvas.image = draw_on_canvas(mnist.test_images[index, 0].numpy())
        at = run_app()
        at.segmented_control(key="class_label").set_value(str(int(mnist.test_labels[index]))).run()
        assert set(forwards.on(canvas.image)) == {FIRST}  # drawing and picking the label (AppTest reruns it all): the chosen model only
        at.button(key="class_add").click().run()
        assert not at.exception
        assert any(s.value.startswith("Added") for s in at.success)
        assert set(forwards.on(canvas.image)) <= {FIRST}  # the click itself runs no other model: the Class view does, batched
        kept = max(ClassSet(class_db).all(), key=lambda drawing: drawing.id)
        assert kept.answers == {FIRST: every_answer(zoo, canvas.image)[FIRST]}
        time.sleep(1.05)  # the class set takes one drawing per student per second


def test_adding_after_compare_reuses_its_answers(canvas, mnist, class_db, forwards, zoo):
    from mnist_small.classset.store import ClassSet

    canvas.image = draw_on_canvas(mnist.test_images[0, 0].numpy())
    at = run_app("Compare models")
    forwards.on(canvas.image)
    at.session_state["view"] = "Draw"  # back to the Draw tab to add the drawing
    at.run()
    at.segmented_control(key="class_label").set_value("7").run()
    at.button(key="class_add").click().run()
    assert not at.exception
    again = forwards.on(canvas.image)
    assert set(again) <= {FIRST}  # the page's own answer, never every model again
    (kept,) = ClassSet(class_db).all()
    assert kept.answers == every_answer(zoo, canvas.image)

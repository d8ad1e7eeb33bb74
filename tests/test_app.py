"""The Streamlit app under AppTest, with the canvas replaced by a fake that returns a drawing."""

import dataclasses
import json
import re
import shutil

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from mnist_small.checkpoints import load_checkpoint, read_run, save_checkpoint, save_run
from mnist_small.published import load_published
from mnist_small.records import Misread
from mnist_small.registry import PEN, REGISTRY, twin
from mnist_small.summary import hardest_digits, mistake_pairs

from .apptest import FIRST, chart, page_text, run_app
from .conftest import CHECKPOINTS, MNIST_DIR, draw_on_canvas, tap

ZOO = [name for name in REGISTRY if (CHECKPOINTS / f"{name}.json").exists()]  # the shipped models, +pen twins as they are trained
MNIST, WITH_PEN = "MNIST", "MNIST + pen writers"  # the sidebar's "Trained on" switch


def image_captions(at: AppTest) -> list[list[str]]:
    """The captions of each st.image gallery on the page, in page order."""
    return [element.captions for element in at.get("image")]


def training_digits(at: AppTest) -> list[str]:
    """The media URLs of the model card's training digits (one picture per digit, captioned 0-9)."""
    return [img.url for e in at.get("image") if e.captions == [str(d) for d in range(10)] for img in e.proto.imgs]


def decode(values) -> np.ndarray:
    if isinstance(values, dict) and "bdata" in values:
        import base64

        flat = np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
        return flat.reshape([int(n) for n in str(values.get("shape", len(flat))).split(",")])
    return np.asarray(values, dtype=float)


def test_empty_canvas_shows_the_hint(canvas):
    at = run_app()
    assert not at.exception
    assert any("Draw a digit" in i.value for i in at.info)
    assert not [c for c in at.get("plotly_chart") if "bars" in c.proto.id]


@pytest.mark.parametrize("index", [0, 2])  # a 7 and a 1 from the MNIST test set
def test_drawn_digit_gives_bars_topped_by_that_digit(canvas, mnist, index):
    label = int(mnist.test_labels[index])
    canvas.image = draw_on_canvas(mnist.test_images[index, 0].numpy())
    at = run_app()
    assert not at.exception
    bars = chart(at, "bars")["data"][0]
    assert int(np.argmax(decode(bars["y"]))) == label
    assert f"font-weight:700;line-height:1'>{label}</div>" in page_text(at)


def test_a_drawing_can_be_saved_once_there_is_one(canvas, mnist):
    """(That the saved PNG reads back as the same digit is tested in test_preprocess.)"""
    assert not run_app().sidebar.get("download_button")
    canvas.image = draw_on_canvas(mnist.test_images[0, 0].numpy())
    (save,) = run_app().sidebar.get("download_button")
    assert save.proto.label == "Save the drawing" and save.proto.ignore_rerun


def test_switching_model_keeps_the_drawing(canvas, mnist):
    canvas.image = draw_on_canvas(mnist.test_images[0, 0].numpy())
    at = run_app()
    other = [name for name in ZOO if not name.endswith(PEN)][-1]
    at.selectbox(key="model").select(other).run()
    assert not at.exception
    assert f"{other} says" in page_text(at)
    assert chart(at, "bars")
    at.session_state["view"] = "Compare models"
    at.run()
    heatmap = chart(at, "compare")["data"][0]
    assert heatmap["y"] == ZOO


def test_a_left_out_dot_is_named_and_two_digits_are_warned_about(canvas, mnist):
    canvas.image = tap(draw_on_canvas(mnist.test_images[0, 0].numpy(), size=150, top=60, left=60), 20, 20)
    at = run_app()
    assert any("stray dot left out" in caption for captions in image_captions(at) for caption in captions)
    two = draw_on_canvas(mnist.test_images[1, 0].numpy(), size=120, top=80, left=150)
    canvas.image = np.maximum(draw_on_canvas(mnist.test_images[0, 0].numpy(), size=120, top=80, left=20), two)
    for view in (None, "Compare models"):
        assert any("more than one digit" in w.value for w in run_app(view).warning)


@pytest.mark.parametrize("view", ["Compare models", "Inside the model", "Training curves", "Model card", "Zoo", "Errors on MNIST"])
def test_every_view_renders_for_a_drawing(canvas, mnist, view):
    canvas.image = draw_on_canvas(mnist.test_images[0, 0].numpy())
    at = run_app(view)
    assert not at.exception
    assert not at.error


def test_inside_view_shows_where_hiding_the_drawing_hurts(canvas, mnist):
    canvas.image = draw_on_canvas(mnist.test_images[0, 0].numpy())
    at = run_app("Inside the model")
    drop = decode(chart(at, "occlusion")["data"][0]["z"])
    assert drop.shape == (28, 28)
    assert drop.min() == 0 and 0 < drop.max() <= 1  # black background corners, some patch matters
    # the first layer's feature maps, one picture per channel
    channels = next(m.out_channels for m in REGISTRY[FIRST].build().modules() if isinstance(m, torch.nn.Conv2d))
    assert [f"ch {i}" for i in range(channels)] in image_captions(at)


def test_curves_tab_uses_the_stored_history(canvas):
    at = run_app("Training curves")
    history = json.loads((CHECKPOINTS / f"{FIRST}.json").read_text())["history"]
    spec = chart(at, "curves-1")  # loss, accuracy, learning rate
    test_acc = next(t for t in spec["data"] if t["name"] == f"{FIRST} test")
    np.testing.assert_allclose(decode(test_acc["y"]), [h["test_acc"] for h in history])

    # FIRST learns from the labels alone; its +pen twin, overlaid when it is loaded, from FIRST too
    named = [re.search(r"teacher model \(([^)]*)\)", c.value) for c in at.caption]
    assert [m.group(1) for m in named if m] == ([FIRST + PEN] if (CHECKPOINTS / f"{FIRST}{PEN}.json").exists() else [])


def test_curves_tab_shows_the_write_ups_own_run_until_toggled_off(canvas):
    published = load_published()[FIRST]
    at = run_app("Training curves")
    traces = {t["name"]: t for t in chart(at, "curves-1")["data"]}
    given = [e for e in published.epochs if e.test_acc is not None]
    np.testing.assert_allclose(decode(traces[f"{FIRST} as published test"]["y"]), [e.test_acc for e in given])
    assert traces[f"{FIRST} as published test"]["line"]["dash"] == "dash"
    assert any("as published" in c.value for c in at.caption)

    at.toggle(key="curves_published").set_value(False).run()
    assert not [t for i in range(3) for t in chart(at, f"curves-{i}")["data"] if "as published" in t["name"]]
    assert f"{FIRST} test" in {t["name"] for t in chart(at, "curves-1")["data"]}  # ours stays
    assert not any("as published" in c.value for c in at.caption)


def test_model_card_shows_the_write_ups_final_beside_ours(canvas):
    final = load_published()[FIRST].final()
    text = page_text(run_app("Model card"))
    assert f"final {final.test_acc:.2f}% (epoch {final.epoch})" in text and "points" in text
    assert "The write-up's own run" not in page_text(run_app("Model card", model=twin(FIRST)))  # no write-up trained a +pen twin


def test_curves_tab_says_why_a_distilled_models_training_loss_is_higher(canvas):
    distilled = next(name for name, spec in REGISTRY.items() if spec.recipe.teacher)
    at = run_app()
    at.selectbox(key="model").select(distilled).run()
    at.session_state["view"] = "Training curves"
    at.run()
    assert any(distilled in c.value and "teacher" in c.value for c in at.caption)


def stored_mistakes(name: str) -> list[Misread]:
    """The misclassified test digits as the checkpoint's JSON lists them, read without the app's code."""
    return [Misread(**m) for m in json.loads((CHECKPOINTS / f"{name}.json").read_text())["misclassified"]]


def test_errors_view_shows_one_confusion_at_a_time(canvas, mnist, monkeypatch):
    monkeypatch.setenv("MNIST_SMALL_DATA", str(MNIST_DIR))
    at = run_app("Errors on MNIST")
    true, predicted, count = mistake_pairs(stored_mistakes(FIRST))[0]
    at.selectbox(key=f"mistakes-{FIRST}").select_index(1).run()
    assert not at.exception
    assert image_captions(at)[0] == [f"{true}→{predicted}"] * count


def test_errors_view_shows_the_digits_most_models_get_wrong(canvas, mnist, monkeypatch):
    monkeypatch.setenv("MNIST_SMALL_DATA", str(MNIST_DIR))
    at = run_app("Errors on MNIST")
    assert not at.exception
    wrong_by = {name: stored_mistakes(name) for name in ZOO}
    hardest = hardest_digits(wrong_by)[0]
    hard_captions = image_captions(at)[1]
    assert hard_captions[0] == f"{hardest.label}→{hardest.common_answer} ({len(hardest.answers)})"
    fooled = [int(c.rsplit("(", 1)[1].rstrip(")")) for c in hard_captions]
    assert fooled == sorted(fooled, reverse=True) and fooled[0] >= 2  # most models wrong first
    assert any(f"fool at least one of the {len(ZOO)} models" in m.value for m in at.markdown)


def test_model_card_shows_training_digits_jittered_as_in_the_recipe(canvas, mnist, monkeypatch):
    monkeypatch.setenv("MNIST_SMALL_DATA", str(MNIST_DIR))
    at = run_app("Model card")
    assert any(REGISTRY[FIRST].recipe.augment.describe() in m.value for m in at.markdown)
    first = training_digits(at)
    assert len(first) == 10
    at.button(key="redraw").click().run()
    again = training_digits(at)
    assert len(again) == 10 and first != again  # a new random draw, in new pictures (media URLs are content hashes)


def test_model_card_without_mnist_on_disk_says_where_to_put_it(canvas, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_SMALL_DATA", str(tmp_path))
    at = run_app("Model card")
    assert not at.exception
    assert any("put MNIST in" in i.value for i in at.info)
    assert not training_digits(at)


def test_corrupt_checkpoint_is_unavailable_and_others_work(canvas, mnist, tmp_path, monkeypatch):
    shutil.copytree(CHECKPOINTS, tmp_path / "ckpt", ignore=shutil.ignore_patterns(f"*{PEN}.*"))  # the MNIST models alone
    broken = tmp_path / "ckpt" / f"{FIRST}.safetensors"
    broken.write_bytes(broken.read_bytes()[:64])
    monkeypatch.setenv("MNIST_SMALL_CHECKPOINTS", str(tmp_path / "ckpt"))
    canvas.image = draw_on_canvas(mnist.test_images[0, 0].numpy())
    at = run_app(model=None)
    assert not at.exception
    assert any(FIRST in w.value and "unavailable" in w.value for w in at.sidebar.warning)
    options = at.selectbox(key="model").options
    mnist_models = [name for name in ZOO if not name.endswith(PEN)]
    assert len(options) == len(mnist_models) - 1 and not any(o.startswith(FIRST) for o in options)
    assert int(np.argmax(decode(chart(at, "bars")["data"][0]["y"]))) == 7


def test_no_checkpoints_says_how_to_train(canvas, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_SMALL_CHECKPOINTS", str(tmp_path))
    at = run_app()
    assert not at.exception
    assert any("No trained models" in e.value for e in at.error)
    assert "python train.py" in page_text(at)


# ---- the +pen twins: a small zoo with real-handwriting figures made up for the tests ----------
A, B, C, D = "gap_bn_dropout_7.5k", "squeeze1x1_4.2k", "three_blocks_9.6k", "ours_separable_2.0k"  # in registry order
PEN_ACC = {A: 95.1, B: None, C: 96.0, D: 95.5, twin(A): 98.2, twin(B): 97.0, twin(C): 99.1}  # D has no twin; C+pen reads best
TWIN_CURVE = (97.4, 98.6, 99.1)  # C+pen's pen accuracy per fine-tuning epoch


@pytest.fixture(scope="module")
def pen_zoo(tmp_path_factory):
    """A, B, C and D trained on MNIST (their shipped checkpoints, B's real handwriting not measured)
    and the +pen twins of A, B and C: the MNIST weights under the twin's name and recipe, with a
    made-up fine-tuning history (the last epochs of the MNIST model's, with pen accuracies)."""
    folder = tmp_path_factory.mktemp("pen_zoo")
    for name in (A, B, C, D):
        shutil.copy(CHECKPOINTS / f"{name}.safetensors", folder)
        save_run(dataclasses.replace(read_run(CHECKPOINTS / f"{name}.json"), pen_acc=PEN_ACC[name]), folder)
    for name in (A, B, C):
        loaded = load_checkpoint(name, CHECKPOINTS)
        tail = loaded.run.history[-len(TWIN_CURVE) :]
        history = tuple(dataclasses.replace(h, epoch=i, pen_acc=p) for i, (h, p) in enumerate(zip(tail, TWIN_CURVE, strict=True), 1))
        pen_data = {
            "file": "pendigits-orig.tra",
            "train_writers": [1, 2, 4],
            "validation_writers": [3, 6],
            "train_digits": 4996,
            "renders": 4,
        }
        run = dataclasses.replace(
            loaded.run,
            name=twin(name),
            recipe=REGISTRY[twin(name)].recipe.to_dict(),
            history=history,
            epochs_completed=len(history),
            pen_acc=PEN_ACC[twin(name)],
            pen_data=pen_data,
        )
        save_checkpoint(loaded.model, run, folder)
    return folder


@pytest.fixture
def pen_app(pen_zoo, monkeypatch, canvas, mnist):
    monkeypatch.setenv("MNIST_SMALL_CHECKPOINTS", str(pen_zoo))
    canvas.image = draw_on_canvas(mnist.test_images[0, 0].numpy())  # a 7
    return pen_zoo


def test_the_default_model_reads_real_handwriting_best(pen_app):
    at = run_app(model=None)
    assert not at.exception
    assert at.selectbox(key="model").value == C and at.segmented_control(key="trained_on").value == WITH_PEN
    assert f"{twin(C)} says" in page_text(at)
    assert at.selectbox(key="model").options == [A, B, C, D]  # the architectures, D without a twin
    sidebar = "\n".join(c.value for c in at.sidebar.caption)
    assert "reads **99.10%** of real handwriting" in sidebar and "the data, not the architecture, decides" in sidebar


def test_switching_what_it_was_trained_on_keeps_the_architecture_and_the_drawing(pen_app):
    at = run_app(model=None)
    at.segmented_control(key="trained_on").set_value(MNIST).run()
    assert not at.exception
    assert at.selectbox(key="model").value == C and f"{C} says" in page_text(at)
    assert chart(at, "bars")  # the drawing is still there, read by the MNIST model
    sidebar = "\n".join(c.value for c in at.sidebar.caption)
    assert f"reads **{PEN_ACC[C]:.2f}%** of real handwriting" in sidebar
    at.segmented_control(key="trained_on").set_value(WITH_PEN).run()
    assert f"{twin(C)} says" in page_text(at)
    at.segmented_control(key="trained_on").set_value(MNIST).run()
    at.selectbox(key="model").select(B).run()
    assert "reads **-** of real handwriting" in "\n".join(c.value for c in at.sidebar.caption)  # not measured


def test_a_missing_twin_leaves_only_the_kind_that_exists(pen_app):
    at = run_app(model=twin(A))
    at.selectbox(key="model").select(D).run()
    assert not at.exception
    switch = at.segmented_control(key="trained_on")
    assert switch.options == [MNIST] and switch.value == MNIST and f"{D} says" in page_text(at)
    at.selectbox(key="model").select(B).run()  # back to an architecture with a twin: the kind picked before
    assert at.segmented_control(key="trained_on").value == WITH_PEN and f"{twin(B)} says" in page_text(at)


def test_a_twin_whose_mnist_model_is_broken_is_offered_alone(pen_app, tmp_path, monkeypatch):
    shutil.copytree(pen_app, tmp_path / "ckpt")
    (tmp_path / "ckpt" / f"{A}.safetensors").write_bytes(b"broken")
    monkeypatch.setenv("MNIST_SMALL_CHECKPOINTS", str(tmp_path / "ckpt"))
    at = run_app(model=A)
    assert not at.exception
    assert at.segmented_control(key="trained_on").options == [WITH_PEN] and f"{twin(A)} says" in page_text(at)


def test_compare_groups_the_two_kinds(pen_app):
    at = run_app("Compare models", model=None)
    heatmap = chart(at, "compare")
    assert heatmap["data"][0]["y"] == [A, B, C, D, twin(A), twin(B), twin(C)]
    assert [shape["y0"] for shape in heatmap["layout"]["shapes"]] == [3.5]  # a line between the kinds
    assert [m.value for m in at.success] == ["All 7 models agree: **7**"]  # one message when the two kinds agree
    table = at.dataframe[0].value
    assert list(table["trained on"]) == [MNIST] * 4 + [WITH_PEN] * 3
    assert table["real handwriting (%)"].tolist()[4:] == [98.2, 97.0, 99.1]
    assert at.dataframe[0].proto.placeholder == "-"  # what B's unmeasured figure shows


def test_curves_overlay_a_model_and_its_twin_fine_tuned_after_it(pen_app):
    at = run_app("Training curves", model=twin(C))
    mnist_epochs = len(read_run(CHECKPOINTS / f"{C}.json").history)
    accuracy = chart(at, "curves-1")
    traces = {t["name"]: t for t in accuracy["data"]}
    assert decode(traces[f"{twin(C)} test"]["x"]).tolist() == [mnist_epochs + e for e in (1, 2, 3)]  # after the MNIST model's epochs
    np.testing.assert_allclose(decode(traces[f"{twin(C)} pen"]["y"]), TWIN_CURVE)
    assert decode(traces[f"{C} pen"]["x"]).tolist() == [mnist_epochs]  # measured once, after training
    assert [shape["x0"] for shape in accuracy["layout"]["shapes"]] == [mnist_epochs + 0.5]  # where fine-tuning starts
    assert any("Fine-tuned" in c.value and f"from {C}" in c.value for c in at.caption)


def test_zoo_and_model_card_lead_with_real_handwriting(pen_app, monkeypatch):
    at = run_app("Zoo", model=None)
    assert not at.exception
    assert at.segmented_control(key="zoo_figure").value == "real handwriting"
    traces = chart(at, "zoo")["data"]
    mnist, pen = (next(t for t in traces if t.get("name") == kind) for kind in ("trained on MNIST", "MNIST + pen writers"))
    assert list(mnist["text"]) == [A, C, D] and list(pen["text"]) == [twin(A), twin(B), twin(C)]  # B unmeasured: no point
    np.testing.assert_allclose(decode(pen["y"]), [98.2, 97.0, 99.1])
    table = at.dataframe[0].value
    assert list(table.columns[:5]) == ["name", "architecture", "pen", "trained on", "pen accuracy"]

    at = run_app("Model card", model=None)
    assert any(m.label == "reads real handwriting" and m.value == "99.10%" for m in at.metric)
    text = page_text(at)
    assert "writers 3, 6, 9, 12, 15, 18, 21, 24, 27, 30" in text and f"`{C}`" in text and "doi:10.24432/C5MG6K" in text
    at = run_app("Model card", model=B)
    assert any(m.label == "reads real handwriting" and m.value == "-" for m in at.metric)
    assert "Not measured" in page_text(at) and "C5MG6K" not in page_text(at)

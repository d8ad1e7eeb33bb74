"""A class's fine-tuned model in the app (AppTest): held in the database, it is a model of that
class's page (sidebar, model card, zoo, leaderboard) and of no other class's; a ``+class``
checkpoint left in the checkpoints folder stays the default class's."""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mnist_small.checkpoints import load_checkpoint, save_checkpoint
from mnist_small.classroom.jobs import claim
from mnist_small.classroom.tables import transaction
from mnist_small.classroom.tuned import save_model
from mnist_small.classset.store import ClassSet
from mnist_small.registry import CLASS

from .apptest import APP
from .conftest import CHECKPOINTS

SMALL = "three_blocks_9.6k"
THIS_CLASS = "MNIST + this class"


def taught(note: str):
    """SMALL's weights and record renamed as its class model, ``note`` in its class figures to tell it apart."""
    base = load_checkpoint(SMALL, CHECKPOINTS)
    return base.model, dataclasses.replace(base.run, name=SMALL + CLASS, class_data={"note": note})


@pytest.fixture
def folder(tmp_path: Path, class_db: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A zoo of SMALL and its +pen twin, the app pointed at it and at the class_db database."""
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    for name in (SMALL, SMALL + "+pen"):
        for suffix in (".json", ".safetensors"):
            shutil.copy(CHECKPOINTS / f"{name}{suffix}", checkpoints)
    monkeypatch.setenv("MNIST_SMALL_CHECKPOINTS", str(checkpoints))
    return checkpoints


def page(code: str | None, view: str | None = None, kind: str = "") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if code:
        at.query_params["class"] = code
    at.session_state["model"], at.session_state["kind"] = SMALL, kind
    if view:
        at.session_state["view"] = view
    at.run()
    assert not at.exception, at.exception
    return at


def kinds(at: AppTest) -> list[str]:
    return list(at.sidebar.segmented_control(key="trained_on").options)


def test_class_a_sees_its_fine_tuned_model_and_class_b_does_not(folder, class_db):
    store = ClassSet(class_db, "a")
    with transaction(store) as connection:
        save_model(connection, "a", *taught("class a's"))
    store.dispose()
    assert THIS_CLASS in kinds(page("a"))
    assert THIS_CLASS not in kinds(page("b")) and THIS_CLASS not in kinds(page(None))
    card = page("a", "Model card", CLASS)  # the card of a model that lives in the database
    assert SMALL + CLASS in [h.value for h in card.subheader]
    assert "Fine-tuned on this class's own drawings" in "\n".join(c.value for c in card.sidebar.caption)
    zoo = page("a", "Zoo")
    assert any(SMALL + CLASS in str(row) for d in zoo.dataframe for row in d.value.to_dict("records"))
    assert not any(SMALL + CLASS in str(row) for d in page("b", "Zoo").dataframe for row in d.value.to_dict("records"))


def test_a_new_fine_tune_is_loaded_within_a_second(folder, class_db):
    at = page("a")
    assert THIS_CLASS not in kinds(at)
    store = ClassSet(class_db, "a")  # another replica's fine-tune, written meanwhile
    with transaction(store) as connection:
        save_model(connection, "a", *taught("first"))
    store.dispose()
    time.sleep(1.1)  # the app reads the class's model stamps at most once a second
    at.run()
    assert THIS_CLASS in kinds(at)


def test_a_class_checkpoint_in_the_folder_stays_the_default_classs(folder, class_db):
    save_checkpoint(*taught("from before classes"), folder)
    assert THIS_CLASS in kinds(page(None)) and THIS_CLASS not in kinds(page("b"))


def teacher_page(code: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("MNIST_SMALL_TEACHER_CODE", "owl")
    at = page(code, "Class")
    at.text_input(key="teacher_code_entered").input("owl").run()
    assert not at.exception, at.exception
    return at


def test_the_teacher_sees_the_job_of_the_class_in_view_whichever_replica_started_it(folder, class_db, monkeypatch):
    elsewhere = ClassSet(class_db, "a")  # another replica's engine: it started class a's job
    claim(elsewhere, SMALL, 10)
    elsewhere.dispose()
    at = teacher_page("a", monkeypatch)
    assert at.button(key="teacher_start").disabled
    assert any(f"Teaching {SMALL}: step 0 of 10" in str(p.proto.text) for p in at.get("progress"))
    other = teacher_page("b", monkeypatch)  # class b has no job: it may start one
    assert not other.button(key="teacher_start").disabled and not other.get("progress")

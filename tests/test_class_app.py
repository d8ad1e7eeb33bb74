"""Class mode in the app (AppTest): keeping a drawing, the Class view, the teacher's controls,
and teaching a model the class's handwriting."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnist_small.classroom.finetune import held_out_students
from mnist_small.classroom.jobs import read_status, run_job
from mnist_small.classroom.tuned import class_models
from mnist_small.classset.store import ClassSet

from .apptest import APP, FIRST, page_text, run_app
from .conftest import CHECKPOINTS, MNIST_DIR, class_rows, draw_on_canvas

SMALL = "three_blocks_9.6k"  # a 9,594-parameter model


def leaderboard(at: AppTest):
    (board,) = [d.value for d in at.dataframe if "model" in d.value.columns]
    return board


def test_a_label_and_the_button_keep_the_drawing(canvas, mnist, class_db):
    canvas.image = draw_on_canvas(mnist.test_images[0, 0].numpy())  # a 7
    at = run_app()
    assert at.button(key="class_add").disabled  # no label picked yet
    at.segmented_control(key="class_label").set_value("7").run()
    at.button(key="class_add").click().run()
    assert not at.exception
    assert any(s.value.startswith("Added: your 7") for s in at.success)
    (kept,) = ClassSet(class_db).all()
    assert kept.label == 7 and kept.flag is None and len(kept.student) == 12
    assert kept.answers == {FIRST: 7}  # the answer the student saw
    assert at.session_state["class_label"] is None  # ready for the next drawing


def test_no_digit_no_control(canvas, class_db):
    at = run_app()
    assert not at.get("segmented_control") or all(c.key != "class_label" for c in at.get("segmented_control"))
    assert not [b for b in at.button if b.key == "class_add"]


def test_a_second_drawing_within_a_second_is_refused(canvas, mnist, class_db):
    canvas.image = draw_on_canvas(mnist.test_images[0, 0].numpy())
    at = run_app()
    for _ in range(2):
        at.segmented_control(key="class_label").set_value("7").run()
        at.button(key="class_add").click().run()
    assert any("one drawing per second" in w.value for w in at.warning)
    assert len(ClassSet(class_db).all()) == 1


def test_the_class_view_lists_the_drawings_and_ranks_the_models(mnist, class_db):
    class_set_of_mnist(class_db, mnist, students=3, each=2)
    at = run_app("Class")
    assert not at.exception
    assert "**6** drawings by **3** students" in page_text(at)
    board = leaderboard(at)
    assert len(board) == len(list(CHECKPOINTS.glob("*.json"))) and board["accuracy"].max() > 50
    assert "Teacher controls" in page_text(at) and not at.text_input  # off without a code


def test_a_broken_database_is_reported_and_drawing_still_works(canvas, mnist, tmp_path, monkeypatch):
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database" * 200)
    monkeypatch.setenv("MNIST_SMALL_DB", f"sqlite:///{broken}")
    at = run_app("Class")
    assert any("cannot be reached right now" in e.value for e in at.error)
    assert str(broken) not in " ".join(e.value for e in at.error)  # where it lives is for the server log
    canvas.image = draw_on_canvas(mnist.test_images[0, 0].numpy())
    at = run_app()
    at.segmented_control(key="class_label").set_value("7").run()
    at.button(key="class_add").click().run()
    assert any("cannot be reached" in e.value for e in at.error)
    assert "font-weight:700;line-height:1'>7</div>" in page_text(at)  # the models still answer


def test_the_teacher_code_unlocks_the_controls(mnist, class_db, monkeypatch):
    monkeypatch.setenv("MNIST_SMALL_TEACHER_CODE", "owl")
    ClassSet(class_db).add(b"png", mnist.test_images[0, 0].numpy() / 255, 7, "s", {})
    at = run_app("Class")
    at.text_input(key="teacher_code_entered").input("cat").run()
    assert any("not the teacher code" in w.value for w in at.warning)
    at.text_input(key="teacher_code_entered").input("owl").run()
    assert at.button(key="teacher_delete") and at.button(key="teacher_start")
    at.number_input(key="teacher_delete_id").set_value(1).run()
    at.button(key="teacher_delete").click().run()
    assert ClassSet(class_db).all() == []


def class_set_of_mnist(url: str, mnist, students: int = 4, each: int = 8) -> None:
    ClassSet(url).import_rows(class_rows(mnist, students * each, students))


@pytest.fixture
def class_zoo(mnist, class_db, tmp_path, monkeypatch) -> tuple[Path, Path]:
    """A checkpoint folder with one small model and a data folder with MNIST (both writable, as
    a fine-tune needs), a class set of 32 MNIST digits by 4 students, and the app pointed at them."""
    checkpoints, data = tmp_path / "checkpoints", tmp_path / "data"
    checkpoints.mkdir()
    for suffix in (".json", ".safetensors"):
        shutil.copy(CHECKPOINTS / f"{SMALL}{suffix}", checkpoints)
    shutil.copytree(MNIST_DIR, data)
    class_set_of_mnist(class_db, mnist)
    monkeypatch.setenv("MNIST_SMALL_CHECKPOINTS", str(checkpoints))
    monkeypatch.setenv("MNIST_SMALL_DATA", str(data))
    monkeypatch.setenv("MNIST_SMALL_TEACHER_CODE", "owl")
    return checkpoints, data


def test_a_fine_tune_saves_a_class_model_and_reports_before_and_after(class_zoo, class_db):
    checkpoints, data = class_zoo
    run = run_job(SMALL, class_db, "default", checkpoints, data, steps=10)
    tuned = class_models(ClassSet(class_db))[0][SMALL + "+class"]  # in the database, for every replica
    assert tuned.run.class_data["held_out_students"] == len(held_out_students([f"s{i}" for i in range(4)])) == 1
    assert tuned.run.class_data["trained_on"] + tuned.run.class_data["held_out"] == 32
    assert len(run.history) == 5 and all(h.class_acc is not None for h in run.history)
    assert (checkpoints / f"{SMALL}.json").read_bytes() == (CHECKPOINTS / f"{SMALL}.json").read_bytes()  # never overwritten
    status = read_status(ClassSet(class_db))
    assert status["state"] == "done" and status["step"] == status["steps"] == 10 and status["points"]

    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["view"] = "Class"
    at.run()
    at.text_input(key="teacher_code_entered").input("owl").run()
    assert any(f"{SMALL}+class** joined the zoo" in s.value for s in at.success)
    board = leaderboard(at)
    at.sidebar.selectbox(key="model").select(SMALL).run()  # the class model is a kind of its architecture
    assert at.sidebar.segmented_control(key="trained_on").options[-1] == "MNIST + this class"
    at.sidebar.segmented_control(key="trained_on").set_value("MNIST + this class").run()
    assert "Fine-tuned on this class's own drawings" in "\n".join(c.value for c in at.sidebar.caption)
    assert SMALL + "+class" in list(board["model"])
    assert np.isfinite(board["accuracy"]).all()


def test_start_teaching_runs_the_job_in_its_own_process_and_shows_the_result(class_zoo, class_db, monkeypatch):
    checkpoints, _ = class_zoo
    monkeypatch.setattr("mnist_small.classroom.jobs.STEPS", 20)  # a few steps: the job's path, not its result, is tested here
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["view"], at.session_state["model"], at.session_state["kind"] = "Class", SMALL, ""
    at.run()
    at.text_input(key="teacher_code_entered").input("owl").run()
    at.button(key="teacher_start").click().run()
    seen_running = False
    deadline = time.monotonic() + 180
    while (status := read_status(ClassSet(class_db))) is None or status["state"] not in ("done", "failed"):
        seen_running |= status is not None and status["state"] == "running"
        assert time.monotonic() < deadline, f"the job did not finish: {status}"
        time.sleep(0.5)
    assert status["state"] == "done", status
    assert status["pid"] != os.getpid() and status["steps"] == 20  # its own process
    at.run()
    assert any(f"{SMALL}+class** joined the zoo" in s.value for s in at.success)
    assert SMALL + "+class" in class_models(ClassSet(class_db))[0] and not (checkpoints / f"{SMALL}+class.json").exists()


def test_the_command_line_exports_and_imports_a_class_set(mnist, class_db, tmp_path, capsys):
    from mnist_small.__main__ import main

    class_set_of_mnist(class_db, mnist, students=2, each=3)
    assert main(["class", "--db", class_db, "export", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "labels.csv").read_text().count("\n") == 7  # a header and 6 drawings
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert main(["class", "--db", other, "import", str(tmp_path / "out")]) == 0
    assert [d.label for d in ClassSet(other).all()] == [d.label for d in ClassSet(class_db).all()]
    capsys.readouterr()
    assert main(["class", "--db", other, "import", str(tmp_path / "out")]) == 0  # again: nothing new
    assert "imported 0 drawings" in capsys.readouterr().out and len(ClassSet(other).all()) == 6
    with pytest.raises(SystemExit, match="no such folder"):
        main(["class", "--db", other, "import", str(tmp_path / "nowhere")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match=r"no labels\.csv"):
        main(["class", "--db", other, "import", str(tmp_path / "empty")])

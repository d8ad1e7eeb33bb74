"""The Class view's answers kept up to date incrementally (mnist_small.classset.answers.ClassAnswers): each model
reads each drawing once, and the result is what a full recomputation gives. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from mnist_small.checkpoints import load_checkpoint
from mnist_small.classset import answers as classanswers
from mnist_small.classset.answers import ClassAnswers, Snapshot
from mnist_small.classset.leaderboard import leaderboard, per_digit, per_student
from mnist_small.classset.store import ClassSet
from mnist_small.inference import answers
from mnist_small.registry import REGISTRY

from .apptest import APP
from .conftest import CHECKPOINTS, class_rows

REAL = ("three_blocks_9.6k", "depthwise_6.5k", "ours_separable_2.0k")  # three small zoo models


class Counting(nn.Module):
    """A stand-in model that counts the drawings it reads; its digit depends on the drawing (how
    much ink, shifted by ``offset``), so a model retrained under the same name answers differently."""

    def __init__(self, offset: int = 0) -> None:
        super().__init__()
        self.offset, self.seen = offset, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen += len(x)
        digit = ((x.flatten(1).mean(1) * 40).floor().long() + self.offset) % 10
        return nn.functional.one_hot(digit, 10).float()


def fake(offset: int = 0):
    """A LoadedModel as far as the answers need one."""
    return SimpleNamespace(model=Counting(offset))


@pytest.fixture
def store(db_url: str) -> Iterator[ClassSet]:
    kept = ClassSet(db_url)
    yield kept
    kept.dispose()


def full(store: ClassSet, models: dict) -> tuple[list, dict[str, np.ndarray]]:
    """The drawings and every model's answers recomputed from scratch, as the Class view did before."""
    drawings = store.all()
    images = np.stack([d.image for d in drawings]) if drawings else np.zeros((0, 28, 28), np.float32)
    counted = {name: getattr(m.model, "seen", 0) for name, m in models.items()}
    predicted = answers(models, images)
    for name, m in models.items():  # the stand-ins count what the kept answers read, not this
        m.model.seen = counted[name]
    return drawings, predicted


def assert_same_as_full(snapshot: Snapshot, store: ClassSet, models: dict) -> None:
    drawings, predicted = full(store, models)
    assert snapshot.ids.tolist() == [d.id for d in drawings]
    assert snapshot.labels.tolist() == [d.label for d in drawings]
    assert snapshot.flagged.tolist() == [d.flag is not None for d in drawings]
    assert list(snapshot.answers) == list(models)  # the zoo's order: the leaderboard breaks ties by it
    for name in models:
        assert snapshot.answers[name].tolist() == predicted[name].tolist(), name
    assert per_digit(snapshot.labels) == [sum(d.label == digit for d in drawings) for digit in range(10)]
    # most first, ties in the order each student first drew (Counter keeps first-seen order)
    assert per_student(snapshot.students, snapshot.student_names) == dict(Counter(d.student for d in drawings).most_common())
    assert leaderboard(snapshot.labels, snapshot.answers, ~snapshot.flagged) == leaderboard(
        np.array([d.label for d in drawings]), predicted, np.array([d.flag is None for d in drawings], bool)
    )


def add(store: ClassSet, mnist, i: int, student: str, flag: str | None = None) -> int:
    """Test digit ``i`` added as a student adds it (a browser adds one a second: one student per add)."""
    return store.add(b"png", mnist.test_images[i, 0].numpy() / 255, int(mnist.test_labels[i]), student, {}, flag=flag).id


def test_an_added_drawing_is_read_once_by_each_model(store, mnist, monkeypatch):
    monkeypatch.setattr(classanswers, "CHUNK", 16)  # several chunks, as a large set reads them
    store.import_rows(class_rows(mnist, 40, students=3))
    models = {"a": fake(0), "b": fake(3)}
    kept = ClassAnswers()
    assert len(kept.refresh(store, models)) == 40
    assert [m.model.seen for m in models.values()] == [40, 40]
    add(store, mnist, 100, "late", flag="scribble")
    snapshot = kept.refresh(store, models)
    assert [m.model.seen for m in models.values()] == [41, 41]  # the new drawing only
    assert len(snapshot) == 41 and snapshot.flagged[-1] and snapshot.labels[-1] == int(mnist.test_labels[100])
    assert kept.refresh(store, models) is snapshot and [m.model.seen for m in models.values()] == [41, 41]  # no change, no work
    assert_same_as_full(snapshot, store, models)
    with pytest.raises(ValueError, match="read-only"):
        snapshot.answers["a"][0] = 5  # a snapshot the sessions share cannot change under them


def test_a_new_or_retrained_model_reads_every_drawing_once(store, mnist):
    store.import_rows(class_rows(mnist, 30, students=2))
    a, b = fake(0), fake(5)
    kept = ClassAnswers()
    kept.refresh(store, {"a": a}, {"a": 1})
    snapshot = kept.refresh(store, {"a": a, "b": b}, {"a": 1, "b": 1})  # a model joins the zoo
    assert (a.model.seen, b.model.seen) == (30, 30)
    assert_same_as_full(snapshot, store, {"a": a, "b": b})
    retrained = fake(7)  # a fine-tune replaced "a": the same name, a new checkpoint
    snapshot = kept.refresh(store, {"a": retrained, "b": b}, {"a": 2, "b": 1})
    assert (retrained.model.seen, b.model.seen) == (30, 30)
    assert_same_as_full(snapshot, store, {"a": retrained, "b": b})
    snapshot = kept.refresh(store, {"b": b}, {"b": 1})  # "a" left the zoo
    assert list(snapshot.answers) == ["b"] and b.model.seen == 30


def test_a_deleted_drawing_leaves_the_leaderboard(store, mnist):
    store.import_rows(class_rows(mnist, 20, students=4))
    models = {"a": fake(0), "b": fake(2)}
    kept = ClassAnswers()
    before = kept.refresh(store, models)
    gone = int(before.ids[7])
    assert store.delete(gone)
    after = kept.refresh(store, models)
    assert gone not in after.ids.tolist() and len(after) == 19
    assert {r["total"] for r in leaderboard(after.labels, after.answers)} == {19}
    assert [m.model.seen for m in models.values()] == [20, 20]  # nothing read again
    assert len(before) == 20 and gone in before.ids.tolist()  # a snapshot already handed out stays as it was
    assert_same_as_full(after, store, models)
    store.clear()
    assert len(kept.refresh(store, models)) == 0


def test_a_drawing_that_gets_a_deleted_drawings_id_is_read(store, mnist):
    """SQLite gives a new drawing the id after the highest present: delete the newest, add
    another, and the id comes back; PostgreSQL never reuses one. Either way the new one counts."""
    models = {"a": fake(0)}
    kept = ClassAnswers()
    ids = [add(store, mnist, i, f"s{i}") for i in range(5)]
    kept.refresh(store, models)
    store.delete(ids[-1])
    add(store, mnist, 50, "t")  # unseen by the answers in between: the version (5, top) may look the same
    assert_same_as_full(kept.refresh(store, models), store, models)
    store.clear()
    for i in range(60, 66):  # a new class's first drawings, more than there were: ids 1-6 again on SQLite
        add(store, mnist, i, f"u{i}")
    snapshot = kept.refresh(store, models)
    assert snapshot.labels.tolist() == mnist.test_labels[60:66].tolist()
    assert_same_as_full(snapshot, store, models)


def test_the_kept_answers_of_the_zoo_are_a_full_recomputation(store, mnist, monkeypatch):
    monkeypatch.setattr(classanswers, "CHUNK", 7)
    models = {name: load_checkpoint(name, CHECKPOINTS) for name in REAL}
    kept = ClassAnswers()
    store.import_rows(class_rows(mnist, 25, students=5))
    kept.refresh(store, {REAL[0]: models[REAL[0]]})
    for i in range(3):
        add(store, mnist, 200 + i, f"n{i}", flag="dot" if i == 1 else None)
    store.delete(int(kept.snapshot.ids[3]))
    snapshot = kept.refresh(store, models)  # two models join, drawings came and went
    assert_same_as_full(snapshot, store, models)
    assert max(r["accuracy"] for r in leaderboard(snapshot.labels, snapshot.answers)) > 80  # real models read real digits


def test_the_store_reads_columns_and_images_by_id(store, mnist):
    store.import_rows(class_rows(mnist, 5, students=2))
    ids, created = store.ids()
    assert len(ids) == 5 and created.tolist() == list(range(5))
    rows = store.rows_after(int(ids[1]), limit=2)
    assert rows["id"].tolist() == ids[2:4].tolist() and rows["pixels"].shape == (2, 28, 28)
    assert rows["label"].tolist() == mnist.test_labels[2:4].tolist() and list(rows["student"]) == ["s0", "s1"]
    images = store.images([int(ids[0]), 10_000])  # one that does not exist is left out
    assert list(images) == [int(ids[0])]
    assert np.abs(images[int(ids[0])] - mnist.test_images[0, 0].numpy() / 255).max() <= 1 / 255


def test_the_class_view_shows_the_kept_answers_and_reads_the_images_it_shows(mnist, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    url = f"sqlite:///{tmp_path / 'class.db'}"
    monkeypatch.setenv("MNIST_SMALL_DB", url)
    rows = class_rows(mnist, 20, students=2)
    for row in rows[4:7]:  # labelled as the digit after the one drawn: every model "misreads" them
        row["label"] = (row["label"] + 1) % 10
    ClassSet(url).import_rows(rows)
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["model"], at.session_state["kind"], at.session_state["view"] = next(iter(REGISTRY)), "", "Class"
    at.run()

    def shown() -> tuple[list[str], list[str]]:
        pictures = [[image.caption for image in element.proto.imgs] for element in at.main if type(element).__name__ == "Image"]
        hard, gallery = [captions for captions in pictures if captions[0].startswith("#")]  # not the join link's QR code
        return hard, gallery

    assert not at.exception and not at.error
    hard, gallery = shown()
    assert sorted(c.split(":")[0] for c in hard) == ["#5", "#6", "#7"] and len(gallery) == 20
    ClassSet(url).delete(6)
    at.run()
    hard, gallery = shown()
    assert "**19** drawings by **2** students" in [m.value for m in at.markdown]
    assert sorted(c.split(":")[0] for c in hard) == ["#5", "#7"] and len(gallery) == 19 and not any(c.startswith("#6:") for c in gallery)

"""Every model's answer to every drawing of a class set, kept up to date incrementally.

The Class view polls every few seconds from every open page. Recomputing the whole set each
time a drawing is added costs drawings x models forward passes (about 2 minutes of CPU for
20,000 drawings and the 20 models of the zoo); ``ClassAnswers`` runs each model once on each
drawing and keeps the digits, so an added drawing costs one pass per model, a new or retrained
model one pass over the set, and a deleted drawing none. It holds no images, only a few bytes a
drawing, and hands out immutable ``Snapshot``s that any number of sessions may read at once.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..checkpoints import LoadedModel
from ..inference import answers
from .store import ClassSet

CHUNK = 1000  # drawings read (and run through the models) at a time: memory stays bounded however large the set


@dataclass(frozen=True)
class Snapshot:
    """The class set and the models' answers as of one refresh; its arrays are read-only and
    never change (a later refresh makes a new snapshot)."""

    ids: np.ndarray  # int64, ascending: the drawings' ids
    labels: np.ndarray  # int64, the digit each was meant to be
    flagged: np.ndarray  # bool, the preprocessing flagged it (a dot, a scribble, two digits)
    students: np.ndarray  # int32, an index into student_names
    student_names: tuple[str, ...]
    answers: dict[str, np.ndarray] = field(default_factory=dict)  # int8 per model, in the zoo's order

    def __len__(self) -> int:
        return len(self.ids)


EMPTY = Snapshot(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, np.int32), ())


class ClassAnswers:
    """The answers of a changing set of models to a growing class set, for one database.

    ``refresh`` brings them up to date and returns a ``Snapshot``. Safe to share between
    threads: one refresh runs at a time, and readers get the last complete snapshot."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = np.zeros(0, np.int64)
        self._created = np.zeros(0, np.float64)  # tells a kept drawing from a later one that reused its id
        self._labels = np.zeros(0, np.int64)
        self._flagged = np.zeros(0, bool)
        self._students = np.zeros(0, np.int32)
        self._names: list[str] = []
        self._codes: dict[str, int] = {}
        self._answers: dict[str, np.ndarray] = {}  # aligned with _ids, always
        self._stamps: dict[str, Hashable] = {}  # the checkpoint stamp each model's answers were computed with
        self._seen: tuple | None = None  # the store's version and the stamps of the last complete refresh
        self.snapshot = EMPTY
        self.model_runs = 0  # drawings run through a model, summed over models: what the tests and the benchmark count

    def refresh(
        self, store: ClassSet, models: Mapping[str, LoadedModel], stamps: Mapping[str, Hashable] | None = None, wait: float | None = None
    ) -> Snapshot:
        """The answers of ``models`` to every drawing in ``store`` now. ``stamps`` (by model
        name; say when its checkpoint last changed) mark a retrained model that kept its name:
        a new stamp computes that model again on every drawing. With ``wait`` (seconds), a
        refresh that would wait longer for another thread's (a model computed on the whole set)
        returns the previous snapshot instead, if there is one. Raises ClassSetError."""
        stamps = dict(stamps or {})
        if not self._lock.acquire(timeout=-1 if wait is None or self._seen is None else wait):
            return self.snapshot
        try:
            version = store.version()
            newest_kept = not len(self._ids) or self._newest_unchanged(store)  # else an id was reused: the version may look the same
            seen = (version, tuple((name, stamps.get(name)) for name in models))
            if seen != self._seen or not newest_kept:
                self._bring_up_to_date(store, models, stamps, version, newest_kept)
                self._seen = seen
            return self.snapshot
        finally:
            self._lock.release()

    def nbytes(self) -> int:
        """Bytes of the arrays held (the student names and Python overhead aside)."""
        arrays = [self._ids, self._created, self._labels, self._flagged, self._students, *self._answers.values()]
        return sum(a.nbytes for a in arrays)

    def _bring_up_to_date(
        self, store: ClassSet, models: Mapping[str, LoadedModel], stamps: dict, version: tuple[int, int], newest_kept: bool
    ) -> None:
        for name in list(self._answers):  # gone from the zoo, or retrained: computed again below
            if name not in models or self._stamps[name] != stamps.get(name):
                del self._answers[name], self._stamps[name]
        if not len(self._ids):  # nothing read yet: every model reads the drawings as they come in
            for name in models:
                self._answers.setdefault(name, np.zeros(0, np.int8))
                self._stamps.setdefault(name, stamps.get(name))
        if not newest_kept:
            self._drop_missing(store)
        self._read_new(store, models)
        count, top = version
        if int(np.count_nonzero(self._ids <= top)) != count:  # some were deleted (or came and went since the version was read)
            self._drop_missing(store)
            self._read_new(store, models)
        missing = [name for name in models if name not in self._answers]
        if missing:
            self._compute_all(store, {name: models[name] for name in missing}, stamps)
        self.snapshot = Snapshot(
            ids=_frozen(self._ids),
            labels=_frozen(self._labels),
            flagged=_frozen(self._flagged),
            students=_frozen(self._students),
            student_names=tuple(self._names),
            answers={name: _frozen(self._answers[name]) for name in models},
        )

    def _newest_unchanged(self, store: ClassSet) -> bool:
        """Whether the newest drawing held is still in the store as it was. SQLite gives a new
        drawing the id after the highest present, so an id held is reused only once every drawing
        from it up, the newest held included, has gone: checking that one catches them all."""
        row = store.rows_after(int(self._ids[-1]) - 1, limit=1)
        return len(row["id"]) == 1 and row["id"][0] == self._ids[-1] and row["created"][0] == self._created[-1]

    def _read_new(self, store: ClassSet, models: Mapping[str, LoadedModel]) -> None:
        """Append the drawings added since the newest held, each read by the models that are up to date."""
        current = {name: models[name] for name in self._answers}
        while True:
            rows = store.rows_after(int(self._ids[-1]) if len(self._ids) else 0, CHUNK)
            if not len(rows["id"]):
                return
            new = answers(current, rows["pixels"].astype(np.float32) / 255)
            self.model_runs += len(rows["id"]) * len(current)
            codes = np.array([self._code(s) for s in rows["student"]], np.int32)
            self._ids = np.concatenate([self._ids, rows["id"]])
            self._created = np.concatenate([self._created, rows["created"]])
            self._labels = np.concatenate([self._labels, rows["label"]])
            self._flagged = np.concatenate([self._flagged, np.array([f is not None for f in rows["flag"]], bool)])
            self._students = np.concatenate([self._students, codes])
            for name in current:
                self._answers[name] = np.concatenate([self._answers[name], new[name].astype(np.int8)])
            if len(rows["id"]) < CHUNK:
                return

    def _drop_missing(self, store: ClassSet) -> None:
        """Forget the drawings the store no longer holds as they were (deleted, or their id reused)."""
        ids, created = store.ids()
        at = np.clip(np.searchsorted(ids, self._ids), 0, max(len(ids) - 1, 0))
        keep = (ids[at] == self._ids) & (created[at] == self._created) if len(ids) else np.zeros(len(self._ids), bool)
        if keep.all():
            return
        self._ids, self._created, self._labels = self._ids[keep], self._created[keep], self._labels[keep]
        self._flagged, self._students = self._flagged[keep], self._students[keep]
        self._answers = {name: guess[keep] for name, guess in self._answers.items()}

    def _compute_all(self, store: ClassSet, models: Mapping[str, LoadedModel], stamps: dict) -> None:
        """Run ``models`` (new to this set, or retrained) on every drawing held, a chunk at a time."""
        out = {name: np.full(len(self._ids), -1, np.int8) for name in models}
        gone = False
        for start in range(0, len(self._ids), CHUNK):
            ids = self._ids[start : start + CHUNK]
            found = store.images(ids)
            have = np.array([int(i) in found for i in ids], bool)
            gone |= not have.all()
            if have.any():
                images = np.stack([found[int(i)] for i in ids[have]])
                for name, guess in answers(models, images).items():
                    out[name][start : start + CHUNK][have] = guess
                self.model_runs += int(have.sum()) * len(models)
        for name in models:
            self._answers[name], self._stamps[name] = out[name], stamps.get(name)
        if gone:  # deleted while being read: forget them now rather than show them as misread
            self._drop_missing(store)

    def _code(self, student: str) -> int:
        if student not in self._codes:
            self._codes[student] = len(self._names)
            self._names.append(student)
        return self._codes[student]


def _frozen(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view

"""What a training run records: one ``RunRecord`` per checkpoint, one ``EpochRecord`` per epoch.

This is the typed form of a checkpoint's JSON. Derived figures (the final and best accuracy,
the best epoch) are computed here and nowhere else, so the app, the command line and
``train.py`` can never disagree about them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EpochRecord:
    """One finished epoch: losses and accuracies (percent) on the training and the evaluation set."""

    epoch: int
    train_loss: float
    train_acc: float
    test_loss: float
    test_acc: float
    lr: float  # the learning rate at the epoch's last step
    seconds: float
    pen_acc: float | None = None  # on the validation writers' pen digits, for runs that train on pen data
    class_acc: float | None = None  # on the held-out students' drawings, for a fine-tune on a class set


@dataclass(frozen=True)
class Misread:
    """An evaluation image the model got wrong."""

    index: int
    label: int
    predicted: int


@dataclass(frozen=True)
class RunRecord:
    """Everything a checkpoint's JSON holds besides the weights."""

    name: str
    params: int
    recipe: dict[str, Any]  # as stored: a Recipe.to_dict() of the version that trained it
    history: tuple[EpochRecord, ...] = ()
    epochs_completed: int = 0
    complete: bool = False
    description: str = ""
    source: str | None = None  # the write-up in shared/seeds; None for our own models
    seed: int = 0
    device: str = "cpu"
    threads: int = 1  # CPU results depend on it (the order of float sums)
    train_images: int = 0
    evaluated_on: str = ""
    data_sha256: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    trained_at: str | None = None
    train_seconds: float = 0.0
    confusion_matrix: tuple[tuple[int, ...], ...] | None = None  # [true label][predicted], final epoch
    misclassified: tuple[Misread, ...] = ()
    drawn_acc: float | None = None  # on drawn MNIST; None until measured
    pen_acc: float | None = None  # on the validation writers' pen digits (pen.VALIDATION_WRITERS); None until measured
    pen_data: dict[str, Any] | None = None  # the pen digits it trained on: file checksum, writers, digits, renderings
    class_data: dict[str, Any] | None = None  # the class drawings it was fine-tuned on: counts, held-out students, before/after

    @property
    def final(self) -> EpochRecord:
        return self.history[-1]

    @property
    def final_acc(self) -> float:
        """Accuracy after the last epoch: the figure we report (no choosing by the test set)."""
        return self.history[-1].test_acc

    @property
    def best(self) -> EpochRecord:
        """The epoch with the highest accuracy (the earliest of equals), as the write-ups report theirs."""
        return max(self.history, key=lambda h: h.test_acc)

    def with_epoch(self, record: EpochRecord, **updates: Any) -> RunRecord:
        """This run with one more epoch in its history (and other fields updated)."""
        return dataclasses.replace(self, history=(*self.history, record), epochs_completed=record.epoch, **updates)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, in the field order of this class."""
        out = dataclasses.asdict(self)
        out["history"] = [dataclasses.asdict(h) for h in self.history]
        # class mode's fields only where a class set was used: the zoo's JSON files stay as they were
        if self.class_data is None:
            del out["class_data"]
        for epoch in out["history"]:
            if epoch["class_acc"] is None:
                del epoch["class_acc"]
        out["misclassified"] = [dataclasses.asdict(m) for m in self.misclassified]
        if self.confusion_matrix is not None:
            out["confusion_matrix"] = [list(row) for row in self.confusion_matrix]
        return out

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> RunRecord:
        """Read a stored JSON object; raises KeyError, TypeError or ValueError for one this version cannot read."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(stored) - known
        if unknown:
            raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
        fields = dict(stored)
        fields["history"] = tuple(EpochRecord(**h) for h in stored.get("history", ()))
        fields["misclassified"] = tuple(Misread(**m) for m in stored.get("misclassified", ()))
        if stored.get("confusion_matrix") is not None:
            fields["confusion_matrix"] = tuple(tuple(row) for row in stored["confusion_matrix"])
        return cls(**fields)

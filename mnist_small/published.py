"""The per-epoch figures the write-ups in shared/seeds publish, as transcribed into published.json.

One record per write-up model, keyed by the registry's model name. Accuracies are percentages as the
write-ups print them; a figure a write-up does not give is None. Epochs are 1-based: where a write-up
counts from 0, the record's `epoch_note` says how its epochs were mapped. The JSON is data shipped in
the package; nothing here parses the write-ups (tests/test_published.py checks the transcription).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

FIELDS = ("test_acc", "test_loss", "train_acc", "train_loss", "lr")


@dataclass(frozen=True)
class PublishedEpoch:
    epoch: int
    test_acc: float | None = None  # percent
    test_loss: float | None = None
    train_acc: float | None = None  # percent
    train_loss: float | None = None
    lr: float | None = None

    def to_dict(self) -> dict:
        return {"epoch": self.epoch, **{f: getattr(self, f) for f in FIELDS}}


@dataclass(frozen=True)
class PublishedRun:
    params: int  # as the write-up prints it
    source: str  # the write-up's file name in shared/seeds
    epoch_note: str
    epochs: tuple[PublishedEpoch, ...]
    notes: tuple[str, ...] = ()

    def best(self) -> PublishedEpoch | None:
        """The epoch with the highest test accuracy (the earliest on ties); None if none is published."""
        scored = [e for e in self.epochs if e.test_acc is not None]
        return max(scored, key=lambda e: (e.test_acc, -e.epoch)) if scored else None

    def final(self) -> PublishedEpoch | None:
        """The last published epoch."""
        return self.epochs[-1] if self.epochs else None

    def to_dict(self) -> dict:
        return {"params": self.params, "source": self.source, "epochs": [e.to_dict() for e in self.epochs]}


def _number(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


@cache
def _load() -> dict[str, PublishedRun]:
    raw = json.loads(resources.files(__package__).joinpath("published.json").read_text(encoding="utf-8"))
    return {
        name: PublishedRun(
            params=int(rec["params"]),
            source=rec["source"],
            epoch_note=rec["epoch_note"],
            notes=tuple(rec.get("notes", ())),
            epochs=tuple(PublishedEpoch(epoch=int(e["epoch"]), **{f: _number(e.get(f)) for f in FIELDS}) for e in rec["epochs"]),
        )
        for name, rec in raw.items()
    }


def load_published() -> dict[str, PublishedRun]:
    """Model name -> its write-up's published per-epoch figures (a fresh dict over shared frozen records)."""
    return dict(_load())

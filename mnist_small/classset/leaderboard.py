"""What the Class view shows about the class set: the leaderboard, a model's confusion matrix, the
drawings most models misread, drawings per digit and per student. Pure functions of arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def leaderboard(labels: np.ndarray, predicted: dict[str, np.ndarray], keep: np.ndarray | None = None) -> list[dict]:
    """One row per model, best first (ties in the zoo's order): correct, total and accuracy in
    percent on the ``keep`` drawings (all by default); accuracy None when none are kept."""
    keep = np.ones(len(labels), bool) if keep is None else keep
    total = int(keep.sum())
    rows = []
    for name, guess in predicted.items():
        correct = int(((guess == labels) & keep).sum())
        rows.append({"model": name, "correct": correct, "total": total, "accuracy": 100 * correct / total if total else None})
    return sorted(rows, key=lambda r: -(r["accuracy"] or 0))


def confusion(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """10 x 10 counts, [true digit][answer]."""
    return np.bincount(10 * np.asarray(labels, np.int64) + np.asarray(predicted, np.int64), minlength=100).reshape(10, 10)


def misread_by(labels: np.ndarray, predicted: dict[str, np.ndarray]) -> np.ndarray:
    """How many models misread each drawing."""
    if not predicted:
        return np.zeros(len(labels), np.int64)
    return np.sum([guess != labels for guess in predicted.values()], axis=0)


def hardest(labels: np.ndarray, predicted: dict[str, np.ndarray], n: int = 12) -> list[int]:
    """Indices of the drawings most models misread (at least half of them), worst first."""
    wrong = misread_by(labels, predicted)
    order = np.argsort(-wrong, kind="stable")
    return [int(i) for i in order[:n] if wrong[i] * 2 >= max(len(predicted), 1) and wrong[i] > 0]


def per_digit(labels: np.ndarray) -> list[int]:
    """Drawings per digit, 0-9."""
    return np.bincount(np.asarray(labels, np.int64), minlength=10)[:10].tolist()


def per_student(students: np.ndarray, names: Sequence[str]) -> dict[str, int]:
    """Drawings per anonymous browser id, most first (ties: who drew first); ``students`` are
    indices into ``names``."""
    codes, first, counts = np.unique(np.asarray(students), return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    return {names[codes[i]]: int(counts[i]) for i in order}

"""Writer-level cross-validation folds (pen.writer_folds) and the elastic trajectory distortion of benchmarks/pen_cv.py."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.pen_cv import elastic
from mnist_small.handwriting.pen import WRITERS, PenDigit, writer_folds


@pytest.mark.parametrize("k", [2, 5, 6, 7, 30])
def test_writer_folds_partition_the_writers(k: int) -> None:
    folds = writer_folds(WRITERS, k)
    assert len(folds) == k
    every = [w for fold in folds for w in fold]
    assert sorted(every) == list(WRITERS)  # each writer in exactly one fold, none split or lost
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 1


def test_writer_folds_ignore_order_and_repeats() -> None:
    assert writer_folds([5, 3, 1, 3, 4, 2], 2) == [(1, 3, 5), (2, 4)]


@pytest.mark.parametrize("k", [0, 1, 31])
def test_writer_folds_reject_impossible_counts(k: int) -> None:
    with pytest.raises(ValueError, match="folds"):
        writer_folds(WRITERS, k)


def digit() -> PenDigit:
    t = np.linspace(0, 2 * np.pi, 40)
    return PenDigit(0, 7, 3, (np.stack([100 + 50 * np.cos(t), 200 + 80 * np.sin(t)], 1), np.array([[100.0, 100.0], [100.0, 300.0]])))


def test_elastic_moves_points_smoothly_within_its_amount() -> None:
    plain = digit()
    moved = elastic(plain, 0.1, seed=2)
    assert [s.shape for s in moved.strokes] == [s.shape for s in plain.strokes]
    shift = np.concatenate(moved.strokes) - plain.points
    longest = np.ptp(plain.points, 0).max()
    assert np.abs(shift).max() > 0.001 * longest  # it does move the trajectory
    # each axis is a sum of 3 waves with normal weights / sqrt(3): far below 0.1 * 3 * longest in practice
    assert np.abs(shift).max() <= 0.1 * longest * 3
    neighbours = np.abs(np.diff(shift[:40], axis=0)).max()
    assert neighbours < 0.05 * longest  # a smooth field: neighbouring points move alike
    assert all(np.array_equal(a, b) for a, b in zip(elastic(plain, 0.1, seed=2).strokes, moved.strokes, strict=True))
    assert not np.array_equal(elastic(plain, 0.1, seed=3).strokes[0], moved.strokes[0])


def test_elastic_zero_amount_keeps_the_trajectory() -> None:
    plain = digit()
    assert all(np.allclose(a, b) for a, b in zip(elastic(plain, 0.0, seed=1).strokes, plain.strokes, strict=True))

"""The Class tab's figures from answers: the leaderboard, the confusions, the hardest drawings."""

import numpy as np

from mnist_small.classset.leaderboard import confusion, hardest, leaderboard, misread_by

LABELS = np.array([1, 7, 4, 9])
ANSWERS = {"a": np.array([1, 1, 4, 9]), "b": np.array([1, 7, 4, 9]), "c": np.array([7, 1, 9, 9])}


def test_the_leaderboard_ranks_by_accuracy_on_the_kept_drawings():
    rows = leaderboard(LABELS, ANSWERS)
    assert [(r["model"], r["correct"], r["total"]) for r in rows] == [("b", 4, 4), ("a", 3, 4), ("c", 1, 4)]
    kept = leaderboard(LABELS, ANSWERS, keep=np.array([True, False, True, True]))  # a flagged drawing left out
    assert [(r["model"], r["accuracy"]) for r in kept] == [("a", 100.0), ("b", 100.0), ("c", 100 / 3)]
    assert leaderboard(LABELS, ANSWERS, keep=np.zeros(4, bool))[0]["accuracy"] is None


def test_confusions_count_true_digit_by_answer():
    matrix = confusion(LABELS, ANSWERS["c"])
    assert matrix.sum() == 4 and matrix[1, 7] == matrix[7, 1] == matrix[4, 9] == matrix[9, 9] == 1


def test_the_hardest_drawings_fool_at_least_half_the_models():
    assert misread_by(LABELS, ANSWERS).tolist() == [1, 2, 1, 0]
    assert hardest(LABELS, ANSWERS) == [1]  # 2 of 3 models wrong; one of 3 is not "most"

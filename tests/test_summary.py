import dataclasses
import json
import shutil

import numpy as np

from mnist_small.checkpoints import load_checkpoint
from mnist_small.records import Misread
from mnist_small.registry import REGISTRY, Recipe
from mnist_small.summary import (
    HardDigit,
    comparison_rows,
    confusion_matrix,
    feature_map_layers,
    fooled,
    guesses,
    hardest_digits,
    histories,
    layer_table,
    misclassified,
    mistake_pairs,
    mistakes_of,
    readable_recipe,
    teacher,
    training_augment,
    votes,
)

from .conftest import CHECKPOINTS

FIRST = next(iter(REGISTRY))


def test_mistake_pairs_count_each_confusion_most_frequent_first():
    wrong = [Misread(i, t, p) for i, (t, p) in enumerate([(4, 9), (6, 0), (4, 9), (7, 1), (6, 0), (4, 9)])]
    assert mistake_pairs(wrong) == [(4, 9, 3), (6, 0, 2), (7, 1, 1)]
    assert mistake_pairs([]) == []


def test_hardest_digits_rank_test_digits_by_how_many_models_get_them_wrong():
    def wrong(*triples):
        return [Misread(i, t, p) for i, t, p in triples]

    hard = hardest_digits(
        {
            "a": wrong((7, 4, 9), (3, 5, 3), (12, 1, 7)),
            "b": wrong((3, 5, 6), (7, 4, 9)),
            "c": wrong((3, 5, 3), (7, 4, 1)),
            "d": wrong((12, 1, 2)),
            "e": [],
        }
    )
    assert [(h.index, h.label, len(h.answers)) for h in hard] == [(3, 5, 3), (7, 4, 3), (12, 1, 2)]
    assert hard[0].answers == {"a": 3, "b": 6, "c": 3}
    assert [h.common_answer for h in hard] == [3, 9, 2]  # a tie goes to the smaller digit
    assert hardest_digits({"a": [], "b": []}) == []


def test_the_model_card_recipe_shows_what_the_optimizer_ran():
    stored = {"epochs": 1, "batch_size": 8, "max_lr": 0.1, "momentum": 0.9, "nesterov": True}  # as stored before the cycle
    sgd = readable_recipe({**stored, "optimizer": "sgd"})
    assert sgd["momentum"] == [0.95, 0.85] and sgd["nesterov"]  # the cycle OneCycle ran, not the unused 0.9
    assert "momentum" not in readable_recipe({**stored, "optimizer": "adagrad"})
    assert readable_recipe({"from": "another version"}) == {"from": "another version"}


def test_votes_count_each_models_answer():
    probabilities = {"a": np.eye(10)[7], "b": np.eye(10)[7], "c": 0.6 * np.eye(10)[1] + 0.04}
    assert guesses(probabilities) == {"a": 7, "b": 7, "c": 1}
    assert votes(guesses(probabilities)) == [0, 1, 0, 0, 0, 0, 0, 2, 0, 0]
    assert votes({}) == [0] * 10
    rows = comparison_rows(probabilities, {"a": 99.1, "b": 98.7, "c": 99.4})
    assert rows[2] == {"model": "c", "guess": 1, "confidence (%)": 64.0, "test accuracy (%)": 99.4}
    assert [r["model"] for r in rows] == ["a", "b", "c"]


def test_mistakes_of_one_confusion_or_all():
    wrong = [Misread(i, t, p) for i, (t, p) in enumerate([(4, 9), (6, 0), (4, 9), (9, 4)])]
    assert [m.index for m in mistakes_of(wrong, (4, 9))] == [0, 2]
    assert mistakes_of(wrong, (9, 4)) == [wrong[3]] and mistakes_of(wrong, (1, 7)) == []
    assert mistakes_of(wrong) == wrong and mistakes_of(wrong) is not wrong


def test_fooled_counts_the_digits_most_and_all_models_get_wrong():
    hard = [HardDigit(1, 4, {"a": 9, "b": 9, "c": 9}), HardDigit(2, 5, {"a": 3, "b": 6}), HardDigit(3, 1, {"a": 7})]
    assert fooled(hard, 3) == (2, 1)
    assert fooled(hard, 4) == (1, 0)  # two of four is not most
    assert fooled([], 3) == (0, 0)


def test_feature_map_layers_are_the_ones_with_2d_maps():
    model = REGISTRY[FIRST].build()
    layers = feature_map_layers(model)
    assert layers and all(len(row.output_shape) == 3 and row.output_shape[1] > 1 for row in layers)
    assert layers[0].kind == "Conv2d" and layers[0].index == 1
    left_out = [row for row in layer_table(model) if row not in layers]
    assert all(len(row.output_shape) != 3 or row.output_shape[1] == 1 for row in left_out)


def test_what_a_checkpoint_records_is_read_for_display():
    loaded = load_checkpoint(FIRST, CHECKPOINTS)
    stored = json.loads((CHECKPOINTS / f"{FIRST}.json").read_text())
    assert [dataclasses.asdict(h) for h in histories({FIRST: loaded}, [FIRST])[FIRST]] == stored["history"]
    assert histories({FIRST: loaded}, []) == {}
    assert [dataclasses.asdict(m) for m in misclassified(loaded)] == stored["misclassified"]
    assert [list(row) for row in confusion_matrix(loaded)] == stored["confusion_matrix"]
    assert training_augment(loaded) == Recipe.from_dict(stored["recipe"]).augment
    assert teacher(loaded) == ""
    distilled = next(name for name, spec in REGISTRY.items() if spec.recipe.teacher)
    assert teacher(load_checkpoint(distilled, CHECKPOINTS)) == REGISTRY[distilled].recipe.teacher


def test_a_recipe_this_version_cannot_read_shows_the_registrys_augmentation(tmp_path):
    for suffix in (".json", ".safetensors"):
        shutil.copy(CHECKPOINTS / f"{FIRST}{suffix}", tmp_path)
    stored = json.loads((tmp_path / f"{FIRST}.json").read_text())
    stored["recipe"]["from_a_later_version"] = True
    (tmp_path / f"{FIRST}.json").write_text(json.dumps(stored))
    assert training_augment(load_checkpoint(FIRST, tmp_path)) == REGISTRY[FIRST].recipe.augment

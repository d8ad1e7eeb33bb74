import dataclasses
import json
import shutil

import numpy as np
import pytest

from mnist_small.cards import (
    curve_histories,
    distilled_from,
    feature_map_layers,
    layer_table,
    misclassified,
    model_card,
    published_comparison,
    readable_recipe,
    stored_confusion,
    training_augment,
)
from mnist_small.checkpoints import LoadedModel, load_checkpoint
from mnist_small.published import PublishedEpoch, PublishedRun, load_published
from mnist_small.records import EpochRecord, Misread, RunRecord
from mnist_small.registry import REGISTRY, VARIANTS, Recipe, split_name, twin
from mnist_small.summary import (
    TRAINED_ON,
    HardDigit,
    architecture,
    architectures,
    best_reader,
    by_kind,
    comparison_rows,
    fooled,
    guesses,
    hardest_digits,
    kinds,
    mistake_pairs,
    mistakes_of,
    model_name,
    overview_rows,
    trained_on_pen,
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
    rows = comparison_rows(probabilities, {"a": 99.1, "b": 98.7, "c": 99.4}, {"a": 96.0, "b": None, "c": 95.5})
    assert rows[2] == {
        "model": "c",
        "trained on": "MNIST",
        "guess": 1,
        "confidence (%)": 64.0,
        "real handwriting (%)": 95.5,
        "test accuracy (%)": 99.4,
    }
    assert [r["model"] for r in rows] == ["a", "b", "c"] and rows[1]["real handwriting (%)"] is None
    assert comparison_rows({"a+pen": np.eye(10)[7]}, {"a+pen": 99.0}, {"a+pen": 98.5})[0]["trained on"] == "MNIST + pen writers"


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
    # the stored history, with the pen accuracy measured after training at its last epoch
    stored_history = [EpochRecord(**h) for h in stored["history"]]
    stored_history[-1] = dataclasses.replace(stored_history[-1], pen_acc=stored["pen_acc"])
    assert list(curve_histories({FIRST: loaded}, [FIRST])[FIRST]) == stored_history
    assert curve_histories({FIRST: loaded}, []) == {}
    assert [dataclasses.asdict(m) for m in misclassified(loaded)] == stored["misclassified"]
    assert [list(row) for row in stored_confusion(loaded)] == stored["confusion_matrix"]
    assert training_augment(loaded) == Recipe.from_dict(stored["recipe"]).augment
    assert distilled_from(loaded) == ""
    distilled = next(name for name, spec in REGISTRY.items() if spec.recipe.teacher)
    assert distilled_from(load_checkpoint(distilled, CHECKPOINTS)) == REGISTRY[distilled].recipe.teacher


def test_a_recipe_this_version_cannot_read_shows_the_registrys_augmentation(tmp_path):
    for suffix in (".json", ".safetensors"):
        shutil.copy(CHECKPOINTS / f"{FIRST}{suffix}", tmp_path)
    stored = json.loads((tmp_path / f"{FIRST}.json").read_text())
    stored["recipe"]["from_a_later_version"] = True
    (tmp_path / f"{FIRST}.json").write_text(json.dumps(stored))
    assert training_augment(load_checkpoint(FIRST, tmp_path)) == REGISTRY[FIRST].recipe.augment


def test_a_model_name_is_an_architecture_and_a_variant():
    assert [split_name(n) for n in ("a", "a+pen", "a+class", "a+pen+class")] == [
        ("a", ""),
        ("a", "+pen"),
        ("a", "+class"),
        ("a", "+pen+class"),
    ]
    for bad in ("a+class+pen", "a+foo", "+pen", "a+"):
        with pytest.raises(ValueError, match="not a model name"):
            split_name(bad)
    assert [architecture(n) for n in ("a", "a+pen", "a+class")] == ["a", "a", "a"]
    assert [trained_on_pen(n) for n in ("a", "a+pen", "a+class", "a+pen+class")] == [False, True, False, True]
    assert model_name("a", "") == "a" and model_name("a", "+pen") == "a+pen" == twin("a") and twin("a+pen") == "a"
    names = ["a", "b", "c", "a+pen", "c+pen", "d+pen", "a+class"]  # registry order: the MNIST models first
    assert architectures(names) == ["a", "b", "c", "d"]
    assert kinds(names, "a") == ["", "+pen", "+class"] and kinds(names, "b") == [""] and kinds(names, "d") == ["+pen"]
    assert kinds(names, "e") == []
    assert by_kind(names) == {"": ["a", "b", "c"], "+pen": ["a+pen", "c+pen", "d+pen"], "+class": ["a+class"]}
    assert by_kind(["a", "b"]) == {"": ["a", "b"]} and by_kind(["a+pen"]) == {"+pen": ["a+pen"]}
    assert TRAINED_ON[""] == "MNIST" and TRAINED_ON["+pen"] == "MNIST + pen writers" and set(TRAINED_ON) == set(VARIANTS)


def test_the_best_reader_of_real_handwriting_is_the_default():
    assert best_reader({"a": 95.1, "b": None, "a+pen": 98.9, "b+pen": 99.2}) == "b+pen"
    assert best_reader({"a": 97.0, "b": 97.0, "c": 96.0}) == "a"  # the first of equals
    assert best_reader({"a": None, "b": 95.0}) == "b"  # unmeasured models are passed over
    assert best_reader({"a": None, "b": None}) == "a"  # none measured: the first, as before


def fake_model(
    name: str, epochs: int, pen: tuple[float | None, ...] = (), pen_acc: float | None = None, init_from: str = ""
) -> LoadedModel:
    pen = pen or (None,) * epochs
    history = tuple(EpochRecord(e, 0.1, 98.0, 0.05, 99.0, 0.01, 1.0, p) for e, p in zip(range(1, epochs + 1), pen, strict=True))
    run = RunRecord(name=name, params=1, recipe={"init_from": init_from}, history=history, pen_acc=pen_acc)
    return LoadedModel(spec=REGISTRY[name], model=None, run=run)


def test_a_twins_curves_go_on_from_the_model_it_was_fine_tuned_from():
    base = "three_blocks_9.6k"
    models = {base: fake_model(base, 8, pen_acc=96.2), twin(base): fake_model(twin(base), 3, (97.0, 98.0, 98.5), 98.5, init_from=base)}
    drawn = curve_histories(models, [base, twin(base)])
    assert [h.epoch for h in drawn[twin(base)]] == [9, 10, 11]  # its own checkpoint's 8 epochs before
    assert [h.pen_acc for h in drawn[twin(base)]] == [97.0, 98.0, 98.5]
    assert [h.pen_acc for h in drawn[base]] == [None] * 7 + [96.2]  # measured once, after its last epoch
    assert [h.epoch for h in drawn[base]] == list(range(1, 9))
    alone = curve_histories({twin(base): models[twin(base)]}, [twin(base)])  # the MNIST model not loaded: its registered epochs
    assert [h.epoch for h in alone[twin(base)]] == [REGISTRY[base].recipe.epochs + e for e in (1, 2, 3)]
    assert models[twin(base)].run.history[0].epoch == 1  # the record itself is left as stored
    assert curve_histories(models, []) == {}


def test_the_zoo_and_the_card_read_the_real_handwriting_figures():
    loaded = load_checkpoint(FIRST, CHECKPOINTS)
    stored = json.loads((CHECKPOINTS / f"{FIRST}.json").read_text())
    card = model_card(loaded)
    assert card["pen_acc"] == stored.get("pen_acc") and card["pen_data"] is None and card["fine_tuned_from"] == ""
    pen = dataclasses.replace(
        loaded,
        run=dataclasses.replace(loaded.run, pen_acc=98.7, pen_data={"train_digits": 5}, recipe={**loaded.run.recipe, "init_from": "x"}),
    )
    card = model_card(pen)
    assert (card["pen_acc"], card["pen_data"], card["fine_tuned_from"]) == (98.7, {"train_digits": 5}, "x")
    row = overview_rows({FIRST: loaded, twin(FIRST): dataclasses.replace(pen, spec=REGISTRY[twin(FIRST)])})
    assert list(row[0])[:7] == ["name", "architecture", "pen", "trained on", "pen accuracy", "drawn accuracy", "accuracy"]
    assert [(r["name"], r["architecture"], r["pen"], r["trained on"]) for r in row] == [
        (FIRST, FIRST, False, "MNIST"),
        (twin(FIRST), FIRST, True, "MNIST + pen writers"),
    ]
    assert row[1]["pen accuracy"] == 98.7 and row[0]["accuracy"] == loaded.run.final_acc


def test_the_write_ups_best_and_final_beside_ours():
    run = PublishedRun(
        params=1,
        source="w.md",
        epoch_note="",
        epochs=(PublishedEpoch(1, test_acc=98.0), PublishedEpoch(2, test_acc=99.5), PublishedEpoch(3, test_acc=99.25)),
    )
    compared = published_comparison("m", 99.4, {"m": run})
    assert compared == {
        "published_best": 99.5,
        "published_best_epoch": 2,
        "published_final": 99.25,
        "published_final_epoch": 3,
        "ours_final": 99.4,
        "difference": 0.15,  # ours final minus the write-up's final, in points
        "source": "w.md",
    }
    assert published_comparison("m", 99.0, {"m": run})["difference"] == -0.25
    assert published_comparison("other", 99.0, {"m": run}) is None  # our own models have no write-up
    silent = dataclasses.replace(run, epochs=(PublishedEpoch(1, test_acc=99.0), PublishedEpoch(2)))
    assert published_comparison("m", 99.0, {"m": silent}) is None  # no final accuracy to set ours against

    loaded = load_checkpoint(FIRST, CHECKPOINTS)
    assert FIRST in load_published()
    card = model_card(loaded)
    assert card["published"]["published_final"] == load_published()[FIRST].final().test_acc
    assert card["published"]["ours_final"] == loaded.run.final_acc
    pen = dataclasses.replace(loaded, spec=REGISTRY[twin(FIRST)])
    rows = overview_rows({FIRST: loaded, twin(FIRST): pen})
    assert rows[0]["write-up's final"] == card["published"]["published_final"]
    assert rows[0]["ours − write-up"] == card["published"]["difference"]
    best = load_published()[FIRST].best()
    assert rows[0]["write-up's best (epoch)"] == f"{best.test_acc:.2f}% ({best.epoch})"
    assert [rows[1][k] for k in ("write-up's best (epoch)", "write-up's final", "ours − write-up")] == [None] * 3  # the +pen twin

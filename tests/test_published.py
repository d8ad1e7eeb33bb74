"""mnist_small/published.json against the write-ups it was transcribed from, and `python -m mnist_small published`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from mnist_small.published import FIELDS, PublishedEpoch, PublishedRun, load_published
from mnist_small.registry import REGISTRY

from .conftest import ROOT

SEEDS = Path(os.environ.get("MNIST_SMALL_TEST_SEEDS", ROOT.parent / "shared" / "seeds"))
needs_seeds = pytest.mark.skipif(not SEEDS.is_dir(), reason=f"the write-ups are not at {SEEDS} (set MNIST_SMALL_TEST_SEEDS)")

# Where each model's epochs are in its write-up: the section (from a start marker up to an end marker or the
# end of the file), the regex of the line that opens an epoch (group 1: the epoch as printed) and what to add
# to the printed epoch to get ours. An epoch's figures must all appear in its own stretch of text, up to the next
# epoch line.
SECTIONS: dict[str, tuple[str, str | None, str, int]] = {
    "gap_bn_dropout_7.5k": ("summary of model:", "Layer (type)", r"EPOCH: (\d+)$", 1),
    "conv5x5_linear_19.9k": ("### Best Model Checkpoints", "### Training Analysis", r"^\d+\. Epoch (\d+):", 0),
    "wide_gap_fc_18.2k": ("| Epoch | Train Loss |", "Model Architecture **model_v0.py**", r"^\| (\d+)\s+\|", 0),
    "christmas_tree_11.0k": ("**model_v1.py**\nImprovements", "** model_v2.py **", r"^Epoch (\d+)$", 0),
    "squeeze1x1_4.2k": ("** model_v2.py **", "--- Model Architecture Checks", r"^Epoch (\d+)$", 0),
    "padded_gap_7.9k": ("** model_v3.py **", None, r"^Epoch (\d+)$", 0),
    "three_blocks_9.6k": ("TRAINING METRICS SUMMARY", "*Training curves", r"^\s+(\d+)\s+[\d.]+\s+[\d.]+", 0),
    "depthwise_6.5k": ("### Training Logs", None, r"^EPOCH: (\d+)$", 0),
}
# figures the write-up gives outside its log: (model, our epoch, field) -> the sentence that gives it
ELSEWHERE = {("gap_bn_dropout_7.5k", 15, "test_acc"): "Final Test Accuracy: 99.31% (Epoch 14)"}
ACCURACIES = ("test_acc", "train_acc")


def numbers(text: str, percent: bool = False) -> set[float]:
    """Every number printed in text; with percent, fractions such as 0.9912 also count as 99.12."""
    tokens = re.findall(r"\d+(?:\.\d+)?", text)
    found = {float(t) for t in tokens}
    if percent:
        found |= {round(float(t) * 100, 10) for t in tokens if t.startswith("0.")}
    return found


def epoch_chunks(model: str) -> dict[int, str]:
    start, end, header, offset = SECTIONS[model]
    text = (SEEDS / REGISTRY[model].source).read_text(encoding="utf-8")
    assert text.count(start) == 1, f"{model}: section start {start!r} not unique in {REGISTRY[model].source}"
    section = text[text.index(start) :]
    if end is not None:
        section = section[: section.index(end)]
    heads = list(re.finditer(header, section, re.M))
    chunks = {}
    for i, m in enumerate(heads):
        stop = heads[i + 1].start() if i + 1 < len(heads) else len(section)
        epoch = int(m.group(1)) + offset
        assert epoch not in chunks, f"{model}: epoch {epoch} twice"
        chunks[epoch] = section[m.end(1) : stop]
    return chunks


PUBLISHED = load_published()


def test_every_write_up_model_has_a_record_and_every_record_a_registered_model():
    for name, run in PUBLISHED.items():
        assert name in REGISTRY, name
        assert REGISTRY[name].source == run.source, name
    writeup_models = {n for n, s in REGISTRY.items() if s.source is not None and not n.endswith("+pen")}
    assert set(PUBLISHED) == writeup_models
    assert set(SECTIONS) == writeup_models


def test_records_are_well_formed():
    for name, run in PUBLISHED.items():
        assert isinstance(run, PublishedRun) and run.epochs and run.epoch_note, name
        epochs = [e.epoch for e in run.epochs]
        assert epochs == sorted(set(epochs)) and epochs[0] >= 1, name
        for e in run.epochs:
            assert isinstance(e, PublishedEpoch)
            for field in ACCURACIES:
                value = getattr(e, field)
                assert value is None or 1 < value <= 100, f"{name} epoch {e.epoch} {field}={value}: percent, not a fraction"
            assert any(getattr(e, f) is not None for f in FIELDS), f"{name} epoch {e.epoch} has no figure"
    with pytest.raises(FrozenInstanceError):
        PUBLISHED["depthwise_6.5k"].epochs[0].test_acc = 1.0  # type: ignore[misc]


def test_best_and_final():
    for name, run in PUBLISHED.items():
        best, final = run.best(), run.final()
        assert final is run.epochs[-1]
        assert best.test_acc == max(e.test_acc for e in run.epochs if e.test_acc is not None)
        assert best.epoch == min(e.epoch for e in run.epochs if e.test_acc == best.test_acc), "earliest on ties"
        assert best.test_acc == REGISTRY[name].reported_best_acc, f"{name}: the write-up's best vs the registry's"
    assert (PUBLISHED["gap_bn_dropout_7.5k"].best().epoch, PUBLISHED["depthwise_6.5k"].best().epoch) == (10, 7)
    tie = PublishedRun(1, "x", "", (PublishedEpoch(1, 99.0), PublishedEpoch(2, 99.5), PublishedEpoch(3, 99.5), PublishedEpoch(4)))
    assert tie.best().epoch == 2 and tie.final().epoch == 4
    assert PublishedRun(1, "x", "", (PublishedEpoch(1, train_acc=90.0),)).best() is None


@needs_seeds
@pytest.mark.parametrize("model", sorted(SECTIONS))
def test_transcription_matches_the_write_up(model):
    run = PUBLISHED[model]
    text = (SEEDS / run.source).read_text(encoding="utf-8")
    assert f"{run.params:,}" in text or str(run.params) in text, f"{model}: {run.params} params not printed"
    chunks = epoch_chunks(model)
    # as many epochs as the write-up has epoch lines, with the same numbers (mapped to ours)
    assert [e.epoch for e in run.epochs] == sorted(chunks), f"{model}: epochs {sorted(chunks)} in the write-up"
    for e in run.epochs:
        for field in FIELDS:
            value = getattr(e, field)
            if value is None:
                continue
            where = ELSEWHERE.get((model, e.epoch, field))
            if where is not None:
                assert where in text
                assert value in numbers(where, percent=field in ACCURACIES), f"{model} epoch {e.epoch} {field}={value}"
                continue
            printed = numbers(chunks[e.epoch], percent=field in ACCURACIES)
            assert value in printed, f"{model} epoch {e.epoch} {field}={value} is not printed in that epoch's lines"


@needs_seeds
def test_no_published_test_accuracy_is_left_out():
    """Each epoch's test accuracy, where its lines print one ('(99.12%)', '| 99.12%', a table's column), is stored."""
    for model, run in PUBLISHED.items():
        for e in run.epochs:
            if e.test_acc is None:
                assert model == "conv5x5_linear_19.9k" or (model, e.epoch, "test_acc") in ELSEWHERE, f"{model} epoch {e.epoch}"
    last = epoch_chunks("gap_bn_dropout_7.5k")[15]
    assert "Test set" not in last, "the 000 log now prints epoch 14's test line: transcribe it"


def test_cli_published_json():
    proc = subprocess.run(
        [sys.executable, "-m", "mnist_small", "published", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) == set(PUBLISHED)
    for name, rec in out.items():
        assert set(rec) == {"params", "source", "epochs"}
        assert isinstance(rec["params"], int) and rec["params"] == PUBLISHED[name].params
        assert rec["source"] == REGISTRY[name].source
        for e in rec["epochs"]:
            assert set(e) == {"epoch", *FIELDS} and isinstance(e["epoch"], int)
            assert all(e[f] is None or isinstance(e[f], float) for f in FIELDS)
    assert out["three_blocks_9.6k"]["epochs"][-1] == {
        "epoch": 10,
        "test_acc": 99.64,
        "test_loss": 0.013318,
        "train_acc": 98.993333,
        "train_loss": 0.031684,
        "lr": 0.049657,
    }


def test_cli_published_table():
    proc = subprocess.run([sys.executable, "-m", "mnist_small", "published"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for name, run in PUBLISHED.items():
        assert f"{name}  [{run.source}, {run.params:,} params]  {len(run.epochs)} epochs" in proc.stdout
    assert "best 99.38% (epoch 10), final 99.31% (epoch 15)" in proc.stdout

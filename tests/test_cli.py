"""`python -m mnist_small evaluate|predict` on the shipped checkpoints."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from mnist_small.handwriting.pen import TRAIN_FILE
from mnist_small.registry import PEN, REGISTRY, twin

from .conftest import CHECKPOINTS, MNIST_DIR, PEN_DIR, run_cli


@pytest.fixture(scope="module")
def evaluation(mnist):
    proc = run_cli("evaluate", "--data-dir", str(MNIST_DIR), "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_every_registered_model_is_shipped():
    missing = [n for n in REGISTRY if not (CHECKPOINTS / f"{n}.safetensors").exists()]
    assert not missing, f"train them with: python train.py --models {' '.join(missing)}"


def test_evaluate_json_shape(evaluation):
    assert set(evaluation) == set(REGISTRY)
    for row in evaluation.values():
        assert set(row) == {"params", "accuracy", "recorded_accuracy"}
        assert isinstance(row["params"], int) and isinstance(row["accuracy"], float)


def test_shipped_checkpoints_reach_their_recorded_accuracy(evaluation):
    """The history was written by the training run; re-evaluating must agree with it."""
    for name, row in evaluation.items():
        assert row["accuracy"] == pytest.approx(row["recorded_accuracy"], abs=0.031), name
        assert row["accuracy"] > 98.5, name


def test_predict_json(tmp_path, mnist):
    digit = tmp_path / "seven.png"
    Image.fromarray(255 - mnist.test_images[0, 0].numpy()).resize((200, 200)).save(digit)  # a 7, dark on light
    blank = tmp_path / "blank.png"
    Image.fromarray(np.zeros((50, 50), np.uint8)).save(blank)
    proc = run_cli("predict", str(digit), str(blank), "--json")
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert [r["file"] for r in results] == [str(digit), str(blank)]
    seven, empty = results
    assert set(seven["models"]) == set(REGISTRY)
    for out in seven["models"].values():
        assert len(out["probabilities"]) == 10 and sum(out["probabilities"]) == pytest.approx(1, abs=1e-4)
        assert out["label"] == int(np.argmax(out["probabilities"]))
    assert sum(out["label"] == 7 for out in seven["models"].values()) >= len(REGISTRY) - 1
    assert "message" in empty and all(out["label"] is None for out in empty["models"].values())


def test_predict_unreadable_file(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("nope")
    proc = run_cli("predict", str(bad))
    assert proc.returncode == 1
    assert "not a readable image" in proc.stdout


def test_evaluate_drawn_and_pen_json_and_record(mnist, tmp_path):
    """Drawn MNIST and the validation writers' pen digits re-measured with today's preprocessing
    match what every checkpoint records; --record writes them into the JSON and leaves the rest alone."""
    if not (PEN_DIR / TRAIN_FILE).is_file():
        pytest.skip(f"pen digits not found in {PEN_DIR} (set MNIST_SMALL_TEST_PEN)")
    checkpoints = shutil.copytree(CHECKPOINTS, tmp_path / "checkpoints")
    shipped = {n: json.loads((CHECKPOINTS / f"{n}.json").read_text()) for n in REGISTRY}
    stale = checkpoints / "squeeze1x1_4.2k.json"
    stale.write_text(json.dumps({**shipped["squeeze1x1_4.2k"], "drawn_acc": 0.0, "pen_acc": None}))
    args = ("evaluate", "--data-dir", str(MNIST_DIR), "--json", "--drawn", "--pen", str(PEN_DIR), "--record")
    proc = run_cli("--checkpoints", str(checkpoints), *args)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    for name, row in report.items():
        assert set(row) == {"params", "accuracy", "recorded_accuracy", "drawn_accuracy", "pen_accuracy"}
        assert 90 < row["drawn_accuracy"] <= 100 and 90 < row["pen_accuracy"] <= 100
        assert row["drawn_accuracy"] == shipped[name]["drawn_acc"], f"{name}: stale; run evaluate --drawn --pen --record"
        assert row["pen_accuracy"] == shipped[name]["pen_acc"], f"{name}: stale; run evaluate --drawn --pen --record"
        assert json.loads((checkpoints / f"{name}.json").read_text()) == shipped[name]
    for name in REGISTRY:
        if name.endswith(PEN):  # the variants beat their MNIST-only twins on writers neither trained on
            assert report[name]["pen_accuracy"] > report[twin(name)]["pen_accuracy"]


def test_record_needs_drawn_or_pen():
    proc = run_cli("evaluate", "--record")
    assert proc.returncode == 2 and "--drawn or --pen" in proc.stderr


def test_the_checkpoint_folder_comes_from_the_apps_setting(tmp_path):
    """MNIST_SMALL_CHECKPOINTS points the command line where it points the app; --checkpoints wins over it."""
    two = ["squeeze1x1_4.2k", "three_blocks_9.6k"]
    for name in two:
        for suffix in (".json", ".safetensors"):
            shutil.copy(CHECKPOINTS / f"{name}{suffix}", tmp_path)
    table = run_cli("table", env={"MNIST_SMALL_CHECKPOINTS": str(tmp_path)})
    assert table.returncode == 0, table.stderr
    rows = [line for line in table.stdout.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == two
    assert "| 003 |" in rows[1] and f"{json.loads((tmp_path / 'three_blocks_9.6k.json').read_text())['params']:,}" in rows[1]
    empty = run_cli("table", env={"MNIST_SMALL_CHECKPOINTS": str(tmp_path / "none")})
    assert empty.returncode == 1 and f"no usable checkpoints in {tmp_path / 'none'}" in empty.stderr
    explicit = run_cli("--checkpoints", str(CHECKPOINTS), "table", env={"MNIST_SMALL_CHECKPOINTS": str(tmp_path / "none")})
    architectures = [name for name in REGISTRY if not name.endswith(PEN)]  # one row each, its +pen twin beside it
    assert explicit.returncode == 0 and explicit.stdout.count("| `") == len(architectures)

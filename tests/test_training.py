"""One short real training run, its checkpoint, resume and the train.py command line."""

import os
import subprocess
import sys

import pytest
import torch

from mnist_small.checkpoints import load_checkpoint
from mnist_small.registry import REGISTRY
from mnist_small.training import Tensors, evaluate, resume_path, train_model

from .conftest import MNIST_DIR, ROOT

NAME = "three_blocks_9.6k"


@pytest.fixture(scope="module")
def small(mnist):
    """4,000 training images and 2,000 test images, normalised."""
    full = Tensors.from_mnist(mnist, torch.device("cpu"))
    return Tensors(full.train_x[:4000], full.train_y[:4000], full.test_x[:2000], full.test_y[:2000], full.checksum)


@pytest.fixture(scope="module")
def run(small, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    meta = train_model(REGISTRY[NAME], small, out, seed=3, epochs=2, show_progress=False, log=lambda _: None)
    return out, meta


def test_short_run_beats_chance_and_writes_a_checkpoint(run, small):
    out, meta = run
    assert [h["epoch"] for h in meta["history"]] == [1, 2]
    assert meta["complete"] and meta["train_images"] == 4000
    assert meta["history"][-1]["test_acc"] > 85.0  # chance is 10%
    assert sum(map(sum, meta["confusion_matrix"])) == 2000
    assert len(meta["misclassified"]) == sum(meta["confusion_matrix"][i][j] for i in range(10) for j in range(10) if i != j)
    assert not resume_path(out, NAME).exists(), "a finished run leaves no resume state"

    loaded = load_checkpoint(NAME, out)
    assert loaded.meta == meta
    _, acc, _ = evaluate(loaded.model, small.test_x, small.test_y)
    assert acc == pytest.approx(meta["history"][-1]["test_acc"], abs=0.051)


def test_interrupted_run_resumes_to_the_same_history(run, small, tmp_path):
    _, uninterrupted = run

    def stop_after_first_epoch(line):
        if "epoch  1/2" in line:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_model(REGISTRY[NAME], small, tmp_path, seed=3, epochs=2, show_progress=False, log=stop_after_first_epoch)
    partial = load_checkpoint(NAME, tmp_path)
    assert partial.meta["epochs_completed"] == 1 and not partial.meta["complete"]
    assert resume_path(tmp_path, NAME).exists()

    lines = []
    resumed = train_model(REGISTRY[NAME], small, tmp_path, seed=3, epochs=2, resume=True, show_progress=False, log=lines.append)
    assert "resuming after epoch 1" in lines[0]
    strip = lambda h: [{k: v for k, v in e.items() if k != "seconds"} for e in h]  # noqa: E731
    assert strip(resumed["history"]) == strip(uninterrupted["history"])

    again = train_model(REGISTRY[NAME], small, tmp_path, seed=3, epochs=2, resume=True, show_progress=False, log=lines.append)
    assert "already trained" in lines[-1] and again["history"] == resumed["history"]


def test_train_py_command_line(mnist, tmp_path):
    out = tmp_path / "ckpt"
    cmd = [
        sys.executable,
        "train.py",
        "--models",
        "squeeze1x1_4.2k",
        "--epochs",
        "1",
        "--train-subset",
        "2000",
        "--data-dir",
        str(MNIST_DIR),
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "squeeze1x1_4.2k" in proc.stdout and "final acc" in proc.stdout
    assert (out / "squeeze1x1_4.2k.safetensors").exists() and (out / "squeeze1x1_4.2k.json").exists()


def test_train_py_reports_missing_data(tmp_path):
    cmd = [sys.executable, "train.py", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")]
    offline = "http://127.0.0.1:9"  # a closed local port: torchvision's download fails at once
    env = {**os.environ, "HTTP_PROXY": offline, "HTTPS_PROXY": offline, "http_proxy": offline, "https_proxy": offline}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 2
    assert "error: MNIST is not in" in proc.stderr and "--data-dir" in proc.stderr

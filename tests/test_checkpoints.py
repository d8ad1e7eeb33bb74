import json

import pytest
import torch

from mnist_small.checkpoints import CheckpointError, load_all, load_checkpoint, meta_path, save_checkpoint, weights_path
from mnist_small.registry import REGISTRY
from mnist_small.summary import count_params

NAME, OTHER = "squeeze1x1_4.2k", "depthwise_6.5k"


def fake_meta(name, model, epochs=1):
    history = [
        {"epoch": e, "train_loss": 1.0, "train_acc": 50.0, "test_loss": 1.0, "test_acc": 60.0, "lr": 0.1, "seconds": 1.0}
        for e in range(1, epochs + 1)
    ]
    return {"name": name, "params": count_params(model), "recipe": {}, "history": history, "epochs_completed": epochs, "train_seconds": 1.0}


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = REGISTRY[NAME].build()
    save_checkpoint(model, fake_meta(NAME, model), tmp_path)
    return tmp_path, model


def test_round_trip(saved):
    folder, model = saved
    loaded = load_checkpoint(NAME, folder)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value)
    assert not loaded.model.training
    assert not list(folder.glob("*.tmp")), "no temp files left behind"


def test_truncated_weights(saved):
    folder, _ = saved
    path = weights_path(folder, NAME)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"squeeze1x1_4\.2k\.safetensors: corrupt or truncated"):
        load_checkpoint(NAME, folder)


def test_garbage_json(saved):
    folder, _ = saved
    meta_path(folder, NAME).write_text("{not json")
    with pytest.raises(CheckpointError, match=r"\.json: not valid JSON"):
        load_checkpoint(NAME, folder)


def test_missing_files(saved):
    folder, _ = saved
    weights_path(folder, NAME).unlink()
    with pytest.raises(CheckpointError, match=r"safetensors: file is missing"):
        load_checkpoint(NAME, folder)
    with pytest.raises(CheckpointError, match=r"json: file is missing"):
        load_checkpoint(OTHER, folder)


def test_weights_of_another_architecture(saved, tmp_path):
    other = REGISTRY[OTHER].build()
    save_checkpoint(other, fake_meta(OTHER, other), tmp_path)
    weights_path(tmp_path, OTHER).replace(weights_path(tmp_path, NAME))
    with pytest.raises(CheckpointError, match=r"do not match the squeeze1x1_4\.2k architecture"):
        load_checkpoint(NAME, tmp_path)


def test_weights_and_history_from_different_epochs(saved):
    folder, model = saved
    meta = fake_meta(NAME, model, epochs=2)
    meta_path(folder, NAME).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"weights are from epoch 1 but .* describes epoch 2"):
        load_checkpoint(NAME, folder)


def test_load_all_keeps_the_good_ones(saved):
    folder, _ = saved
    other = REGISTRY[OTHER].build()
    save_checkpoint(other, fake_meta(OTHER, other), folder)
    weights_path(folder, OTHER).write_bytes(b"garbage")
    loaded, failed = load_all(folder)
    assert list(loaded) == [NAME]
    assert list(failed) == [OTHER] and "corrupt" in failed[OTHER]

import json

import pytest
import torch

from mnist_small.checkpoints import CheckpointError, load_all, load_checkpoint, meta_path, save_checkpoint, weights_path
from mnist_small.models import count_params
from mnist_small.records import EpochRecord, RunRecord
from mnist_small.registry import REGISTRY

NAME, OTHER = "squeeze1x1_4.2k", "depthwise_6.5k"


def fake_meta(name, model, epochs=1):
    history = tuple(EpochRecord(e, 1.0, 50.0, 1.0, 60.0 + e, 0.1, 1.0) for e in range(1, epochs + 1))
    return RunRecord(name, count_params(model), recipe={}, history=history, epochs_completed=epochs, train_seconds=1.0)


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
    meta_path(folder, NAME).write_text(json.dumps(meta.to_dict()))
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


def test_round_trip_keeps_the_record(saved):
    folder, model = saved
    loaded = load_checkpoint(NAME, folder)
    assert loaded.run == fake_meta(NAME, model)
    assert loaded.run.final_acc == 61.0 and loaded.run.best.epoch == 1 and loaded.run.params == count_params(model)


def test_a_record_with_unknown_keys_or_a_broken_epoch(saved):
    folder, model = saved
    stored = fake_meta(NAME, model).to_dict()
    meta_path(folder, NAME).write_text(json.dumps({**stored, "surprise": 1}))
    with pytest.raises(CheckpointError, match="unknown keys: surprise"):
        load_checkpoint(NAME, folder)
    meta_path(folder, NAME).write_text(json.dumps({**stored, "history": [{"epoch": 1}]}))
    with pytest.raises(CheckpointError, match="not a checkpoint record this version can read"):
        load_checkpoint(NAME, folder)


def test_best_is_the_earliest_of_equal_epochs():
    history = tuple(EpochRecord(e, 1.0, 50.0, 1.0, acc, 0.1, 1.0) for e, acc in enumerate([98.0, 99.1, 99.1, 98.9], start=1))
    run = RunRecord("m", 1, recipe={}, history=history, epochs_completed=4)
    assert run.best.epoch == 2 and run.final_acc == 98.9

"""Checkpoint files: ``<name>.safetensors`` (weights) + ``<name>.json`` (metadata, history).

Writes are atomic (temp file + rename), so a crash leaves the previous version, never a
half-written file. Loading validates everything and raises ``CheckpointError`` naming the
file and the reason, so the app can show one broken model as unavailable.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from .registry import REGISTRY, ModelSpec

REQUIRED_KEYS = ("name", "params", "recipe", "history", "epochs_completed")


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, corrupt, or does not fit its architecture."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass
class LoadedModel:
    """A ready-to-use model (eval mode, CPU) with its checkpoint metadata."""

    spec: ModelSpec
    model: nn.Module
    meta: dict[str, Any]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def final_acc(self) -> float:
        return self.meta["history"][-1]["test_acc"]


def atomic_write(path: Path, write: callable) -> None:
    """Call ``write(tmp_path)`` then rename the result over ``path`` in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes files private; checkpoints are for sharing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def weights_path(out_dir: Path, name: str) -> Path:
    return Path(out_dir) / f"{name}.safetensors"


def meta_path(out_dir: Path, name: str) -> Path:
    return Path(out_dir) / f"{name}.json"


def save_checkpoint(model: nn.Module, meta: dict[str, Any], out_dir: Path) -> None:
    """Write the weights, then the metadata; both carry the epoch so a mismatch is caught."""
    name = meta["name"]
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tag = {"model": name, "epoch": str(meta["epochs_completed"])}
    atomic_write(weights_path(out_dir, name), lambda p: save_file(tensors, str(p), metadata=tag))
    save_meta(meta, out_dir)


def save_meta(meta: dict[str, Any], out_dir: Path) -> None:
    """Write a checkpoint's JSON on its own (atomically), e.g. to record a re-measured figure."""
    text = json.dumps(meta, indent=1)
    atomic_write(meta_path(out_dir, meta["name"]), lambda p: p.write_text(text))


def read_meta(path: Path) -> dict[str, Any]:
    """Parse and check a checkpoint's JSON."""
    if not path.is_file():
        raise CheckpointError(path, "file is missing")
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(path, f"not valid JSON ({err})") from err
    if not isinstance(meta, dict):
        raise CheckpointError(path, "expected a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise CheckpointError(path, f"missing keys: {', '.join(missing)}")
    if not meta["history"]:
        raise CheckpointError(path, "history is empty: no epoch was completed")
    return meta


def load_checkpoint(name: str, ckpt_dir: Path) -> LoadedModel:
    """Build the registered architecture and load its checkpoint, validating both files."""
    ckpt_dir = Path(ckpt_dir)
    json_file, weights_file = meta_path(ckpt_dir, name), weights_path(ckpt_dir, name)
    meta = read_meta(json_file)
    spec = REGISTRY.get(meta["name"])
    if spec is None or meta["name"] != name:
        raise CheckpointError(json_file, f"names model {meta['name']!r}, which is not a registered model {name!r}")
    if not weights_file.is_file():
        raise CheckpointError(weights_file, "file is missing")
    try:
        with safe_open(str(weights_file), framework="pt") as f:
            tag = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (not a dict)
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(weights_file, f"corrupt or truncated safetensors file ({err})") from err
    if tag.get("epoch") != str(meta["epochs_completed"]):
        raise CheckpointError(
            weights_file,
            f"weights are from epoch {tag.get('epoch')} but {json_file.name} describes epoch "
            f"{meta['epochs_completed']}; re-run train.py --resume",
        )
    model = spec.build()
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        detail = str(err).split("\n\t", 1)[-1].replace("\n\t", "; ")
        raise CheckpointError(weights_file, f"weights do not match the {name} architecture: {detail}") from err
    params = sum(p.numel() for p in model.parameters())
    if params != meta["params"]:
        raise CheckpointError(json_file, f"records {meta['params']} parameters, the architecture has {params}")
    model.eval()
    return LoadedModel(spec=spec, model=model, meta=meta)


def available_names(ckpt_dir: Path) -> list[str]:
    """Registered models with at least one checkpoint file in ``ckpt_dir``, in registry order."""
    ckpt_dir = Path(ckpt_dir)
    return [n for n in REGISTRY if meta_path(ckpt_dir, n).exists() or weights_path(ckpt_dir, n).exists()]


def load_all(ckpt_dir: Path) -> tuple[dict[str, LoadedModel], dict[str, str]]:
    """Every checkpoint in ``ckpt_dir``: the loaded models, and the reason each failed one failed."""
    loaded, failed = {}, {}
    for name in available_names(ckpt_dir):
        try:
            loaded[name] = load_checkpoint(name, ckpt_dir)
        except CheckpointError as err:
            failed[name] = str(err)
    return loaded, failed


def torch_load_state(path: Path) -> dict[str, Any]:
    """Load a resume-state file written by training (our own file; plain tensors and numbers)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a damaged file
        raise CheckpointError(path, f"unreadable resume state ({err})") from err

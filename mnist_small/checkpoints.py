"""Checkpoint files: ``<name>.safetensors`` (weights) + ``<name>.json`` (metadata, history).

Writes are atomic (temp file + rename), so a crash leaves the previous version, never a
half-written file. Loading validates everything and raises ``CheckpointError`` naming the
file and the reason, so the app can show one broken model as unavailable. A run in progress
also keeps ``<name>.resume.pt`` (optimizer and scheduler state), so it can continue.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from .models import count_params
from .records import RunRecord
from .registry import CLASS, REGISTRY, ModelSpec, Recipe, get_spec


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, corrupt, or does not fit its architecture."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass
class LoadedModel:
    """A ready-to-use model (eval mode, CPU) with its checkpoint record."""

    spec: ModelSpec
    model: nn.Module
    run: RunRecord

    @property
    def name(self) -> str:
        return self.spec.name


def atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
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


def save_checkpoint(model: nn.Module, run: RunRecord, out_dir: Path) -> None:
    """Write the weights, then the record; both carry the epoch so a mismatch is caught."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tag = {"model": run.name, "epoch": str(run.epochs_completed)}
    atomic_write(weights_path(out_dir, run.name), lambda p: save_file(tensors, str(p), metadata=tag))
    save_run(run, out_dir)


def save_run(run: RunRecord, out_dir: Path) -> None:
    """Write a checkpoint's JSON on its own (atomically), e.g. to record a re-measured figure."""
    text = json.dumps(run.to_dict(), indent=1)
    atomic_write(meta_path(out_dir, run.name), lambda p: p.write_text(text))


def read_run(path: Path) -> RunRecord:
    """Parse and check a checkpoint's JSON."""
    if not path.is_file():
        raise CheckpointError(path, "file is missing")
    try:
        stored = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(path, f"not valid JSON ({err})") from err
    if not isinstance(stored, dict):
        raise CheckpointError(path, "expected a JSON object")
    missing = [k for k in ("name", "params", "recipe", "history") if k not in stored]
    if missing:
        raise CheckpointError(path, f"missing keys: {', '.join(missing)}")
    try:
        run = RunRecord.from_dict(stored)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(path, f"not a checkpoint record this version can read ({err})") from err
    if not run.history:
        raise CheckpointError(path, "history is empty: no epoch was completed")
    return run


def load_checkpoint(name: str, ckpt_dir: Path) -> LoadedModel:
    """Build the registered architecture and load its checkpoint, validating both files."""
    ckpt_dir = Path(ckpt_dir)
    json_file, weights_file = meta_path(ckpt_dir, name), weights_path(ckpt_dir, name)
    run = read_run(json_file)
    try:
        spec = get_spec(run.name)
    except KeyError:
        spec = None
    if spec is None or run.name != name:
        raise CheckpointError(json_file, f"names model {run.name!r}, which is not a registered model {name!r}")
    if not weights_file.is_file():
        raise CheckpointError(weights_file, "file is missing")
    try:
        with safe_open(str(weights_file), framework="pt") as f:
            tag = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (not a dict)
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(weights_file, f"corrupt or truncated safetensors file ({err})") from err
    if tag.get("epoch") != str(run.epochs_completed):
        raise CheckpointError(
            weights_file,
            f"weights are from epoch {tag.get('epoch')} but {json_file.name} describes epoch {run.epochs_completed}; re-run train.py --resume",
        )
    return built(spec, run, tensors, json_file, weights_file)


def built(
    spec: ModelSpec, run: RunRecord, tensors: dict[str, torch.Tensor], json_file: Path | str, weights_file: Path | str
) -> LoadedModel:
    """``spec``'s model with ``tensors`` loaded, checked against its record (``json_file`` and
    ``weights_file`` name where each came from in an error: files, or a database's rows)."""
    model = spec.build()
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        detail = str(err).split("\n\t", 1)[-1].replace("\n\t", "; ")
        raise CheckpointError(weights_file, f"weights do not match the {spec.name} architecture: {detail}") from err
    params = count_params(model)
    if params != run.params:
        raise CheckpointError(json_file, f"records {run.params} parameters, the architecture has {params}")
    model.eval()
    return LoadedModel(spec=spec, model=model, run=run)


def available_names(ckpt_dir: Path) -> list[str]:
    """Registered models with at least one checkpoint file in ``ckpt_dir``, in registry order,
    each followed by its class model (``<name>+class``) if a class made one."""
    ckpt_dir = Path(ckpt_dir)
    found = [n for name in REGISTRY for n in (name, name + CLASS)]
    return [n for n in found if meta_path(ckpt_dir, n).exists() or weights_path(ckpt_dir, n).exists()]


def load_all(ckpt_dir: Path) -> tuple[dict[str, LoadedModel], dict[str, str]]:
    """Every checkpoint in ``ckpt_dir``: the loaded models, and the reason each failed one failed."""
    loaded, failed = {}, {}
    for name in available_names(ckpt_dir):
        try:
            loaded[name] = load_checkpoint(name, ckpt_dir)
        except CheckpointError as err:
            failed[name] = str(err)
    return loaded, failed


def resume_path(out_dir: Path, name: str) -> Path:
    return Path(out_dir) / f"{name}.resume.pt"


def same_recipe(stored: dict[str, Any], current: dict[str, Any]) -> bool:
    """Whether a stored recipe trains the same way as the current one: a field added since then
    counts as its default, and the notes (why it was chosen) do not count."""
    try:
        return dataclasses.replace(Recipe.from_dict(stored), notes=()) == dataclasses.replace(Recipe.from_dict(current), notes=())
    except (TypeError, ValueError):
        return False


def same_run(done: RunRecord, run: RunRecord) -> bool:
    """Whether ``done`` was trained like ``run``: same recipe, seed and training images (MNIST, pen, a class set)."""
    same_data = (done.seed, done.data_sha256, done.train_images, done.pen_data, done.class_data) == (
        run.seed,
        run.data_sha256,
        run.train_images,
        run.pen_data,
        run.class_data,
    )
    return same_data and same_recipe(done.recipe, run.recipe)


def finished_run(out_dir: Path, run: RunRecord) -> RunRecord | None:
    """The record of a completed checkpoint trained like ``run``, if ``out_dir`` holds one."""
    try:
        done = read_run(meta_path(out_dir, run.name))
    except CheckpointError:
        return None
    return done if done.complete and same_run(done, run) else None


@dataclass(frozen=True)
class ResumeState:
    """Where an interrupted run stopped: its record and the state to continue training from."""

    run: RunRecord
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]


def save_resume_state(out_dir: Path, state: ResumeState) -> None:
    payload = {"model": state.model, "optimizer": state.optimizer, "scheduler": state.scheduler, "meta": state.run.to_dict()}
    atomic_write(resume_path(out_dir, state.run.name), lambda p: torch.save(payload, p))


def load_resume_state(out_dir: Path, name: str) -> ResumeState | None:
    """The saved state of an interrupted run of ``name``, or None; raises CheckpointError for a damaged file."""
    path = resume_path(out_dir, name)
    if not path.exists():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)  # our own file: plain tensors and numbers
        return ResumeState(RunRecord.from_dict(payload["meta"]), payload["model"], payload["optimizer"], payload["scheduler"])
    except Exception as err:  # torch raises many types for a damaged file
        raise CheckpointError(path, f"unreadable resume state ({err})") from err


def resume_into(
    out_dir: Path,
    run: RunRecord,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    log: Callable[[str], None],
) -> tuple[RunRecord, bool]:
    """Continue ``run`` where an interrupted run like it stopped, loading its state into
    ``model``, ``optimizer`` and ``scheduler``. Returns the run to go on with and whether it is
    finished already (a completed checkpoint of the same run is on disk: nothing to train)."""
    state = load_resume_state(out_dir, run.name)
    if state is None:
        finished = finished_run(out_dir, run)
        if finished is not None:
            log(f"{run.name}: already trained with this recipe and seed; skipping")
        return (finished, True) if finished is not None else (run, False)
    if not same_run(state.run, run):
        log(f"{run.name}: resume state is from a different recipe, seed or data set; starting over")
        return run, False
    model.load_state_dict(state.model)
    optimizer.load_state_dict(state.optimizer)
    scheduler.load_state_dict(state.scheduler)
    log(f"{run.name}: resuming after epoch {state.run.epochs_completed} of {run.recipe['epochs']}")
    return state.run, False

"""A whole training run: a registered model trained with its recipe, a checkpoint after every epoch
(weights, JSON history, resume state), what it learns from (teacher, base model) checked first."""

from __future__ import annotations

import dataclasses
import platform
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import safetensors
import torch
import torchvision
from torch import nn
from tqdm import tqdm

from ..checkpoints import (
    CheckpointError,
    LoadedModel,
    ResumeState,
    load_checkpoint,
    meta_path,
    resume_into,
    resume_path,
    save_checkpoint,
    save_resume_state,
)
from ..models import count_params
from ..records import EpochRecord, Misread, RunRecord
from ..registry import ModelSpec, Recipe
from .step import confusion_matrix, evaluate, make_optimizer, make_scheduler, train_one_epoch
from .tensors import Tensors


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA, then Apple's MPS, then the CPU; a named device must exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if not available.get(name, False):
        raise ValueError(f"device {name!r} is not available here (use auto or cpu)")
    return torch.device(name)


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "torchvision": str(torchvision.__version__),
        "numpy": np.__version__,
        "safetensors": safetensors.__version__,
    }


def epoch_seed(seed: int, epoch: int) -> int:
    """A distinct, reproducible seed per (run seed, epoch), so resuming replays the same epochs."""
    return seed * 1_000_003 + epoch


def load_finished(name: str, out_dir: Path, data: Tensors, role: str) -> LoadedModel:
    """The trained model ``name`` from ``out_dir`` that a run learns from (its teacher, or the
    model it fine-tunes); it must have finished training on the same MNIST images (a validation
    run needs one that never saw the validation images)."""
    hint = f"train the {role} first: python train.py --models {name} --out {out_dir} (with the same --validation)"
    if not meta_path(out_dir, name).exists():
        raise CheckpointError(meta_path(out_dir, name), f"is missing; {hint}")
    loaded = load_checkpoint(name, out_dir)
    done = loaded.run
    if not (done.complete and done.data_sha256 == data.checksum and done.train_images == len(data.train_x)):
        raise CheckpointError(meta_path(out_dir, name), f"is not a finished run on the same {len(data.train_x):,} training images; {hint}")
    return loaded


def load_teacher(recipe: Recipe, out_dir: Path, data: Tensors) -> nn.Module | None:
    """The trained model ``recipe.teacher`` from ``out_dir``, ready to give its logits; None without one."""
    if not recipe.teacher:
        return None
    teacher = load_finished(recipe.teacher, out_dir, data, "teacher")
    return teacher.model.to(data.train_x.device, memory_format=torch.channels_last).eval()


def new_run(
    spec: ModelSpec,
    recipe: Recipe,
    *,
    seed: int,
    train_images: int,
    evaluated_on: str,
    data_sha256: str,
    device: str = "cpu",
    pen_data: dict | None = None,
    class_data: dict | None = None,
) -> RunRecord:
    """The record of a run before its first epoch: what trains, on what, where, with which libraries."""
    with torch.random.fork_rng(devices=[]):  # building a model to count it must not move the run's random numbers
        params = count_params(spec.build())
    return RunRecord(
        name=spec.name,
        params=params,
        recipe=recipe.to_dict(),
        description=spec.description,
        source=spec.source,
        seed=seed,
        device=device,
        threads=torch.get_num_threads(),
        train_images=train_images,
        evaluated_on=evaluated_on,
        data_sha256=data_sha256,
        pen_data=pen_data,
        class_data=class_data,
        versions=library_versions(),
    )


def train_model(
    spec: ModelSpec,
    data: Tensors,
    out_dir: Path,
    *,
    seed: int = 0,
    epochs: int | None = None,
    resume: bool = False,
    show_progress: bool = True,
    log: Callable[[str], None] = tqdm.write,
    train_subset: int | None = None,
    validation: int | None = None,
) -> RunRecord:
    """Train ``spec`` with its recipe, checkpointing every epoch; returns the final record.

    ``epochs`` overrides the recipe's epoch count (the LR schedule is stretched to fit).
    ``train_subset`` trains on the first N images only (for quick tests); ``validation``
    holds out the last N training images and reports on them in place of the test set.
    """
    recipe = spec.recipe if epochs is None else dataclasses.replace(spec.recipe, epochs=epochs)
    if validation:
        data = data.holdout(validation)
    if train_subset is not None:
        data = dataclasses.replace(data, train_x=data.train_x[:train_subset], train_y=data.train_y[:train_subset])
    device = data.train_x.device
    evaluated_on = f"validation: the last {validation:,} training images" if validation else f"test: {len(data.test_x):,} MNIST test images"
    pen_data = data.pen.source if recipe.pen_share and data.pen is not None else None
    run = new_run(
        spec,
        recipe,
        seed=seed,
        train_images=len(data.train_x),
        evaluated_on=evaluated_on,
        data_sha256=data.checksum,
        device=device.type,
        pen_data=pen_data,
        class_data=data.class_set,
    )

    torch.manual_seed(seed)
    model = spec.build().to(device, memory_format=torch.channels_last)
    if recipe.init_from:
        model.load_state_dict(load_finished(recipe.init_from, out_dir, data, "model it fine-tunes").model.state_dict())
    optimizer = make_optimizer(model, recipe)
    scheduler = make_scheduler(optimizer, recipe, -(-len(data.train_x) // recipe.batch_size))
    if resume:
        run, finished = resume_into(out_dir, run, model, optimizer, scheduler, log)
        if finished:
            return run

    teacher = load_teacher(recipe, out_dir, data)
    for epoch in range(run.epochs_completed + 1, recipe.epochs + 1):
        started = time.perf_counter()
        torch.manual_seed(epoch_seed(seed, epoch))  # dropout
        generator = torch.Generator().manual_seed(epoch_seed(seed, epoch))  # order, augmentation
        desc = f"{spec.name} {epoch}/{recipe.epochs}"
        with tqdm(total=len(data.train_x), desc=desc, unit="img", leave=False, disable=not show_progress) as bar:
            train_loss, train_acc, lr = train_one_epoch(model, data, recipe, optimizer, scheduler, generator, bar, teacher)
        test_loss, test_acc, predicted = evaluate(model, data.test_x, data.test_y)
        pen_acc = round(evaluate(model, data.pen.val_x, data.pen.val_y)[1], 4) if data.pen is not None else None
        seconds = time.perf_counter() - started
        record = EpochRecord(
            epoch, round(train_loss, 6), round(train_acc, 4), round(test_loss, 6), round(test_acc, 4), lr, round(seconds, 2), pen_acc
        )
        labels = data.test_y.cpu()
        wrong = (predicted != labels).nonzero().flatten().tolist()
        run = run.with_epoch(
            record,
            complete=epoch == recipe.epochs,
            train_seconds=round(run.train_seconds + seconds, 2),
            trained_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            confusion_matrix=tuple(map(tuple, confusion_matrix(labels, predicted))),
            misclassified=tuple(Misread(i, int(labels[i]), int(predicted[i])) for i in wrong),
            pen_acc=pen_acc,
        )
        if run.complete and data.drawn_x is not None:
            run = dataclasses.replace(run, drawn_acc=round(evaluate(model, data.drawn_x, data.test_y)[1], 4))
        save_checkpoint(model, run, out_dir)
        save_resume_state(out_dir, ResumeState(run, model.state_dict(), optimizer.state_dict(), scheduler.state_dict()))
        log(
            f"{spec.name} epoch {epoch:>2}/{recipe.epochs}  train loss {train_loss:.4f} acc {train_acc:6.2f}%  "
            f"test loss {test_loss:.4f} acc {test_acc:6.2f}%  "
            + (f"pen {pen_acc:6.2f}%  " if pen_acc is not None else "")
            + f"lr {lr:.4f}  {seconds:5.1f}s"
        )
    resume_path(out_dir, spec.name).unlink(missing_ok=True)
    return run

"""Train and evaluate loops: the whole dataset as one tensor, batched augmentation, no DataLoader.

``train_model`` trains one registered model with its recipe and writes a checkpoint after
every epoch (weights, JSON history, resume state), so an interrupted run loses at most the
epoch in progress and ``resume=True`` continues where it stopped, with the same result as an
uninterrupted run: every epoch draws its shuffling, augmentation and dropout from its own seed.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import safetensors
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from tqdm import tqdm

from .checkpoints import (
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
from .classexport import LABELS, read_export
from .data import MNIST, normalize
from .drawn import cached_drawn_inputs
from .models import count_params
from .pen import TRAIN_FILE, TRAIN_WRITERS, VALIDATION_WRITERS, pen_file
from .penrender import training_set, validation_set
from .records import EpochRecord, Misread, RunRecord
from .registry import ModelSpec, Recipe

EVAL_BATCH = 1000
PROGRESS_EVERY = 20  # training steps between progress-bar updates: reading the loss waits for the device
CLASS_SET_SHARE = 0.05  # of the training images: a class set's drawings, repeated (300 drawings are 0.5% of MNIST)
PEN_RENDERS = 4  # distorted drawings of each training writer's digit: about one of each per epoch at a 25% share


@dataclass(frozen=True)
class PenTensors:
    """Pen-written digits drawn as on the canvas, normalised, on the training device."""

    train_x: torch.Tensor  # the training writers', several renderings each
    train_y: torch.Tensor
    val_x: torch.Tensor  # the validation writers', once each: what pen accuracy is measured on
    val_y: torch.Tensor
    source: dict  # what the run records as its pen data


@dataclass(frozen=True)
class Tensors:
    """MNIST normalised once and placed on the training device."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    checksum: str
    test_digits: torch.Tensor | None = None  # uint8 (n, 28, 28), kept to render drawn MNIST from
    pen: PenTensors | None = None  # real pen-written digits (with_pen), for recipes with a pen share
    class_set: dict | None = None  # what with_class_set added to the training images, as a run records it

    @functools.cached_property
    def drawn_x(self) -> torch.Tensor | None:
        """The test digits as drawn on the canvas (see drawn.py), on first use: read from the disk
        cache, or rendered into it (minutes) by the first run on this data set and rendering code,
        so a run that trains nothing (``--resume`` of finished models) never pays for it."""
        if self.test_digits is None:
            return None
        return normalize(cached_drawn_inputs(self.test_digits, log=tqdm.write)).to(self.test_x.device)

    def holdout(self, n: int) -> Tensors:
        """Train on all but the last ``n`` training images and evaluate on those instead of the
        test set: the split for choosing hyperparameters without looking at the test set."""
        return Tensors(
            self.train_x[:-n],
            self.train_y[:-n],
            self.train_x[-n:],
            self.train_y[-n:],
            self.checksum,
            pen=self.pen,
            class_set=self.class_set,
        )

    def with_pen(self, path: Path | str, renders: int = PEN_RENDERS, log: Callable[[str], None] | None = None) -> Tensors:
        """These tensors with the pen digits in the folder or file ``path``: the training writers'
        drawn ``renders`` times each with distorted trajectories, the validation writers' once."""
        train, validation = training_set(path, renders, log=log), validation_set(path)
        device = self.train_x.device
        pen = PenTensors(
            normalize(train.images[:, None]).to(device),
            train.labels.to(device),
            normalize(validation.images[:, None]).to(device),
            validation.labels.to(device),
            {
                "file": TRAIN_FILE,
                "sha256": hashlib.sha256(pen_file(path).read_bytes()).hexdigest(),
                "train_writers": list(TRAIN_WRITERS),
                "validation_writers": list(VALIDATION_WRITERS),
                "train_digits": len(train.labels) // renders,
                "renders": renders,
            },
        )
        return dataclasses.replace(self, pen=pen)

    def with_class_set(self, folder: Path | str) -> Tensors:
        """These tensors with a class's exported drawings (``mnist-small class export``) among the
        training images, repeated to CLASS_SET_SHARE of them; flagged drawings are left out."""
        rows = [r for r in read_export(folder) if not r["flag"]]
        if not rows:
            raise ValueError(f"{folder}: no drawings without a flag to train on")
        images = normalize(torch.from_numpy(np.stack([r["image"] for r in rows]).astype(np.float32))[:, None])
        labels = torch.tensor([r["label"] for r in rows], dtype=self.train_y.dtype)
        repeat = max(1, round(CLASS_SET_SHARE * len(self.train_x) / len(rows)))
        device = self.train_x.device
        return dataclasses.replace(
            self,
            # first: a validation split (holdout) takes the last MNIST images, never class drawings
            train_x=torch.cat([images.repeat(repeat, 1, 1, 1).to(device), self.train_x]),
            train_y=torch.cat([labels.repeat(repeat).to(device), self.train_y]),
            class_set={
                "folder": Path(folder).name,
                "sha256": hashlib.sha256((Path(folder) / LABELS).read_bytes()).hexdigest(),
                "drawings": len(rows),
                "repeated": repeat,
            },
        )

    @classmethod
    def from_mnist(cls, data: MNIST, device: torch.device, drawn: bool = False) -> Tensors:
        """``drawn``: keep the test digits, so training reports accuracy on drawn MNIST."""
        return cls(
            normalize(data.train_images).to(device),
            data.train_labels.to(device),
            normalize(data.test_images).to(device),
            data.test_labels.to(device),
            data.checksum(),
            data.test_images[:, 0] if drawn else None,
        )


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


def make_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    params, lr, wd = model.parameters(), recipe.max_lr, recipe.weight_decay
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=recipe.momentum[0], nesterov=recipe.nesterov, weight_decay=wd)
    if recipe.optimizer == "adam":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if recipe.optimizer == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=wd)
    raise ValueError(f"unknown optimizer {recipe.optimizer!r}")


def make_scheduler(optimizer: torch.optim.Optimizer, recipe: Recipe, steps_per_epoch: int) -> torch.optim.lr_scheduler.OneCycleLR:
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=recipe.max_lr,
        epochs=recipe.epochs,
        steps_per_epoch=steps_per_epoch,
        pct_start=recipe.pct_start,
        div_factor=recipe.div_factor,
        final_div_factor=recipe.final_div_factor,
        cycle_momentum=recipe.optimizer == "sgd",
        max_momentum=recipe.momentum[0],
        base_momentum=recipe.momentum[1],
    )


def autocast(device: torch.device, enabled: bool = True):
    """bf16 autocast where it speeds training up (CPU, CUDA); the loss stays in fp32."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled and device.type in ("cpu", "cuda"))


def train_step(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    recipe: Recipe,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    *,
    teacher: nn.Module | None = None,
    taught: int = 0,
    mixed_precision: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step on the batch ``x``, ``y``: cross-entropy with the recipe's label
    smoothing, and, with a ``teacher``, distillation from its softened answers on the first
    ``taught`` images (the MNIST part of a batch: a +pen twin's MNIST teacher misreads pen
    digits). Returns the loss and the logits, detached and left on the device."""
    with autocast(x.device, mixed_precision):
        logits = model(x)
    loss = F.cross_entropy(logits.float(), y, label_smoothing=recipe.label_smoothing)
    if teacher is not None:
        with torch.no_grad(), autocast(x.device, mixed_precision):
            teacher_logits = teacher(x[:taught])
        soft = distillation_loss(logits[:taught].float(), teacher_logits.float(), recipe.temperature)
        loss = (1 - recipe.distill) * loss + recipe.distill * soft
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    return loss.detach(), logits.detach()


def train_one_epoch(
    model: nn.Module,
    data: Tensors,
    recipe: Recipe,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator,
    progress: tqdm | None = None,
    teacher: nn.Module | None = None,
) -> tuple[float, float, float]:
    """One pass over the shuffled, augmented training set: (mean loss, accuracy %, last LR).

    Every step runs on the data's device, augmentation included (``generator``, on the CPU,
    only draws its random numbers); the losses and hits stay there too, and are read back
    every PROGRESS_EVERY steps for the progress bar and at the end, not after every step.
    """
    model.train()
    device = data.train_x.device
    order = torch.randperm(len(data.train_x), generator=generator).to(device)
    pen = data.pen if recipe.pen_share else None
    if recipe.pen_share and pen is None:
        raise ValueError(f"the recipe puts {recipe.pen_share:.0%} pen digits in each batch, but no pen data was loaded (Tensors.with_pen)")
    losses: list[torch.Tensor] = []
    hits: list[torch.Tensor] = []
    sizes: list[int] = []
    for step, start in enumerate(range(0, len(order), recipe.batch_size), 1):
        idx = order[start : start + recipe.batch_size]
        images, y = data.train_x[idx], data.train_y[idx]
        if pen is not None:  # pen digits beside the MNIST ones, pen_share of the whole batch
            pick = torch.randint(len(pen.train_y), (round(len(idx) * recipe.pen_share / (1 - recipe.pen_share)),), generator=generator)
            images, y = torch.cat([images, pen.train_x[pick.to(device)]]), torch.cat([y, pen.train_y[pick.to(device)]])
        x = recipe.augment(images, generator).to(device, memory_format=torch.channels_last)
        loss, logits = train_step(model, x, y, recipe, optimizer, scheduler, teacher=teacher, taught=len(idx))
        losses.append(loss)
        hits.append((logits.argmax(1) == y).sum())
        sizes.append(len(y))
        if progress is not None:
            progress.update(len(idx))  # the bar counts the epoch's MNIST images; pen digits come on top
            if step % PROGRESS_EVERY == 0:
                loss_sum, correct, seen = epoch_totals(losses, hits, sizes)
                progress.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{100 * correct / seen:.2f}%", refresh=False)
    loss_sum, correct, seen = epoch_totals(losses, hits, sizes)
    return loss_sum / seen, 100.0 * correct / seen, scheduler.get_last_lr()[0]


def epoch_totals(losses: list[torch.Tensor], hits: list[torch.Tensor], sizes: list[int]) -> tuple[float, int, int]:
    """The summed loss (weighted by batch size), correct answers and images of the steps so far,
    read from the device in one copy each. The loss is summed in Python floats, step by step in
    order, as when each step's loss was read at once: the same history to the last bit."""
    loss_sum = 0.0
    for loss, size in zip(torch.stack(losses).tolist(), sizes, strict=True):
        loss_sum += loss * size
    return loss_sum, int(torch.stack(hits).sum()), sum(sizes)


@torch.inference_mode()
def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, float, torch.Tensor]:
    """Mean loss, accuracy % and predictions on normalised images, in fp32 (as the app runs)."""
    model.eval()
    loss_sum, predictions = 0.0, []
    for start in range(0, len(images), EVAL_BATCH):
        x = images[start : start + EVAL_BATCH].contiguous(memory_format=torch.channels_last)
        logits = model(x).float()
        loss_sum += F.cross_entropy(logits, labels[start : start + EVAL_BATCH], reduction="sum").item()
        predictions.append(logits.argmax(1))
    predicted = torch.cat(predictions)
    return loss_sum / len(images), 100.0 * (predicted == labels).float().mean().item(), predicted.cpu()


def confusion_matrix(labels: torch.Tensor, predicted: torch.Tensor) -> list[list[int]]:
    """10x10 counts, rows = true digit, columns = predicted digit."""
    counts = torch.bincount(labels.cpu() * 10 + predicted.cpu(), minlength=100)
    return counts.reshape(10, 10).tolist()


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


def distillation_loss(logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL divergence from the teacher's softened predictions, scaled by T^2 so its gradients keep
    their size whatever the temperature (Hinton et al., 2015)."""
    log_p = F.log_softmax(logits / temperature, dim=1)
    log_q = F.log_softmax(teacher_logits / temperature, dim=1)
    return F.kl_div(log_p, log_q, log_target=True, reduction="batchmean") * temperature**2


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

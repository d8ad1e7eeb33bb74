"""One optimisation step and what it is made of (optimizer, OneCycle schedule, bf16 autocast,
distillation), an epoch of steps, and evaluation: shared by train_model and the class fine-tune."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..registry import Recipe
from .tensors import Tensors

EVAL_BATCH = 1000
PROGRESS_EVERY = 20  # training steps between progress-bar updates: reading the loss waits for the device


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


def distillation_loss(logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL divergence from the teacher's softened predictions, scaled by T^2 so its gradients keep
    their size whatever the temperature (Hinton et al., 2015)."""
    log_p = F.log_softmax(logits / temperature, dim=1)
    log_q = F.log_softmax(teacher_logits / temperature, dim=1)
    return F.kl_div(log_p, log_q, log_target=True, reduction="batchmean") * temperature**2

"""Train and evaluate: the whole dataset as one tensor, batched augmentation, no DataLoader.

``train_model`` trains one registered model with its recipe and writes a checkpoint after
every epoch (weights, JSON history, resume state), so an interrupted run loses at most the
epoch in progress and ``resume=True`` continues where it stopped, with the same result as an
uninterrupted run: every epoch draws its shuffling, augmentation and dropout from its own seed.
By job: ``tensors`` (the data on the device), ``step`` (one optimisation step, an epoch,
evaluation), ``run`` (a whole run with its checkpoints).
"""

from .run import library_versions, load_finished, load_teacher, new_run, resolve_device, train_model
from .step import (
    EVAL_BATCH,
    PROGRESS_EVERY,
    autocast,
    confusion_matrix,
    distillation_loss,
    evaluate,
    make_optimizer,
    make_scheduler,
    train_one_epoch,
    train_step,
)
from .tensors import CLASS_SET_SHARE, PEN_RENDERS, PenTensors, Tensors

__all__ = [
    "CLASS_SET_SHARE",
    "EVAL_BATCH",
    "PEN_RENDERS",
    "PROGRESS_EVERY",
    "PenTensors",
    "Tensors",
    "autocast",
    "confusion_matrix",
    "distillation_loss",
    "evaluate",
    "library_versions",
    "load_finished",
    "load_teacher",
    "make_optimizer",
    "make_scheduler",
    "new_run",
    "resolve_device",
    "train_model",
    "train_one_epoch",
    "train_step",
]

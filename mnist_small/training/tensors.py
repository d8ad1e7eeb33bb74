"""The training data as tensors on the training device: MNIST normalised once, the pen digits drawn
as on the canvas, a class's exported drawings among the training images, a validation split."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..classset.folder import LABELS, read_export
from ..data import MNIST, normalize
from ..handwriting.drawn import cached_drawn_inputs
from ..handwriting.pen import TRAIN_FILE, TRAIN_WRITERS, VALIDATION_WRITERS, pen_file
from ..handwriting.render import training_set, validation_set

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

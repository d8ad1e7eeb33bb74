"""Predictions: probabilities for a prepared drawing, feature maps, an occlusion map, and every
model's digit for a batch of images (the class set's)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .checkpoints import LoadedModel
from .data import MEAN, STD, normalize


@torch.inference_mode()
def probabilities(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """Softmax over the 10 digits for each image in ``x`` (N, 1, 28, 28): shape (N, 10)."""
    return torch.softmax(model(x).float(), dim=1).numpy()


@torch.inference_mode()
def all_probabilities(models: dict[str, LoadedModel], x: torch.Tensor) -> dict[str, np.ndarray]:
    """Each model's 10 probabilities for one image (1, 1, 28, 28). One softmax over the stacked
    logits, not one per model: 0.5 ms less for the zoo, and bitwise the same probabilities."""
    if not models:
        return {}
    logits = torch.cat([loaded.model(x).float() for loaded in models.values()])
    return dict(zip(models, torch.softmax(logits, dim=1).numpy(), strict=True))


@contextmanager
def outputs_of(modules: Iterable[nn.Module]) -> Iterator[dict[nn.Module, torch.Tensor]]:
    """Each module's first output in the forward passes this thread runs inside the block.
    The app's models are shared by all sessions, each in a thread of its own: a plain hook
    would also catch another student's drawing passing through at the same moment."""
    thread = threading.get_ident()
    captured: dict[nn.Module, torch.Tensor] = {}

    def keep(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        if threading.get_ident() == thread:
            captured.setdefault(module, output)

    hooks = [module.register_forward_hook(keep) for module in modules]
    try:
        yield captured
    finally:
        for hook in hooks:
            hook.remove()


@torch.inference_mode()
def feature_maps(model: nn.Module, x: torch.Tensor, layer: nn.Module) -> np.ndarray:
    """The activations (C, H, W) that ``layer`` produces for one image."""
    with outputs_of([layer]) as captured:
        model(x)
    out = captured[layer][0].float()
    return (out if out.ndim == 3 else out.reshape(-1, 1, 1)).numpy()


@dataclass(frozen=True)
class Occlusion:
    """What a model says about a drawing with a small square of it blanked, for every place."""

    image: np.ndarray  # (H, W): the drawing, 0-1
    patch: int  # the square's side in pixels
    target: int
    drop: np.ndarray  # (H, W): how far the target's probability falls with the square there, 0-1
    hidden: np.ndarray  # (H, W, 10): all ten probabilities with the square there

    def most_telling(self) -> tuple[int, int, int, float]:
        """The row and column of the square whose hiding hurts most, and the digit and
        probability the model then gives."""
        row, col = np.unravel_index(int(self.drop.argmax()), self.drop.shape)
        label = int(self.hidden[row, col].argmax())
        return int(row), int(col), label, float(self.hidden[row, col, label])

    def image_without(self, row: int, col: int) -> np.ndarray:
        """The drawing as the model saw it with the square centred at (row, col) blanked."""
        half = self.patch // 2
        out = self.image.copy()
        out[max(0, row - half) : row + half + 1, max(0, col - half) : col + half + 1] = 0.0
        return out


@torch.inference_mode()
def occlusion(model: nn.Module, x: torch.Tensor, target: int, patch: int = 5) -> Occlusion:
    """Blank a ``patch`` x ``patch`` square centred on each pixel in turn and predict again.
    Unlike input gradients, which look like noise on these small models, it answers a
    question students can ask: "what if I hid this bit?"
    """
    _, _, h, w = x.shape
    half = patch // 2
    rows = (torch.arange(h)[:, None] - torch.arange(h)[None, :]).abs() <= half  # (centre, pixel)
    cols = (torch.arange(w)[:, None] - torch.arange(w)[None, :]).abs() <= half
    hidden = (rows[:, None, :, None] & cols[None, :, None, :]).reshape(h * w, 1, h, w)
    covered = torch.where(hidden, torch.tensor(-MEAN / STD), x)  # blanked = MNIST's black
    before = probabilities(model, x)[0, target]
    after = np.concatenate([probabilities(model, chunk) for chunk in covered.split(256)]).reshape(h, w, 10)
    image = (x[0, 0] * STD + MEAN).clamp(0, 1).numpy()
    return Occlusion(image, patch, target, np.clip(before - after[..., target], 0.0, 1.0), after)


def answers(models: dict[str, LoadedModel], images: np.ndarray, batch: int = 500) -> dict[str, np.ndarray]:
    """Each model's digit for each of ``images`` (N x 28 x 28 in [0, 1]), read now: a model
    added after a drawing was kept is judged on it too."""
    if len(images) == 0:
        return {name: np.zeros(0, np.int64) for name in models}
    x = normalize(torch.from_numpy(np.asarray(images, np.float32))[:, None])
    out = {}
    with torch.inference_mode():
        for name, loaded in models.items():
            out[name] = torch.cat([loaded.model(part).argmax(1) for part in x.split(batch)]).numpy()
    return out

"""Predictions for a prepared drawing: probabilities, feature maps and saliency."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .checkpoints import LoadedModel


@torch.inference_mode()
def probabilities(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """Softmax over the 10 digits for each image in ``x`` (N, 1, 28, 28): shape (N, 10)."""
    return torch.softmax(model(x).float(), dim=1).numpy()


def all_probabilities(models: dict[str, LoadedModel], x: torch.Tensor) -> dict[str, np.ndarray]:
    """Each model's 10 probabilities for one image (1, 1, 28, 28)."""
    return {name: probabilities(loaded.model, x)[0] for name, loaded in models.items()}


@torch.inference_mode()
def feature_maps(model: nn.Module, x: torch.Tensor, layer: nn.Module) -> np.ndarray:
    """The activations (C, H, W) that ``layer`` produces for one image."""
    captured = []
    hook = layer.register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        model(x)
    finally:
        hook.remove()
    out = captured[0][0].float()
    return (out if out.ndim == 3 else out.reshape(-1, 1, 1)).numpy()


def saliency(model: nn.Module, x: torch.Tensor, target: int) -> np.ndarray:
    """|d logit[target] / d input| (28, 28), scaled to [0, 1]: which pixels moved the class."""
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        model(x)[0, target].backward()
    grad = x.grad[0, 0].abs()
    return (grad / grad.max().clamp_min(1e-12)).numpy()

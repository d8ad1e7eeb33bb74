"""One model for display, from its architecture and its checkpoint: the torchsummary-style layer
table, MACs and size, the model card, the recipe as stored, what it learned from, its training
history and its test-set mistakes. The app reads checkpoint records only through these functions
and ``summary`` (never ``LoadedModel.run`` itself), so the checkpoint format can change in one place."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import torch
from torch import nn

from .checkpoints import LoadedModel
from .data import Augment
from .inference import outputs_of
from .models import count_params
from .published import PublishedRun, load_published
from .records import EpochRecord, Misread
from .registry import REGISTRY, Recipe


@dataclass(frozen=True)
class Layer:
    index: int  # position among the model's leaf layers, from 1 as torchsummary counts
    kind: str  # the module's class name, e.g. "Conv2d"
    output_shape: tuple[int, ...]  # without the batch dimension
    params: int
    macs: int  # multiply-accumulates for one image
    module: nn.Module

    @property
    def label(self) -> str:
        return f"{self.kind}-{self.index}"


def layer_macs(module: nn.Module, output: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return output[0].numel() * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return module.in_features * module.out_features
    return 0


@torch.no_grad()
def layer_table(model: nn.Module) -> list[Layer]:
    """One row per leaf layer in forward order, for a single 1x28x28 input."""
    leaves = [m for m in model.modules() if not list(m.children())]
    was_training = model.training
    try:
        model.eval()
        with outputs_of(leaves) as captured:
            model(torch.zeros(1, 1, 28, 28))
    finally:
        model.train(was_training)
    return [
        Layer(i, type(m).__name__, tuple(out.shape[1:]), count_params(m), layer_macs(m, out), m)
        for i, (m, out) in enumerate(captured.items(), start=1)
    ]


def feature_map_layers(model: nn.Module) -> list[Layer]:
    """The layers whose output is a stack of 2-D maps (channels x height x width) larger than 1x1:
    the ones worth drawing channel by channel."""
    return [row for row in layer_table(model) if len(row.output_shape) == 3 and row.output_shape[1] > 1]


def weights_kb(model: nn.Module) -> float:
    """Size of the stored weights and buffers (fp32) in kilobytes."""
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors) / 1024


def model_card(loaded: LoadedModel) -> dict:
    """Everything the app's model card shows, from the architecture and the checkpoint."""
    layers = layer_table(loaded.model)
    run = loaded.run
    return {
        "layers": [{"layer": row.label, "output shape": "x".join(map(str, row.output_shape)), "params": row.params} for row in layers],
        "params": count_params(loaded.model),
        "macs": sum(row.macs for row in layers),
        "weights_kb": weights_kb(loaded.model),
        "final_acc": run.final_acc,
        "drawn_acc": run.drawn_acc,  # None until measured (evaluate --drawn --record)
        "pen_acc": run.pen_acc,  # reads real handwriting: the validation writers' pen digits; None until measured
        "pen_data": run.pen_data,  # what pen digits it trained on; None for a model trained on MNIST alone
        "fine_tuned_from": fine_tuned_from(loaded),
        "best_acc": run.best.test_acc,
        "best_epoch": run.best.epoch,
        "epochs": len(run.history),
        "train_seconds": run.train_seconds,
        "recipe": readable_recipe(run.recipe),
        "source": run.source or "ours (not from a write-up)",
        "description": loaded.spec.description,  # the registry's, kept up to date; the JSON keeps the one it was trained with
        "published": published_comparison(loaded.spec.name, run.final_acc),  # None for our own models and the +pen twins
    }


def published_comparison(name: str, ours_final: float, published: Mapping[str, PublishedRun] | None = None) -> dict | None:
    """The write-up's own best (and its epoch) and final test accuracy beside ours, and ours final
    minus the write-up's final in percentage points; None for a model without a published run
    (our own models, and the +pen twins, which no write-up trained) or without a published accuracy."""
    run = (load_published() if published is None else published).get(name)
    best, final = (run.best(), run.final()) if run else (None, None)
    if best is None or final is None or final.test_acc is None:
        return None
    return {
        "published_best": best.test_acc,
        "published_best_epoch": best.epoch,
        "published_final": final.test_acc,
        "published_final_epoch": final.epoch,
        "ours_final": ours_final,
        "difference": round(ours_final - final.test_acc, 4),
        "source": run.source,
    }


def readable_recipe(stored: dict) -> dict:
    """A checkpoint's recipe as this version reads it (an SGD momentum stored as 0.9 becomes the
    cycle OneCycle really ran), without SGD's momentum and Nesterov fields for other optimizers;
    stored as it is if this version cannot read it."""
    try:
        recipe = Recipe.from_dict(stored).to_dict()
    except (TypeError, ValueError):
        return stored
    if recipe["optimizer"] != "sgd":
        del recipe["momentum"], recipe["nesterov"]
    return recipe


def training_augment(loaded: LoadedModel) -> Augment:
    """The augmentation the training run used, as its checkpoint stored it; the registry's for a
    recipe from another version that this one cannot read."""
    try:
        return Recipe.from_dict(loaded.run.recipe).augment
    except (TypeError, ValueError):
        return loaded.spec.recipe.augment


def distilled_from(loaded: LoadedModel) -> str:
    """The model this one learned from (knowledge distillation), as its checkpoint stored it; "" if none."""
    return loaded.run.recipe.get("teacher") or ""


def fine_tuned_from(loaded: LoadedModel) -> str:
    """The model whose finished checkpoint this one started from (a +pen twin's MNIST model); "" if none."""
    return loaded.run.recipe.get("init_from") or ""


def curve_histories(models: Mapping[str, LoadedModel], names: Iterable[str]) -> dict[str, tuple[EpochRecord, ...]]:
    """Each named model's history as the training curves draw it. A fine-tuned model's epochs are
    numbered on from the last epoch of the model it started from (its own checkpoint's if loaded,
    else its registered recipe's), because that is where it starts. A model whose pen accuracy
    was measured once after training has it at its last epoch."""
    out = {}
    for name in names:
        run = models[name].run
        start = fine_tuned_from(models[name])
        registered = REGISTRY[start].recipe.epochs if start in REGISTRY else 0
        offset = models[start].run.final.epoch if start in models else registered
        history = [replace(h, epoch=h.epoch + offset) for h in run.history]
        if history and history[-1].pen_acc is None and run.pen_acc is not None:
            history[-1] = replace(history[-1], pen_acc=run.pen_acc)
        out[name] = tuple(history)
    return out


def misclassified(loaded: LoadedModel) -> Sequence[Misread]:
    """The test images the final model gets wrong."""
    return loaded.run.misclassified


def stored_confusion(loaded: LoadedModel) -> Sequence[Sequence[int]] | None:
    """10x10 test-set counts of the final model: rows the true digit, columns the predicted one; None if not stored."""
    return loaded.run.confusion_matrix

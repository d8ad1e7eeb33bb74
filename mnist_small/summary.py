"""What a model is made of and what its checkpoint records, read for display: the
torchsummary-style layer table, MACs and size, the model card, the training history, the
test-set mistakes, the zoo's agreement on a drawing, and each architecture's kinds (its variants,
``registry.split_name``): trained on MNIST, its ``+pen`` twin fine-tuned with real pen-written
digits, and a class's ``+class`` model.

The app reads checkpoint records only through these functions (never ``LoadedModel.run``
itself), so the checkpoint format can change in one place."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from .checkpoints import LoadedModel
from .data import Augment
from .inference import outputs_of
from .models import count_params
from .published import PublishedRun, load_published
from .records import EpochRecord, Misread
from .registry import CLASS, PEN, REGISTRY, VARIANTS, Recipe, split_name

# a model's kind, by its variant: what it learned beyond MNIST
TRAINED_ON = {"": "MNIST", PEN: "MNIST + pen writers", CLASS: "MNIST + this class", PEN + CLASS: "MNIST + pen writers + this class"}


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


def teacher(loaded: LoadedModel) -> str:
    """The model this one learned from (knowledge distillation), as its checkpoint stored it; "" if none."""
    return loaded.run.recipe.get("teacher") or ""


def fine_tuned_from(loaded: LoadedModel) -> str:
    """The model whose finished checkpoint this one started from (a +pen twin's MNIST model); "" if none."""
    return loaded.run.recipe.get("init_from") or ""


def trained_on_pen(name: str) -> bool:
    return split_name(name)[1].startswith(PEN)


def architecture(name: str) -> str:
    """The architecture a model is: its name without its variant."""
    return split_name(name)[0]


def variant(name: str) -> str:
    """What a model learned beyond MNIST: "", "+pen", "+class" or "+pen+class"."""
    return split_name(name)[1]


def model_name(arch: str, kind: str) -> str:
    """The model of architecture ``arch`` and variant ``kind``."""
    return arch + kind


def architectures(names: Iterable[str]) -> list[str]:
    """Each architecture once, in the order its first model comes."""
    return list(dict.fromkeys(map(architecture, names)))


def kinds(names: Iterable[str], arch: str) -> list[str]:
    """The variants of ``arch`` among ``names``, in VARIANTS' order ("" first: trained on MNIST)."""
    present = set(names)
    return [kind for kind in VARIANTS if model_name(arch, kind) in present]


def percent(value: float | None) -> str:
    """An accuracy as the app shows it: two decimals, "-" when not measured."""
    return "-" if value is None else f"{value:.2f}%"


def best_reader(pen_accuracies: Mapping[str, float | None]) -> str:
    """The model that reads real handwriting best: the highest pen accuracy (the first of equals);
    the first model when none has been measured. ``pen_accuracies`` must not be empty."""
    measured = {name: acc for name, acc in pen_accuracies.items() if acc is not None}
    return max(measured, key=measured.__getitem__) if measured else next(iter(pen_accuracies))


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


def confusion_matrix(loaded: LoadedModel) -> Sequence[Sequence[int]] | None:
    """10x10 test-set counts of the final model: rows the true digit, columns the predicted one; None if not stored."""
    return loaded.run.confusion_matrix


def overview_rows(models: dict[str, LoadedModel]) -> list[dict]:
    """One row per model for the zoo table and the size-vs-accuracy scatter, the headline figure
    (reads real handwriting) first."""
    rows = []
    for name, loaded in models.items():
        card = model_card(loaded)
        rows.append(
            {
                "name": name,
                "architecture": architecture(name),
                "pen": trained_on_pen(name),
                "trained on": TRAINED_ON[variant(name)],
                "pen accuracy": card["pen_acc"],
                "drawn accuracy": card["drawn_acc"],
                "accuracy": card["final_acc"],
                "params": card["params"],
                "MACs": card["macs"],
                "best accuracy": card["best_acc"],
                **published_columns(card["published"]),
                "epochs": card["epochs"],
                "train seconds": card["train_seconds"],
                "source": card["source"],
            }
        )
    return rows


def published_columns(compared: dict | None) -> dict:
    """The zoo table's write-up columns: its best (epoch) as text, its final, ours minus it; None where no write-up."""
    if compared is None:
        return {"write-up's best (epoch)": None, "write-up's final": None, "ours − write-up": None}
    return {
        "write-up's best (epoch)": f"{compared['published_best']:.2f}% ({compared['published_best_epoch']})",
        "write-up's final": compared["published_final"],
        "ours − write-up": compared["difference"],
    }


def mistake_pairs(misclassified: Sequence[Misread]) -> list[tuple[int, int, int]]:
    """(true digit, predicted digit, how many) for a checkpoint's misclassified test images,
    the most frequent confusion first: the pairs a class can look at one by one."""
    counts = Counter((m.label, m.predicted) for m in misclassified)
    return sorted(((true, predicted, n) for (true, predicted), n in counts.items()), key=lambda t: (-t[2], t[0], t[1]))


def mistakes_of(misclassified: Sequence[Misread], pair: tuple[int, int] | None = None) -> list[Misread]:
    """The misclassified test images with ``pair`` = (true digit, predicted digit); all of them for None."""
    if pair is None:
        return list(misclassified)
    return [m for m in misclassified if (m.label, m.predicted) == pair]


@dataclass(frozen=True)
class HardDigit:
    """A test digit that at least one model gets wrong."""

    index: int  # in MNIST's test set
    label: int
    answers: dict[str, int]  # model name -> its wrong answer, for the models that got it wrong

    @property
    def common_answer(self) -> int:
        """The wrong answer most of those models give (the smaller digit on a tie)."""
        counts = Counter(self.answers.values())
        return min(counts, key=lambda digit: (-counts[digit], digit))


def hardest_digits(misclassified: Mapping[str, Sequence[Misread]]) -> list[HardDigit]:
    """Every test digit some model misclassifies, the ones most models get wrong first, from each
    checkpoint's list of misclassified test images: what fools the whole zoo, not one model."""
    answers: dict[tuple[int, int], dict[str, int]] = {}
    for name, wrong in misclassified.items():
        for w in wrong:
            answers.setdefault((w.index, w.label), {})[name] = w.predicted
    hard = [HardDigit(index, label, by_model) for (index, label), by_model in answers.items()]
    return sorted(hard, key=lambda h: (-len(h.answers), h.index))


def fooled(hard: Iterable[HardDigit], zoo_size: int) -> tuple[int, int]:
    """How many of the ``hard`` digits fool most of the ``zoo_size`` models, and how many fool every one."""
    counts = [len(h.answers) for h in hard]
    return sum(n > zoo_size / 2 for n in counts), sum(n == zoo_size for n in counts)


def guesses(probabilities: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Each model's answer: the digit it gives the highest probability."""
    return {name: int(np.argmax(p)) for name, p in probabilities.items()}


def votes(guessed: Mapping[str, int]) -> list[int]:
    """How many models answer each digit, 0-9."""
    return np.bincount(np.array(list(guessed.values()), dtype=int), minlength=10).tolist()


def comparison_rows(
    probabilities: Mapping[str, np.ndarray], accuracies: Mapping[str, float], pen_accuracies: Mapping[str, float | None]
) -> list[dict]:
    """One row per model for the comparison table: its kind, its answer, how sure it is (%, one
    decimal), how much real handwriting it reads (None if not measured) and its test accuracy."""
    return [
        {
            "model": name,
            "trained on": TRAINED_ON[variant(name)],
            "guess": guess,
            "confidence (%)": round(100 * float(probabilities[name][guess]), 1),
            "real handwriting (%)": pen_accuracies[name],
            "test accuracy (%)": accuracies[name],
        }
        for name, guess in guesses(probabilities).items()
    ]


def by_kind(names: Iterable[str]) -> dict[str, list[str]]:
    """The names split by variant, in VARIANTS' order (trained on MNIST first); a kind with no model is left out."""
    names = list(names)
    groups = {kind: [n for n in names if variant(n) == kind] for kind in VARIANTS}
    return {kind: group for kind, group in groups.items() if group}

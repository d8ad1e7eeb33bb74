"""The zoo together, for display: each architecture's kinds (its variants, ``registry.split_name``:
trained on MNIST, its ``+pen`` twin fine-tuned with real pen-written digits, a class's ``+class``
model), the overview table, the zoo's agreement on a drawing, and the test-set mistakes the
models share. One model's card is ``cards``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .cards import model_card
from .checkpoints import LoadedModel
from .records import Misread
from .registry import CLASS, PEN, VARIANTS, split_name

# a model's kind, by its variant: what it learned beyond MNIST
TRAINED_ON = {"": "MNIST", PEN: "MNIST + pen writers", CLASS: "MNIST + this class", PEN + CLASS: "MNIST + pen writers + this class"}


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

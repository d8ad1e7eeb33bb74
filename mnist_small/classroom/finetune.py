"""Teach a model the class's handwriting: fine-tune a zoo model on the class set, with MNIST
replayed in every batch so it does not forget, and measure it honestly.

Held out by student: about a quarter of the students' drawings are never trained on, so the
before/after figure on them says how the model reads handwriting it has not seen, not how well
it memorised. ``jobs`` runs it in its own process and keeps ``<model>+class`` in the class set's database (``tuned``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from ..checkpoints import LoadedModel
from ..classset.store import Drawing
from ..data import MNIST, Augment, normalize
from ..records import EpochRecord, RunRecord
from ..registry import with_class
from ..training import evaluate, make_optimizer, make_scheduler, new_run, train_step

ROUNDS = 5  # progress points: each ends with the held-out and MNIST figures
AUGMENT = Augment(rotation=10.0, translate=2.0, scale=(0.9, 1.1))  # a few hundred drawings: jitter them
MIN_DRAWINGS = 20


@dataclass(frozen=True)
class Config:
    """How a class fine-tune runs. Chosen with ``python -m benchmarks.class_finetune --choose``:
    pen digits of 10 training writers as the class, the gain measured on 10 others, forgetting
    on MNIST training images kept out of the replay; never on the test set. The settings tried
    and their figures: docs/class-mode.md."""

    steps: int = 600  # of `batch` images: ~20 s on one thread for a 10k-parameter model; 300 gained less
    batch: int = 64
    class_share: float = 0.25  # of each batch: class drawings (repeated, augmented); the rest MNIST, so it does not forget
    lr_scale: float = 0.03  # of the model's own peak LR: 0.1 and 0.3 forgot more MNIST
    held_out_share: float = 0.25  # of the students: their drawings are only measured on
    replay: int | None = None  # MNIST training images replayed: the first N (None: all 60,000)
    freeze_bn: bool = False  # batch norm layers keep their running statistics (gained less, forgot as much)


STEPS = Config.steps


class FinetuneError(RuntimeError):
    """The class set or the model cannot be fine-tuned (too few drawings, no MNIST, ...)."""


def held_out_students(students: list[str], share: float = Config.held_out_share) -> set[str]:
    """About ``share`` of the distinct students, chosen by a hash of their id (the same every
    run); none if there are fewer than two students, since then nobody could be held out."""
    distinct = sorted(set(students), key=lambda s: hashlib.sha256(s.encode()).hexdigest())
    if len(distinct) < 2 or share <= 0:
        return set()
    return set(distinct[: max(1, round(share * len(distinct)))])


@dataclass(frozen=True)
class Progress:
    step: int
    steps: int
    loss: float
    class_acc: float | None  # on the held-out students' drawings
    mnist_acc: float | None  # at the end of each round


def class_accuracy(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float | None:
    return evaluate(model, images, labels)[1] if len(labels) else None


def finetune(
    base: LoadedModel,
    drawings: list[Drawing],
    mnist: MNIST,
    config: Config = Config(),
    seed: int = 0,
    report: Callable[[Progress], None] = lambda p: None,
) -> tuple[torch.nn.Module, RunRecord]:
    """``base`` fine-tuned on the class's drawings (all but the held-out students', and none the
    preprocessing flagged) with MNIST replayed; returns the model and its record."""
    usable = [d for d in drawings if d.flag is None]
    if len(usable) < MIN_DRAWINGS:
        raise FinetuneError(f"the class set has {len(usable)} usable drawings; fine-tuning needs at least {MIN_DRAWINGS}")
    held = held_out_students([d.student for d in usable], config.held_out_share)
    train = [d for d in usable if d.student not in held]
    test = [d for d in usable if d.student in held]
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)

    def tensors(group: list[Drawing]) -> tuple[torch.Tensor, torch.Tensor]:
        images = np.stack([d.image for d in group]) if group else np.zeros((0, 28, 28), np.float32)
        return normalize(torch.from_numpy(images)[:, None]), torch.tensor([d.label for d in group], dtype=torch.long)

    train_x, train_y = tensors(train)
    test_x, test_y = tensors(test)
    mnist_x, mnist_y = normalize(mnist.train_images[: config.replay]), mnist.train_labels[: config.replay].long()
    mnist_test_x, mnist_test_y = normalize(mnist.test_images), mnist.test_labels.long()

    spec = with_class(base.spec)
    model = spec.build()
    model.load_state_dict(base.model.state_dict())
    recipe = replace(
        base.spec.recipe,
        epochs=ROUNDS,
        max_lr=round(base.spec.recipe.max_lr * config.lr_scale, 6),
        augment=AUGMENT,
        init_from=base.name,
        teacher="",
        distill=0.0,
        pen_share=0.0,
        notes=(
            f"fine-tuned from {base.name} on the class's drawings for {config.steps} steps of {config.batch}, "
            f"{config.class_share:.0%} class drawings and the rest MNIST, at {config.lr_scale:g}x its peak LR",
        ),
    )
    per_round = max(1, config.steps // ROUNDS)
    optimizer = make_optimizer(model, recipe)
    scheduler = make_scheduler(optimizer, recipe, per_round)
    before = {"class_acc": class_accuracy(base.model, test_x, test_y), "mnist_acc": evaluate(base.model, mnist_test_x, mnist_test_y)[1]}
    run = new_run(
        spec,
        recipe,
        seed=seed,
        train_images=len(train) + len(mnist_x),
        evaluated_on=f"test: {len(mnist_test_x):,} MNIST test images; class: {len(test)} drawings of {len(held)} held-out students",
        data_sha256=base.run.data_sha256,
        class_data={
            "drawings": len(usable),
            "trained_on": len(train),
            "held_out": len(test),
            "students": len({d.student for d in usable}),
            "held_out_students": len(held),
            "flagged_left_out": len(drawings) - len(usable),
            "config": dataclasses.asdict(config),
            "before": before,
        },
    )
    n_class = round(config.batch * config.class_share) if len(train_x) else 0
    started = time.perf_counter()
    for round_ in range(1, ROUNDS + 1):
        model.train()
        if config.freeze_bn:
            for module in model.modules():
                if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                    module.eval()  # keeps MNIST's batch statistics: a few hundred thick-stroked drawings would shift them
        round_start, losses, hits, seen = time.perf_counter(), [], 0, 0
        for step in range(per_round):
            pick_class = torch.randint(len(train_x), (n_class,), generator=generator) if n_class else torch.zeros(0, dtype=torch.long)
            pick_mnist = torch.randint(len(mnist_x), (config.batch - n_class,), generator=generator)
            x = AUGMENT(torch.cat([train_x[pick_class], mnist_x[pick_mnist]]), generator)
            y = torch.cat([train_y[pick_class], mnist_y[pick_mnist]])
            loss, logits = train_step(
                model, x, y, recipe, optimizer, scheduler, mixed_precision=False
            )  # fp32: one thread, a few hundred steps
            losses.append(loss.item())
            hits += int((logits.argmax(1) == y).sum())
            seen += len(y)
            if step % 10 == 9:
                report(Progress((round_ - 1) * per_round + step + 1, ROUNDS * per_round, float(np.mean(losses[-10:])), None, None))
        test_loss, test_acc, _ = evaluate(model, mnist_test_x, mnist_test_y)
        held_acc = class_accuracy(model, test_x, test_y)
        record = EpochRecord(
            epoch=round_,
            train_loss=float(np.mean(losses)),
            train_acc=100 * hits / seen,
            test_loss=test_loss,
            test_acc=test_acc,
            lr=scheduler.get_last_lr()[0],
            seconds=time.perf_counter() - round_start,
            class_acc=held_acc,
        )
        run = run.with_epoch(record)
        report(Progress(round_ * per_round, ROUNDS * per_round, record.train_loss, held_acc, test_acc))
    after = {"class_acc": run.final.class_acc, "mnist_acc": run.final_acc}
    run = dataclasses.replace(
        run,
        complete=True,
        trained_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        train_seconds=round(time.perf_counter() - started, 1),
        class_data={**run.class_data, "after": after},
    )
    return model.eval(), run

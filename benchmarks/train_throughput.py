"""Training images/second: our pipeline vs the typical tutorial pipeline, same model, same run.

    python -m benchmarks.train_throughput --data-dir ../shared/mnist [--model three_blocks_9.6k]

Ours: MNIST as one normalised tensor, batched affine augmentation on tensors, no DataLoader,
channels_last + bf16 autocast, all cores (what train.py does). Tutorial: torchvision
per-sample PIL transforms with the same augmentation (RandomAffine) + DataLoader with 2
workers, fp32. Both run forward + backward + optimizer step with the model's recipe and
batch size; the figure is the median of several timed windows after a warm-up.
Run it on a quiet machine: anything else running halves the numbers.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from mnist_small.data import MEAN, STD, load_mnist
from mnist_small.registry import REGISTRY
from mnist_small.training import Tensors, autocast, make_optimizer


class TutorialMNIST(Dataset):
    """What tutorials do: one PIL image per sample through torchvision transforms."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, augment) -> None:
        self.images, self.labels = images[:, 0].numpy(), labels
        self.transform = transforms.Compose(
            [
                transforms.RandomAffine(degrees=augment.rotation, translate=(augment.translate / 28, augment.translate / 28)),
                transforms.ToTensor(),
                transforms.Normalize((MEAN,), (STD,)),
            ]
        )

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i])), self.labels[i]


def timed_windows(step, batches, batch_size: int, warmup: int, window: int, windows: int) -> float:
    """Median images/second over ``windows`` windows of ``window`` steps each."""
    it = iter(batches)
    for _ in range(warmup):
        step(*next(it))
    rates = []
    for _ in range(windows):
        start = time.perf_counter()
        for _ in range(window):
            step(*next(it))
        rates.append(window * batch_size / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--model", default="three_blocks_9.6k", choices=list(REGISTRY))
    parser.add_argument("--window", type=int, default=40, help="steps per timed window")
    parser.add_argument("--windows", type=int, default=5)
    args = parser.parse_args()
    spec = REGISTRY[args.model]
    recipe = spec.recipe
    data = load_mnist(args.data_dir)
    threads = torch.get_num_threads()
    steps = 10 + args.window * args.windows

    # ours
    tensors = Tensors.from_mnist(data, torch.device("cpu"))
    model = spec.build().to(memory_format=torch.channels_last).train()
    optimizer = make_optimizer(model, recipe)
    generator = torch.Generator().manual_seed(0)

    def our_batches():
        while True:
            order = torch.randperm(len(tensors.train_x), generator=generator)
            for start in range(0, len(order) - recipe.batch_size + 1, recipe.batch_size):
                idx = order[start : start + recipe.batch_size]
                yield recipe.augment(tensors.train_x[idx], generator).contiguous(memory_format=torch.channels_last), tensors.train_y[idx]

    def our_step(x, y):
        with autocast(torch.device("cpu")):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    ours = timed_windows(our_step, our_batches(), recipe.batch_size, 10, args.window, args.windows)

    # tutorial
    model = spec.build().train()
    optimizer = make_optimizer(model, recipe)
    loader = DataLoader(
        TutorialMNIST(data.train_images, data.train_labels, recipe.augment), batch_size=recipe.batch_size, shuffle=True, num_workers=2
    )

    def tutorial_batches():
        while True:
            yield from loader

    def tutorial_step(x, y):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    tutorial = timed_windows(tutorial_step, tutorial_batches(), recipe.batch_size, 10, args.window, args.windows)

    print(
        f"model: {args.model} ({sum(p.numel() for p in model.parameters()):,} params), batch {recipe.batch_size}, {threads} threads, {steps} steps each"
    )
    print(f"ours_img_per_s: {ours:,.0f}")
    print(f"tutorial_img_per_s: {tutorial:,.0f}")
    print(f"speedup: {ours / tutorial:.2f}x")


if __name__ == "__main__":
    main()

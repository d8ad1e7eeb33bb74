"""Training images/second: our pipeline vs the typical tutorial pipeline, same model, same run.

    python -m benchmarks.train_throughput --data-dir ../shared/mnist [--model three_blocks_9.6k]

Ours: MNIST as one normalised tensor, batched affine augmentation on tensors, no DataLoader,
channels_last + bf16 autocast (what train.py does), measured twice: one model on all cores,
and two models side by side on one core each (what ``train.py --jobs 2`` does for the zoo;
the figure is their sum). Tutorial: torchvision per-sample PIL transforms with the same
augmentation (RandomAffine) + DataLoader with 2 workers, fp32. All run forward + backward +
optimizer step with the model's recipe and batch size; each figure is the median of several
timed windows after a warm-up. Run it on a quiet machine: anything else running halves the numbers.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import Manager, get_context

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


def our_rate(model: str, data_dir: str, threads: int, window: int, windows: int, barrier=None) -> float:
    """Images/second of our pipeline for one model on ``threads`` threads; with a barrier,
    timing starts when every side-by-side worker has warmed up."""
    torch.set_num_threads(threads)
    recipe = REGISTRY[model].recipe
    tensors = Tensors.from_mnist(load_mnist(data_dir), torch.device("cpu"))
    net = REGISTRY[model].build().to(memory_format=torch.channels_last).train()
    optimizer = make_optimizer(net, recipe)
    generator = torch.Generator().manual_seed(0)

    def batches():
        while True:
            order = torch.randperm(len(tensors.train_x), generator=generator)
            for start in range(0, len(order) - recipe.batch_size + 1, recipe.batch_size):
                idx = order[start : start + recipe.batch_size]
                yield recipe.augment(tensors.train_x[idx], generator).contiguous(memory_format=torch.channels_last), tensors.train_y[idx]

    def step(x, y):
        with autocast(torch.device("cpu")):
            logits = net(x)
        loss = F.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    it = batches()
    for _ in range(10):
        step(*next(it))
    if barrier is not None:
        barrier.wait()
    return timed_windows(step, it, recipe.batch_size, 0, window, windows)


def side_by_side_rate(model: str, data_dir: str, window: int, windows: int) -> float:
    """Total images/second of two copies of our pipeline, one core each (train.py --jobs 2)."""
    with Manager() as manager, ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        barrier = manager.Barrier(2)
        futures = [pool.submit(our_rate, model, data_dir, 1, window, windows, barrier) for _ in range(2)]
        return sum(f.result() for f in futures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--model", default="three_blocks_9.6k", choices=list(REGISTRY))
    parser.add_argument("--window", type=int, default=40, help="steps per timed window")
    parser.add_argument("--windows", type=int, default=5)
    args = parser.parse_args()
    spec = REGISTRY[args.model]
    recipe = spec.recipe
    threads = torch.get_num_threads()
    steps = 10 + args.window * args.windows

    ours = our_rate(args.model, args.data_dir, threads, args.window, args.windows)
    side_by_side = side_by_side_rate(args.model, args.data_dir, args.window, args.windows)

    # tutorial
    data = load_mnist(args.data_dir)
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
    print(f"ours_two_models_side_by_side_img_per_s: {side_by_side:,.0f}")
    print(f"tutorial_img_per_s: {tutorial:,.0f}")
    print(f"speedup: {ours / tutorial:.2f}x")
    print(f"speedup_side_by_side: {side_by_side / tutorial:.2f}x")


if __name__ == "__main__":
    main()

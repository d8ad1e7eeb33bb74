"""The compact MNIST architectures, layer for layer as their write-ups print them.

Every model is a ``Net`` (an ``nn.Sequential``) whose children appear in the order of the write-up's
``torchsummary`` table, so the table can be checked (tests) and shown (the app's model
card) straight from the module tree. All models take ``(N, 1, 28, 28)`` normalised images
and return ``(N, 10)`` logits; softmax is applied by the caller.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv(c_in: int, c_out: int, k: int = 3, pad: int = 0, bias: bool = False, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, k, padding=pad, bias=bias, groups=groups)


def conv_relu_bn_drop(c_in: int, c_out: int, dropout: float, pad: int = 0) -> list[nn.Module]:
    """Conv -> ReLU -> BN -> Dropout, the block order of write-ups 000 and 004."""
    return [conv(c_in, c_out, pad=pad), nn.ReLU(), nn.BatchNorm2d(c_out), nn.Dropout(dropout)]


def conv_bn_relu(c_in: int, c_out: int, k: int = 3, pad: int = 0, bias: bool = False) -> list[nn.Module]:
    """Conv -> BN -> ReLU, the block order of write-ups 002 and 003."""
    return [conv(c_in, c_out, k, pad=pad, bias=bias), nn.BatchNorm2d(c_out), nn.ReLU()]


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class Net(nn.Sequential):
    """A Sequential that flattens before a Linear and at the end, and can apply ReLU
    after chosen layers without listing it as a layer.

    The write-ups flatten with ``view`` and write-up 001 calls ``F.relu`` in ``forward``,
    so their tables have no Flatten/ReLU rows; keeping those out of the module list keeps
    our tables identical to theirs.
    """

    def __init__(self, *layers: nn.Module, relu_after: frozenset[int] = frozenset()) -> None:
        super().__init__(*layers)
        self.relu_after = relu_after

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self):
            if isinstance(layer, nn.Linear):
                x = x.flatten(1)
            x = layer(x)
            if i in self.relu_after:
                x = F.relu(x)
        return x.flatten(1)


def gap_bn_dropout_7_5k(dropout: float) -> Net:
    """Write-up 000: 7,544 params; 1x1 transition, BN + dropout everywhere, GAP head."""
    return Net(
        *conv_relu_bn_drop(1, 16, dropout),  # 26
        *conv_relu_bn_drop(16, 10, dropout),  # 24
        conv(10, 10, k=1),
        nn.MaxPool2d(2),  # 12
        *conv_relu_bn_drop(10, 10, dropout),  # 10
        *conv_relu_bn_drop(10, 10, dropout),  # 8
        *conv_relu_bn_drop(10, 16, dropout),  # 6
        *conv_relu_bn_drop(16, 16, dropout, pad=1),  # 6
        nn.AvgPool2d(6),
        conv(16, 10, k=1),
    )


def conv5x5_linear_19_9k(dropout: float) -> Net:
    """Write-up 001: 19,898 params; four biased 5x5 convs, two BN, GAP + linear head."""
    layers = [
        conv(1, 16, k=5, pad=2, bias=True),  # 0: 28
        nn.BatchNorm2d(16),  # 1 (ReLU after)
        conv(16, 16, k=5, bias=True),  # 2: 24 (ReLU after)
        nn.MaxPool2d(2),  # 12
        nn.Dropout(dropout),
        conv(16, 16, k=5, pad=2, bias=True),  # 5: 12
        nn.BatchNorm2d(16),  # 6 (ReLU after)
        conv(16, 16, k=5, bias=True),  # 7: 8 (ReLU after)
        nn.MaxPool2d(2),  # 4
        nn.Dropout(dropout),
        nn.AdaptiveAvgPool2d(1),
        nn.Linear(16, 10),
    ]
    return Net(*layers, relu_after=frozenset({1, 2, 6, 7}))


def wide_gap_fc_18_2k() -> Net:
    """Write-up 002, model_v0: 18,214 params; same-padded convs widening 4->40, GAP + FC."""
    return Net(
        *conv_bn_relu(1, 4, pad=1),
        *conv_bn_relu(4, 8, pad=1),
        nn.MaxPool2d(2),  # 14
        *conv_bn_relu(8, 16, pad=1),
        *conv_bn_relu(16, 32, pad=1),
        nn.MaxPool2d(2),  # 7
        *conv_bn_relu(32, 40, pad=1),
        nn.AdaptiveAvgPool2d(1),
        nn.Linear(40, 10),
    )


def christmas_tree_11_0k(dropout: float) -> Net:
    """Write-up 002, model_v1: 10,970 params; expand/squeeze "christmas tree", 7x7 head conv."""
    return Net(
        *conv_bn_relu(1, 10),  # 26
        *conv_bn_relu(10, 10),  # 24
        *conv_bn_relu(10, 20),  # 22
        nn.Dropout2d(dropout),
        nn.MaxPool2d(2),  # 11
        *conv_bn_relu(20, 10, k=1),
        *conv_bn_relu(10, 10),  # 9
        *conv_bn_relu(10, 20),  # 7
        nn.Dropout2d(dropout),
        *conv_bn_relu(20, 10, k=1),
        conv(10, 10, k=7),  # 1
    )


def squeeze1x1_4_2k(dropout: float) -> Net:
    """Write-up 002, model_v2: 4,232 params; 1x1 squeezes and a 5x5 average-pool head."""
    return Net(
        *conv_bn_relu(1, 4, pad=1),
        *conv_bn_relu(4, 8, pad=1),
        nn.MaxPool2d(2),  # 14
        *conv_bn_relu(8, 10, pad=1),
        nn.Dropout2d(dropout),
        *conv_bn_relu(10, 12, pad=1),
        nn.MaxPool2d(2),  # 7
        *conv_bn_relu(12, 8, k=1),
        *conv_bn_relu(8, 12, pad=1),
        *conv_bn_relu(12, 10, k=1),
        conv(10, 10),  # 5
        nn.AvgPool2d(5),
        nn.Flatten(),
    )


def padded_gap_7_9k(dropout: float) -> Net:
    """Write-up 002, model_v3: 7,932 params; same-padded blocks, 1x1 squeeze, GAP + 1x1 head."""
    return Net(
        *conv_bn_relu(1, 8, pad=1),
        *conv_bn_relu(8, 10, pad=1),
        nn.MaxPool2d(2),  # 14
        *conv_bn_relu(10, 10, pad=1),
        nn.Dropout2d(dropout),
        *conv_bn_relu(10, 16, pad=1),
        nn.MaxPool2d(2),  # 7
        *conv_bn_relu(16, 10, k=1),
        *conv_bn_relu(10, 16, pad=1),
        *conv_bn_relu(16, 10),  # 5
        conv(10, 16),  # 3
        nn.AvgPool2d(3),
        conv(16, 10, k=1),
    )


def three_blocks_9_6k() -> Net:
    """Write-up 003: 9,594 params; three conv blocks (biased convs + BN), linear head."""
    return Net(
        *conv_bn_relu(1, 8, bias=True),  # 26
        *conv_bn_relu(8, 16, bias=True),  # 24
        nn.MaxPool2d(2),  # 12
        *conv_bn_relu(16, 16, bias=True),  # 10
        *conv_bn_relu(16, 16, bias=True),  # 8
        nn.MaxPool2d(2),  # 4
        *conv_bn_relu(16, 16, bias=True),  # 2
        *conv_bn_relu(16, 16, k=2, bias=True),  # 1
        nn.Linear(16, 10),
    )


def depthwise_6_5k(dropout: float) -> Net:
    """Write-up 004: 6,456 params; depthwise 3x3 + pointwise 1x1 pairs replace full convs."""

    def separable(c_in: int, c_out: int) -> list[nn.Module]:
        return [conv(c_in, c_in, groups=c_in), conv(c_in, c_out, k=1), nn.ReLU(), nn.BatchNorm2d(c_out), nn.Dropout(dropout)]

    return Net(
        *conv_relu_bn_drop(1, 8, dropout),  # 26
        *conv_relu_bn_drop(8, 8, dropout),  # 24
        *separable(8, 16),  # 22
        *separable(16, 16),  # 20
        nn.MaxPool2d(2),  # 10
        conv(16, 8, k=1),
        nn.ReLU(),
        nn.BatchNorm2d(8),
        nn.Dropout(dropout),
        *conv_relu_bn_drop(8, 16, dropout),  # 8
        *conv_relu_bn_drop(16, 16, dropout, pad=1),  # 8
        *separable(16, 32),  # 6
        *separable(32, 10),  # 4
        nn.AvgPool2d(4),
        conv(10, 10, k=1),
    )


# ---- ours: beyond the seeds ------------------------------------------------------------


def separable_block(c_in: int, c_out: int) -> list[nn.Module]:
    """Depthwise 3x3 (one filter per channel) + pointwise 1x1 (mixing), BN, ReLU: about
    (9 + c_out) * c_in parameters where a full 3x3 conv needs 9 * c_in * c_out."""
    return [conv(c_in, c_in, groups=c_in, pad=1), conv(c_in, c_out, k=1), nn.BatchNorm2d(c_out), nn.ReLU()]


def ours_separable_gdc_5_0k() -> Net:
    """Ours, 4,994 params: a plain 3x3 stem, depthwise-separable blocks widening to 32
    channels at 14x14 and 7x7, and a global depthwise conv head (as in MobileFaceNet): the
    7x7 map is pooled to 3x3 and each channel gets its own 3x3 filter down to 1x1, a learned
    weighting of where a feature sits (a stroke at the top of a 7 is not one at the bottom
    of a 2), where global average pooling treats every position alike."""
    return Net(
        *conv_bn_relu(1, 12, pad=1),
        *separable_block(12, 24),
        nn.MaxPool2d(2),  # 14
        *separable_block(24, 32),
        *separable_block(32, 32),
        nn.MaxPool2d(2),  # 7
        *separable_block(32, 32),
        nn.AvgPool2d(3, stride=2),  # 3
        conv(32, 32, groups=32),  # 1
        nn.Linear(32, 10),
    )


def ours_separable_2_0k() -> Net:
    """Ours, 1,986 params: the plan of the 5.0k model at two thirds of the width, with one
    block fewer and global average pooling (a depthwise head would break the 2,000 budget)."""
    return Net(
        *conv_bn_relu(1, 8, pad=1),
        *separable_block(8, 16),
        nn.MaxPool2d(2),  # 14
        *separable_block(16, 24),
        nn.MaxPool2d(2),  # 7
        *separable_block(24, 24),
        nn.AdaptiveAvgPool2d(1),
        nn.Linear(24, 10),
    )

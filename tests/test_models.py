"""The architectures match their write-ups' layer tables row for row.

The tables below are the write-ups' torchsummary output, copied (whitespace folded).
Write-up 003 prints no table; its table is written out from the write-up's block list
(Conv2d(1->8, 3x3) -> BN -> ReLU -> ... -> Linear(16->10), 9,594 parameters).
"""

import re

import pytest
import torch

from mnist_small.cards import layer_table
from mnist_small.models import count_params
from mnist_small.registry import PEN, REGISTRY, twin

TABLES = {
    # 000_24d612c4cb02c161.txt
    "gap_bn_dropout_7.5k": (
        7544,
        """
        Conv2d-1 [-1, 16, 26, 26] 144
        ReLU-2 [-1, 16, 26, 26] 0
        BatchNorm2d-3 [-1, 16, 26, 26] 32
        Dropout-4 [-1, 16, 26, 26] 0
        Conv2d-5 [-1, 10, 24, 24] 1,440
        ReLU-6 [-1, 10, 24, 24] 0
        BatchNorm2d-7 [-1, 10, 24, 24] 20
        Dropout-8 [-1, 10, 24, 24] 0
        Conv2d-9 [-1, 10, 24, 24] 100
        MaxPool2d-10 [-1, 10, 12, 12] 0
        Conv2d-11 [-1, 10, 10, 10] 900
        ReLU-12 [-1, 10, 10, 10] 0
        BatchNorm2d-13 [-1, 10, 10, 10] 20
        Dropout-14 [-1, 10, 10, 10] 0
        Conv2d-15 [-1, 10, 8, 8] 900
        ReLU-16 [-1, 10, 8, 8] 0
        BatchNorm2d-17 [-1, 10, 8, 8] 20
        Dropout-18 [-1, 10, 8, 8] 0
        Conv2d-19 [-1, 16, 6, 6] 1,440
        ReLU-20 [-1, 16, 6, 6] 0
        BatchNorm2d-21 [-1, 16, 6, 6] 32
        Dropout-22 [-1, 16, 6, 6] 0
        Conv2d-23 [-1, 16, 6, 6] 2,304
        ReLU-24 [-1, 16, 6, 6] 0
        BatchNorm2d-25 [-1, 16, 6, 6] 32
        Dropout-26 [-1, 16, 6, 6] 0
        AvgPool2d-27 [-1, 16, 1, 1] 0
        Conv2d-28 [-1, 10, 1, 1] 160
""",
    ),
    # 001_681e07c189af2c53.txt
    "conv5x5_linear_19.9k": (
        19898,
        """
        Conv2d-1 [-1, 16, 28, 28] 416
        BatchNorm2d-2 [-1, 16, 28, 28] 32
        Conv2d-3 [-1, 16, 24, 24] 6,416
        MaxPool2d-4 [-1, 16, 12, 12] 0
        Dropout-5 [-1, 16, 12, 12] 0
        Conv2d-6 [-1, 16, 12, 12] 6,416
        BatchNorm2d-7 [-1, 16, 12, 12] 32
        Conv2d-8 [-1, 16, 8, 8] 6,416
        MaxPool2d-9 [-1, 16, 4, 4] 0
        Dropout-10 [-1, 16, 4, 4] 0
        AdaptiveAvgPool2d-11 [-1, 16, 1, 1] 0
        Linear-12 [-1, 10] 170
""",
    ),
    # 002_86d878d7acb7154b.txt, model_v0
    "wide_gap_fc_18.2k": (
        18214,
        """
        Conv2d-1 [-1, 4, 28, 28] 36
        BatchNorm2d-2 [-1, 4, 28, 28] 8
        ReLU-3 [-1, 4, 28, 28] 0
        Conv2d-4 [-1, 8, 28, 28] 288
        BatchNorm2d-5 [-1, 8, 28, 28] 16
        ReLU-6 [-1, 8, 28, 28] 0
        MaxPool2d-7 [-1, 8, 14, 14] 0
        Conv2d-8 [-1, 16, 14, 14] 1,152
        BatchNorm2d-9 [-1, 16, 14, 14] 32
        ReLU-10 [-1, 16, 14, 14] 0
        Conv2d-11 [-1, 32, 14, 14] 4,608
        BatchNorm2d-12 [-1, 32, 14, 14] 64
        ReLU-13 [-1, 32, 14, 14] 0
        MaxPool2d-14 [-1, 32, 7, 7] 0
        Conv2d-15 [-1, 40, 7, 7] 11,520
        BatchNorm2d-16 [-1, 40, 7, 7] 80
        ReLU-17 [-1, 40, 7, 7] 0
        AdaptiveAvgPool2d-18 [-1, 40, 1, 1] 0
        Linear-19 [-1, 10] 410
""",
    ),
    # 002_86d878d7acb7154b.txt, model_v1
    "christmas_tree_11.0k": (
        10970,
        """
        Conv2d-1 [-1, 10, 26, 26] 90
        BatchNorm2d-2 [-1, 10, 26, 26] 20
        ReLU-3 [-1, 10, 26, 26] 0
        Conv2d-4 [-1, 10, 24, 24] 900
        BatchNorm2d-5 [-1, 10, 24, 24] 20
        ReLU-6 [-1, 10, 24, 24] 0
        Conv2d-7 [-1, 20, 22, 22] 1,800
        BatchNorm2d-8 [-1, 20, 22, 22] 40
        ReLU-9 [-1, 20, 22, 22] 0
        Dropout2d-10 [-1, 20, 22, 22] 0
        MaxPool2d-11 [-1, 20, 11, 11] 0
        Conv2d-12 [-1, 10, 11, 11] 200
        BatchNorm2d-13 [-1, 10, 11, 11] 20
        ReLU-14 [-1, 10, 11, 11] 0
        Conv2d-15 [-1, 10, 9, 9] 900
        BatchNorm2d-16 [-1, 10, 9, 9] 20
        ReLU-17 [-1, 10, 9, 9] 0
        Conv2d-18 [-1, 20, 7, 7] 1,800
        BatchNorm2d-19 [-1, 20, 7, 7] 40
        ReLU-20 [-1, 20, 7, 7] 0
        Dropout2d-21 [-1, 20, 7, 7] 0
        Conv2d-22 [-1, 10, 7, 7] 200
        BatchNorm2d-23 [-1, 10, 7, 7] 20
        ReLU-24 [-1, 10, 7, 7] 0
        Conv2d-25 [-1, 10, 1, 1] 4,900
""",
    ),
    # 002_86d878d7acb7154b.txt, model_v2
    "squeeze1x1_4.2k": (
        4232,
        """
        Conv2d-1 [-1, 4, 28, 28] 36
        BatchNorm2d-2 [-1, 4, 28, 28] 8
        ReLU-3 [-1, 4, 28, 28] 0
        Conv2d-4 [-1, 8, 28, 28] 288
        BatchNorm2d-5 [-1, 8, 28, 28] 16
        ReLU-6 [-1, 8, 28, 28] 0
        MaxPool2d-7 [-1, 8, 14, 14] 0
        Conv2d-8 [-1, 10, 14, 14] 720
        BatchNorm2d-9 [-1, 10, 14, 14] 20
        ReLU-10 [-1, 10, 14, 14] 0
        Dropout2d-11 [-1, 10, 14, 14] 0
        Conv2d-12 [-1, 12, 14, 14] 1,080
        BatchNorm2d-13 [-1, 12, 14, 14] 24
        ReLU-14 [-1, 12, 14, 14] 0
        MaxPool2d-15 [-1, 12, 7, 7] 0
        Conv2d-16 [-1, 8, 7, 7] 96
        BatchNorm2d-17 [-1, 8, 7, 7] 16
        ReLU-18 [-1, 8, 7, 7] 0
        Conv2d-19 [-1, 12, 7, 7] 864
        BatchNorm2d-20 [-1, 12, 7, 7] 24
        ReLU-21 [-1, 12, 7, 7] 0
        Conv2d-22 [-1, 10, 7, 7] 120
        BatchNorm2d-23 [-1, 10, 7, 7] 20
        ReLU-24 [-1, 10, 7, 7] 0
        Conv2d-25 [-1, 10, 5, 5] 900
        AvgPool2d-26 [-1, 10, 1, 1] 0
        Flatten-27 [-1, 10] 0
""",
    ),
    # 002_86d878d7acb7154b.txt, model_v3
    "padded_gap_7.9k": (
        7932,
        """
        Conv2d-1 [-1, 8, 28, 28] 72
        BatchNorm2d-2 [-1, 8, 28, 28] 16
        ReLU-3 [-1, 8, 28, 28] 0
        Conv2d-4 [-1, 10, 28, 28] 720
        BatchNorm2d-5 [-1, 10, 28, 28] 20
        ReLU-6 [-1, 10, 28, 28] 0
        MaxPool2d-7 [-1, 10, 14, 14] 0
        Conv2d-8 [-1, 10, 14, 14] 900
        BatchNorm2d-9 [-1, 10, 14, 14] 20
        ReLU-10 [-1, 10, 14, 14] 0
        Dropout2d-11 [-1, 10, 14, 14] 0
        Conv2d-12 [-1, 16, 14, 14] 1,440
        BatchNorm2d-13 [-1, 16, 14, 14] 32
        ReLU-14 [-1, 16, 14, 14] 0
        MaxPool2d-15 [-1, 16, 7, 7] 0
        Conv2d-16 [-1, 10, 7, 7] 160
        BatchNorm2d-17 [-1, 10, 7, 7] 20
        ReLU-18 [-1, 10, 7, 7] 0
        Conv2d-19 [-1, 16, 7, 7] 1,440
        BatchNorm2d-20 [-1, 16, 7, 7] 32
        ReLU-21 [-1, 16, 7, 7] 0
        Conv2d-22 [-1, 10, 5, 5] 1,440
        BatchNorm2d-23 [-1, 10, 5, 5] 20
        ReLU-24 [-1, 10, 5, 5] 0
        Conv2d-25 [-1, 16, 3, 3] 1,440
        AvgPool2d-26 [-1, 16, 1, 1] 0
        Conv2d-27 [-1, 10, 1, 1] 160
""",
    ),
    # 004_b89832e471deb202.txt
    "depthwise_6.5k": (
        6456,
        """
        Conv2d-1 [-1, 8, 26, 26] 72
        ReLU-2 [-1, 8, 26, 26] 0
        BatchNorm2d-3 [-1, 8, 26, 26] 16
        Dropout-4 [-1, 8, 26, 26] 0
        Conv2d-5 [-1, 8, 24, 24] 576
        ReLU-6 [-1, 8, 24, 24] 0
        BatchNorm2d-7 [-1, 8, 24, 24] 16
        Dropout-8 [-1, 8, 24, 24] 0
        Conv2d-9 [-1, 8, 22, 22] 72
        Conv2d-10 [-1, 16, 22, 22] 128
        ReLU-11 [-1, 16, 22, 22] 0
        BatchNorm2d-12 [-1, 16, 22, 22] 32
        Dropout-13 [-1, 16, 22, 22] 0
        Conv2d-14 [-1, 16, 20, 20] 144
        Conv2d-15 [-1, 16, 20, 20] 256
        ReLU-16 [-1, 16, 20, 20] 0
        BatchNorm2d-17 [-1, 16, 20, 20] 32
        Dropout-18 [-1, 16, 20, 20] 0
        MaxPool2d-19 [-1, 16, 10, 10] 0
        Conv2d-20 [-1, 8, 10, 10] 128
        ReLU-21 [-1, 8, 10, 10] 0
        BatchNorm2d-22 [-1, 8, 10, 10] 16
        Dropout-23 [-1, 8, 10, 10] 0
        Conv2d-24 [-1, 16, 8, 8] 1,152
        ReLU-25 [-1, 16, 8, 8] 0
        BatchNorm2d-26 [-1, 16, 8, 8] 32
        Dropout-27 [-1, 16, 8, 8] 0
        Conv2d-28 [-1, 16, 8, 8] 2,304
        ReLU-29 [-1, 16, 8, 8] 0
        BatchNorm2d-30 [-1, 16, 8, 8] 32
        Dropout-31 [-1, 16, 8, 8] 0
        Conv2d-32 [-1, 16, 6, 6] 144
        Conv2d-33 [-1, 32, 6, 6] 512
        ReLU-34 [-1, 32, 6, 6] 0
        BatchNorm2d-35 [-1, 32, 6, 6] 64
        Dropout-36 [-1, 32, 6, 6] 0
        Conv2d-37 [-1, 32, 4, 4] 288
        Conv2d-38 [-1, 10, 4, 4] 320
        ReLU-39 [-1, 10, 4, 4] 0
        BatchNorm2d-40 [-1, 10, 4, 4] 20
        Dropout-41 [-1, 10, 4, 4] 0
        AvgPool2d-42 [-1, 10, 1, 1] 0
        Conv2d-43 [-1, 10, 1, 1] 100
""",
    ),
    # 003_cdd6a8636d3ab82f.txt (from the block list)
    "three_blocks_9.6k": (
        9594,
        """
        Conv2d-1 [-1, 8, 26, 26] 80
        BatchNorm2d-2 [-1, 8, 26, 26] 16
        ReLU-3 [-1, 8, 26, 26] 0
        Conv2d-4 [-1, 16, 24, 24] 1,168
        BatchNorm2d-5 [-1, 16, 24, 24] 32
        ReLU-6 [-1, 16, 24, 24] 0
        MaxPool2d-7 [-1, 16, 12, 12] 0
        Conv2d-8 [-1, 16, 10, 10] 2,320
        BatchNorm2d-9 [-1, 16, 10, 10] 32
        ReLU-10 [-1, 16, 10, 10] 0
        Conv2d-11 [-1, 16, 8, 8] 2,320
        BatchNorm2d-12 [-1, 16, 8, 8] 32
        ReLU-13 [-1, 16, 8, 8] 0
        MaxPool2d-14 [-1, 16, 4, 4] 0
        Conv2d-15 [-1, 16, 2, 2] 2,320
        BatchNorm2d-16 [-1, 16, 2, 2] 32
        ReLU-17 [-1, 16, 2, 2] 0
        Conv2d-18 [-1, 16, 1, 1] 1,040
        BatchNorm2d-19 [-1, 16, 1, 1] 32
        ReLU-20 [-1, 16, 1, 1] 0
        Linear-21 [-1, 10] 170
""",
    ),
}
ROW = re.compile(r"(\w+)-(\d+) \[-1, ([\d, ]+)\] ([\d,]+)")


def parse(table: str) -> list[tuple[str, tuple[int, ...], int]]:
    rows = [ROW.fullmatch(line.strip()) for line in table.strip().splitlines()]
    assert all(rows), "every table line parses"
    return [(m[1], tuple(int(v) for v in m[3].split(", ")), int(m[4].replace(",", ""))) for m in rows]


SEEDS = [name for name in REGISTRY if not name.startswith("ours_") and not name.endswith(PEN)]


def test_every_seed_model_has_a_table():
    assert set(TABLES) == set(SEEDS)


@pytest.mark.parametrize(("name", "budget"), [("ours_separable_gdc_5.0k", 5000), ("ours_separable_2.0k", 2000)])
def test_our_models_keep_their_parameter_budgets(name, budget):
    assert count_params(REGISTRY[name].build()) <= budget


def test_teachers_are_registered_and_train_first():
    """Every teacher and fine-tuned-from model is registered, and following them never leads
    back to the student, so train.py can always order the zoo. (A +pen twin's teacher is its
    own MNIST model, which may have a teacher of its own.)"""

    def needs(name: str) -> set[str]:
        recipe = REGISTRY[name].recipe
        return {recipe.teacher, recipe.init_from} - {""}

    for name in REGISTRY:
        seen, todo = set(), [name]
        while todo:
            current = todo.pop()
            for need in needs(current) - seen:
                assert need in REGISTRY, f"{current} needs {need}, which is not registered"
                assert need != name, f"{name} needs itself, through {current}"
                seen.add(need)
                todo.append(need)


@pytest.mark.parametrize("name", list(TABLES))
def test_layer_table_matches_write_up(name):
    total, table = TABLES[name]
    expected = parse(table)
    model = REGISTRY[name].build()
    got = [(row.kind, row.output_shape, row.params) for row in layer_table(model)]
    assert got == expected
    assert count_params(model) == total == sum(row[2] for row in expected)


@pytest.mark.parametrize("name", list(TABLES))
def test_forward_gives_logits_for_a_batch(name):
    model = REGISTRY[name].build().eval()
    out = model(torch.randn(5, 1, 28, 28))
    assert out.shape == (5, 10)
    assert torch.isfinite(out).all()


def test_names_say_size():
    for name, spec in REGISTRY.items():
        size_k = float(re.search(r"_(\d+(?:\.\d+)?)k$", name.removesuffix(PEN))[1])
        assert abs(size_k * 1000 - count_params(spec.build())) < 500, name


def test_every_model_has_a_pen_twin_of_the_same_architecture():
    for name, spec in REGISTRY.items():
        if not name.endswith(PEN):
            variant = REGISTRY[twin(name)]
            assert twin(variant.name) == name and variant.builder is spec.builder and variant.recipe.init_from == name
            assert variant.recipe.pen_share > 0 and spec.recipe.pen_share == 0

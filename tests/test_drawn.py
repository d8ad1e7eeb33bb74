import numpy as np
import torch

from mnist_small import drawn
from mnist_small.preprocess import prepare


def test_renderer_is_deterministic_for_a_seed(mnist):
    digits = mnist.test_images[:6, 0]
    a = list(drawn.canvases(digits, seed=1))
    b = list(drawn.canvases(digits, seed=1))
    c = list(drawn.canvases(digits, seed=2))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    assert a[0].shape == (280, 280, 4) and a[0].dtype == np.uint8


def test_drawings_vary_in_size_place_and_brush(mnist):
    canvases = list(drawn.canvases(mnist.test_images[:40, 0], seed=0))
    boxes = []
    for c in canvases:
        rows, cols = np.nonzero(c[..., 3])
        boxes.append((rows.min(), cols.min(), np.ptp(rows), np.ptp(cols)))
    tops, lefts, heights, _ = np.array(boxes).T
    assert heights.min() < 110 and heights.max() > 180
    assert tops.std() > 20 and lefts.std() > 20


def test_drawings_survive_preprocessing_back_to_a_centred_digit(mnist):
    digits = mnist.test_images[:30, 0]
    inputs = drawn.drawn_inputs(digits, seed=0)
    assert inputs.shape == (30, 1, 28, 28)
    for drawn_digit, original in zip(inputs[:, 0].numpy(), digits.numpy(), strict=True):
        ink = drawn_digit
        com = np.array([(ink.sum(1) * np.arange(28)).sum(), (ink.sum(0) * np.arange(28)).sum()]) / ink.sum()
        assert np.all(np.abs(com - 14) <= 1.0)
        # the same digit: closer to its own original than to most other digits
        own = np.corrcoef(ink.ravel(), original.ravel())[0, 1]
        others = [np.corrcoef(ink.ravel(), o.ravel())[0, 1] for o in digits.numpy()]
        assert own >= np.percentile(others, 80)
    assert prepare(next(drawn.canvases(digits[:1]))).has_digit


def test_brush_thickens_and_thins():
    mask = torch.zeros(1, 1, 30, 30)
    mask[..., 10:20, 14:16] = 1
    assert drawn.brush(mask, 2).sum() > mask.sum() > drawn.brush(mask, -1).sum()

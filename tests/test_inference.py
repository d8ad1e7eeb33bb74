"""Inference on a drawing: the occlusion map (which parts the predicted digit depends on) and feature maps."""

import threading

import numpy as np
import pytest
import torch
from torch import nn

from mnist_small.data import MEAN, STD
from mnist_small.inference import feature_maps, occlusion, probabilities

BLACK, WHITE = -MEAN / STD, (1 - MEAN) / STD


def one_pixel_model(row: int, col: int) -> nn.Module:
    """A linear model whose digit 0 depends on one input pixel and nothing else."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.zero_()
        model[1].weight[0, row * 28 + col] = 5.0
    return model.eval()


def test_only_patches_over_the_deciding_pixel_lower_the_digit():
    x = torch.full((1, 1, 28, 28), BLACK)
    x[0, 0, 10, 17] = WHITE
    model = one_pixel_model(10, 17)
    assert probabilities(model, x)[0].argmax() == 0

    hiding = occlusion(model, x, target=0, patch=5)
    drop = hiding.drop

    assert drop.shape == (28, 28)
    covers_pixel = np.zeros((28, 28), dtype=bool)
    covers_pixel[8:13, 15:20] = True  # the centres whose 5x5 patch contains (10, 17)
    assert np.all(drop[covers_pixel] > 0.9)
    assert np.all(drop[~covers_pixel] == 0)
    row, col, label, probability = hiding.most_telling()
    assert covers_pixel[row, col] and label != 0 and probability == hiding.hidden[row, col].max()
    assert hiding.image_without(row, col).max() < 1e-6  # the one inked pixel is gone


def test_the_image_without_a_square_is_what_the_model_was_shown(mnist):
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10)).eval()
    x = (mnist.test_images[0:1].float() / 255 - MEAN) / STD
    hiding = occlusion(model, x, target=7, patch=5)
    for row, col in [(0, 0), (14, 9), (27, 20)]:
        shown = torch.from_numpy((hiding.image_without(row, col) - MEAN) / STD).float()[None, None]
        np.testing.assert_allclose(probabilities(model, shown)[0], hiding.hidden[row, col], atol=1e-6)


def test_hiding_empty_background_changes_nothing_for_a_real_model(mnist):
    from mnist_small.checkpoints import load_all

    from .conftest import CHECKPOINTS

    models, _ = load_all(CHECKPOINTS)
    if not models:
        pytest.skip("no shipped checkpoints")
    model = next(iter(models.values())).model
    digit = mnist.test_images[0:1].float() / 255
    x = (digit - MEAN) / STD
    target = int(probabilities(model, x)[0].argmax())

    drop = occlusion(model, x, target, patch=5).drop

    ink_nearby = torch.nn.functional.max_pool2d(digit, 5, stride=1, padding=2)[0, 0].numpy() > 0
    assert np.all(drop[~ink_nearby] == 0)  # the patch only blanked what was already black
    assert drop[ink_nearby].max() > 0.01
    assert drop.min() >= 0 and drop.max() <= 1


def test_feature_maps_are_of_this_threads_image_while_another_thread_uses_the_model():
    """The app's models are shared by every session, each in its own thread. Here another
    session's drawing passes through the model just as this one asks for its feature maps."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()).eval()
    mine, theirs = torch.zeros(1, 1, 28, 28), torch.ones(1, 1, 28, 28)

    def another_session_draws(_module, _inputs):
        if threading.current_thread() is threading.main_thread():
            other = threading.Thread(target=probabilities, args=(model, theirs))
            other.start()
            other.join()

    cut_in = model[0].register_forward_pre_hook(another_session_draws)
    try:
        maps = feature_maps(model, mine, model[1])
    finally:
        cut_in.remove()
    with torch.no_grad():
        np.testing.assert_array_equal(maps, model(mine)[0].numpy())

"""Shared fixtures: where the real MNIST and the shipped checkpoints are."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = ROOT / "checkpoints"
MNIST_DIR = Path(os.environ.get("MNIST_SMALL_TEST_DATA", ROOT.parent / "shared" / "mnist"))


@pytest.fixture(scope="session")
def mnist():
    """The full MNIST from the shared folder (skips when it is not on this machine)."""
    from mnist_small.data import find_raw_files, load_mnist

    if find_raw_files(MNIST_DIR) is None:
        pytest.skip(f"MNIST not found in {MNIST_DIR} (set MNIST_SMALL_TEST_DATA)")
    return load_mnist(MNIST_DIR, allow_download=False)


def draw_on_canvas(digit: np.ndarray, size: int = 200, top: int = 30, left: int = 60, canvas: int = 280) -> np.ndarray:
    """An MNIST digit drawn large and off-centre on an RGBA canvas, as streamlit-drawable-canvas returns it."""
    from PIL import Image

    big = np.asarray(Image.fromarray(digit).resize((size, size), Image.BILINEAR))
    rgba = np.zeros((canvas, canvas, 4), dtype=np.uint8)
    patch = rgba[top : top + size, left : left + size]
    patch[..., :3] = big[..., None]
    patch[..., 3] = np.where(big > 0, 255, 0)  # transparent background, opaque strokes
    return rgba

"""Where the app and the command line find checkpoints and MNIST: one environment variable each."""

from __future__ import annotations

import os
from pathlib import Path

CHECKPOINTS_ENV = "MNIST_SMALL_CHECKPOINTS"
DATA_ENV = "MNIST_SMALL_DATA"


def checkpoint_dir(default: Path | str = "checkpoints") -> Path:
    """``$MNIST_SMALL_CHECKPOINTS`` if set, else ``default``."""
    return Path(os.environ.get(CHECKPOINTS_ENV) or default)


def data_dir(default: Path | str = "data") -> Path:
    """``$MNIST_SMALL_DATA`` if set, else ``default`` (MNIST/raw/ inside, or downloaded there)."""
    return Path(os.environ.get(DATA_ENV) or default)

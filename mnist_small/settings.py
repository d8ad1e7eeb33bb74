"""Where the app, training and the command line find their folders: one environment variable each."""

from __future__ import annotations

import os
from pathlib import Path

CHECKPOINTS_ENV = "MNIST_SMALL_CHECKPOINTS"
DATA_ENV = "MNIST_SMALL_DATA"
PEN_ENV = "MNIST_SMALL_PEN"
CACHE_ENV = "MNIST_SMALL_CACHE"
DB_ENV = "MNIST_SMALL_DB"
TEACHER_CODE_ENV = "MNIST_SMALL_TEACHER_CODE"


def checkpoint_dir(default: Path | str = "checkpoints") -> Path:
    """``$MNIST_SMALL_CHECKPOINTS`` if set, else ``default``."""
    return Path(os.environ.get(CHECKPOINTS_ENV) or default)


def data_dir(default: Path | str = "data") -> Path:
    """``$MNIST_SMALL_DATA`` if set, else ``default`` (MNIST/raw/ inside, or downloaded there)."""
    return Path(os.environ.get(DATA_ENV) or default)


def pen_dir(default: Path | str = "data/pendigits") -> Path:
    """``$MNIST_SMALL_PEN`` if set, else ``default`` (UCI pendigits' pendigits-orig.tra inside)."""
    return Path(os.environ.get(PEN_ENV) or default)


def cache_dir() -> Path:
    """Where drawn MNIST and the drawn pen digits are kept: ``$MNIST_SMALL_CACHE``, else
    ``$XDG_CACHE_HOME/mnist_small``, else ``~/.cache/mnist_small``. Not the data folder, which
    may be shared and read-only."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mnist_small"


def class_db_url(data: Path | str | None = None) -> str:
    """Where the class set lives: ``$MNIST_SMALL_DB`` (a SQLAlchemy URL, e.g. PostgreSQL's) if
    set, else a SQLite file in the data folder's ``class/``."""
    if os.environ.get(DB_ENV):
        return os.environ[DB_ENV]
    return f"sqlite:///{(Path(data) if data is not None else data_dir()).resolve() / 'class' / 'class.db'}"

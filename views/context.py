"""What the views share, passed to each explicitly, and the guard that keeps one failing view
from taking the page down."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from mnist_small.checkpoints import LoadedModel
from mnist_small.classset.store import DEFAULT_CLASS
from mnist_small.preprocess import Prepared

log = logging.getLogger("mnist_small.app")


@dataclass(frozen=True)
class Context:
    """The state of the page once the sidebar and the Draw tab have run."""

    models: dict[str, LoadedModel]  # the loaded zoo, by name
    chosen: str  # the model picked in the sidebar
    drawing: Prepared  # the canvas or the uploaded picture, as the models see it
    # the chosen model's ten probabilities for the drawing, by name; empty without a digit (every model's: views/predictions.py)
    probabilities: dict[str, np.ndarray]
    checkpoints: Path  # the folder the zoo was loaded from (the cache keys on it)
    data_dir: Path  # where MNIST is looked for, for the views that show its digits
    class_code: str = DEFAULT_CLASS  # the page's class (``?class=``): its drawings, leaderboard and models
    class_db: str | None = None  # the class set's database URL: the class's fine-tuned models live there


@contextmanager
def guard(view: str) -> Iterator[None]:
    """Keep one failing view from taking the page down; the traceback goes to the server log."""
    try:
        yield
    except Exception:
        log.exception("view %r failed", view)
        st.error(f"The {view} view hit an unexpected error (details are in the server log). The other views still work.")

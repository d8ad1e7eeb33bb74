"""Models, model cards and MNIST, loaded once per process and shared by every session.

Each is cached per folder (passed explicitly: the cache keys on the arguments), so tests can
point the app at other folders.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from mnist_small.checkpoints import LoadedModel, load_all
from mnist_small.data import MNIST, DataError, load_mnist
from mnist_small.summary import model_card, overview_rows

from .context import log


@st.cache_resource(show_spinner="Loading models…")
def load_models(folder: Path) -> tuple[dict[str, LoadedModel], dict[str, str]]:
    """The loaded models by name, and the reason each unavailable one failed."""
    return load_all(folder)


@st.cache_data
def card_of(name: str, folder: Path) -> dict:
    return model_card(load_models(folder)[0][name])


@st.cache_data
def overview_of(folder: Path) -> list[dict]:
    return overview_rows(load_models(folder)[0])


@st.cache_resource(show_spinner="Reading MNIST…")
def mnist_on_disk(folder: Path) -> MNIST | None:
    try:
        return load_mnist(folder, allow_download=False)
    except DataError as err:
        log.info("no MNIST on disk: %s", err)
        return None


def where_to_put_mnist(data_dir: Path, what: str) -> str:
    return (
        f"To see {what}, put MNIST in `{data_dir}/MNIST/raw/` (for example `python -m mnist_small evaluate` "
        "downloads it there) or set MNIST_SMALL_DATA to a folder that has it."
    )

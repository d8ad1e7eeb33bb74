"""Models, model cards and MNIST, loaded once per process and shared by every session.

Each is cached per folder (passed explicitly: the cache keys on the arguments), so tests can
point the app at other folders.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from mnist_small.cards import model_card
from mnist_small.checkpoints import LoadedModel, load_all
from mnist_small.classset.answers import ClassAnswers, Snapshot
from mnist_small.classset.store import ClassSet
from mnist_small.data import MNIST, DataError, load_mnist
from mnist_small.summary import overview_rows

from .context import log


def zoo_stamp(folder: Path) -> tuple[tuple[str, int], ...]:
    """The checkpoint records and when each last changed: a class model that a fine-tune (in
    another process) adds or replaces changes it, so every app process loads the zoo again."""
    return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in Path(folder).glob("*.json")))


def load_models(folder: Path) -> tuple[dict[str, LoadedModel], dict[str, str]]:
    """The loaded models by name, and the reason each unavailable one failed."""
    return _load_models(folder, zoo_stamp(folder))


@st.cache_resource(show_spinner="Loading models…", max_entries=2)
def _load_models(folder: Path, stamp: tuple) -> tuple[dict[str, LoadedModel], dict[str, str]]:
    return load_all(folder)


def card_of(name: str, folder: Path) -> dict:
    return _card_of(name, folder, zoo_stamp(folder))


@st.cache_data(max_entries=200)
def _card_of(name: str, folder: Path, stamp: tuple) -> dict:
    return model_card(load_models(folder)[0][name])


def overview_of(folder: Path) -> list[dict]:
    return _overview_of(folder, zoo_stamp(folder))


@st.cache_data(max_entries=4)
def _overview_of(folder: Path, stamp: tuple) -> list[dict]:
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


@st.cache_resource(max_entries=4)
def class_set(url: str) -> ClassSet:
    """One connection pool per database URL, shared by every session; a bad URL raises ClassSetError."""
    return ClassSet(url)


@st.cache_resource(max_entries=4, show_spinner=False)
def _class_answers(url: str, folder: Path) -> ClassAnswers:
    """The zoo's answers to the class set at ``url``, kept and brought up to date in place: one
    per database and zoo, shared by every session and never pickled (it is polled every few seconds)."""
    return ClassAnswers()


def class_answers(url: str, folder: Path) -> Snapshot:
    """The class set now and every loaded model's answers to it. The zoo is loaded with the
    stamp read first, so the answers kept under a stamp never come from older weights."""
    stamp = zoo_stamp(folder)
    models = _load_models(folder, stamp)[0]
    stamps = {Path(file).stem: changed for file, changed in stamp}  # a retrained +class model keeps its name, not its stamp
    return _class_answers(url, folder).refresh(class_set(url), models, stamps, wait=1.0)

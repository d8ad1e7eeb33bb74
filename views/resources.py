"""Models, model cards and MNIST, loaded once per process and shared by every session.

Each is cached per folder (passed explicitly: the cache keys on the arguments), so tests can
point the app at other folders.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from mnist_small.cards import model_card
from mnist_small.checkpoints import LoadedModel, load_all
from mnist_small.classroom.tuned import class_models, class_zoo, model_stamps
from mnist_small.classset.answers import ClassAnswers, Snapshot
from mnist_small.classset.store import DEFAULT_CLASS, ClassSet, ClassSetError
from mnist_small.data import MNIST, DataError, load_mnist
from mnist_small.registry import CLASS
from mnist_small.summary import overview_rows

from .context import log


def zoo_stamp(folder: Path) -> tuple[tuple[str, int], ...]:
    """The checkpoint records and when each last changed: a class model that a fine-tune (in
    another process) adds or replaces changes it, so every app process loads the zoo again."""
    return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in Path(folder).glob("*.json")))


def tuned_stamp(url: str | None, code: str) -> tuple[tuple[str, str], ...]:
    """(name, stamp) of class ``code``'s fine-tuned models in the database at ``url``: a model a
    fine-tune keeps (on any replica) is loaded within a second."""
    return () if url is None else _tuned_stamp(url, code)


@st.cache_data(ttl=1, show_spinner=False)  # one small query a second per class and process, not one per stroke of every student
def _tuned_stamp(url: str, code: str) -> tuple[tuple[str, str], ...]:
    try:
        return model_stamps(class_set(url, code))
    except ClassSetError as err:  # the zoo still answers; the class's own models come back with the database
        log.warning("class %s: its fine-tuned models cannot be listed: %s", code, err)
        return ()


def load_models(folder: Path, url: str | None = None, code: str = DEFAULT_CLASS) -> tuple[dict[str, LoadedModel], dict[str, str]]:
    """The loaded models by name, and the reason each unavailable one failed: the zoo in
    ``folder`` and, with ``url``, class ``code``'s fine-tuned models from that database."""
    return _models(folder, url, code, zoo_stamp(folder), tuned_stamp(url, code))


def _models(folder: Path, url: str | None, code: str, stamp: tuple, tuned: tuple) -> tuple[dict[str, LoadedModel], dict[str, str]]:
    zoo, failed = _load_models(folder, stamp)
    if url is None:
        return zoo, failed
    own, own_failed = _tuned_models(url, code, tuned) if tuned else ({}, {})
    return class_zoo(zoo, own, code), failed | own_failed


def fresh_class_models() -> None:
    """Read the classes' model stamps again on the next run (a fine-tune just kept its model)."""
    _tuned_stamp.clear()


@st.cache_resource(show_spinner="Loading models…", max_entries=2)
def _load_models(folder: Path, stamp: tuple) -> tuple[dict[str, LoadedModel], dict[str, str]]:
    return load_all(folder)


@st.cache_resource(show_spinner="Loading the class's models…", max_entries=32)
def _tuned_models(url: str, code: str, stamp: tuple) -> tuple[dict[str, LoadedModel], dict[str, str]]:
    """One entry per class and stamp: a new fine-tune of a class loads that class's models again."""
    try:
        return class_models(class_set(url, code))
    except ClassSetError as err:
        log.warning("class %s: its fine-tuned models cannot be loaded: %s", code, err)
        return {}, {}


def card_of(name: str, folder: Path, url: str | None = None, code: str = DEFAULT_CLASS) -> dict:
    """The model card of ``name`` among class ``code``'s models (``load_models``)."""
    if not name.endswith(CLASS):  # a zoo model is the same in every class: no query
        return _card_of(name, folder, None, DEFAULT_CLASS, zoo_stamp(folder), None)
    return _card_of(name, folder, url, code, zoo_stamp(folder), dict(tuned_stamp(url, code)).get(name))


@st.cache_data(max_entries=200)
def _card_of(name: str, folder: Path, url: str | None, code: str, stamp: tuple, tuned: str | None) -> dict:
    return model_card(load_models(folder, url, code)[0][name])


def overview_of(folder: Path, url: str | None = None, code: str = DEFAULT_CLASS) -> list[dict]:
    return _overview_of(folder, url, code, zoo_stamp(folder), tuned_stamp(url, code))


@st.cache_data(max_entries=16)
def _overview_of(folder: Path, url: str | None, code: str, stamp: tuple, tuned: tuple) -> list[dict]:
    return overview_rows(load_models(folder, url, code)[0])


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
def _class_database(url: str) -> ClassSet:
    """One connection pool per database URL, shared by every session and every class; a bad URL raises ClassSetError."""
    return ClassSet(url)


def current_class() -> str:
    """The class code of the page, as ``views.classes.enter_class`` read it from ``?class=`` this run."""
    return st.session_state.get("class_code", DEFAULT_CLASS)


def class_set(url: str, code: str | None = None) -> ClassSet:
    """The class ``code`` of the database at ``url`` (default: the class of this page)."""
    code = current_class() if code is None else code
    database = _class_database(url)
    return database if code == database.code else database.in_class(code)


@st.cache_resource(max_entries=200, show_spinner=False)
def _class_answers(url: str, folder: Path, code: str) -> ClassAnswers:
    """The zoo's answers to one class's drawings, kept and brought up to date in place: one per
    class and zoo, shared by every session and never pickled (it is polled every few seconds)."""
    return ClassAnswers()


def class_answers(url: str, folder: Path, code: str | None = None) -> Snapshot:
    """The class's drawings now and every loaded model's answers to them. The zoo is loaded with the
    stamp read first, so the answers kept under a stamp never come from older weights."""
    store = class_set(url, code)
    stamp, tuned = zoo_stamp(folder), tuned_stamp(url, store.code)
    models = _models(folder, url, store.code, stamp, tuned)[0]  # the zoo and this class's fine-tuned models
    # a model taught again keeps its name, not its stamp
    stamps = {Path(file).stem: changed for file, changed in stamp} | dict(tuned)
    return _class_answers(url, folder, store.code).refresh(store, models, stamps, wait=1.0)

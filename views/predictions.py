"""Which models run, and when: the chosen model on every stroke (the Draw tab shows its answer only);
every model only where every answer is shown (the Compare tab), once per drawing. Adding to the
class set runs none: it keeps the answers the page computed, and the Class view runs the others,
batched, when it is open (mnist_small.classset.answers)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from mnist_small.checkpoints import LoadedModel
from mnist_small.inference import all_probabilities, probabilities
from mnist_small.preprocess import Prepared

EVERY_MODEL = "every_model_probabilities"  # session state: (the models, the drawing's 28x28 bytes, their probabilities)


def of_chosen(models: dict[str, LoadedModel], chosen: str, drawing: Prepared) -> dict[str, np.ndarray]:
    """The chosen model's ten probabilities for ``drawing``, by its name; empty without a digit."""
    if not drawing.has_digit:
        return {}
    return {chosen: probabilities(models[chosen].model, drawing.tensor())[0]}


def of_every_model(models: dict[str, LoadedModel], drawing: Prepared) -> dict[str, np.ndarray]:
    """Every model's ten probabilities for ``drawing`` (empty without a digit), kept for this session's
    latest drawing: a rerun of the Compare tab for the same drawing runs no model again."""
    if not drawing.has_digit:
        return {}
    kept = kept_every_model(models, drawing)
    if kept is not None:
        return kept
    computed = all_probabilities(models, drawing.tensor())
    st.session_state[EVERY_MODEL] = (_zoo(models), _key(drawing), computed)
    return computed


def kept_every_model(models: dict[str, LoadedModel], drawing: Prepared) -> dict[str, np.ndarray] | None:
    """Every model's probabilities for ``drawing`` if this session computed them (Compare), else None."""
    kept = st.session_state.get(EVERY_MODEL)
    if kept is not None and kept[0] == _zoo(models) and kept[1] == _key(drawing):
        return kept[2]
    return None


def _zoo(models: dict[str, LoadedModel]) -> tuple:
    # the models themselves, compared by identity (a run may build a new dict of the same ones): a
    # reloaded zoo or a class's new fine-tune answers anew
    return tuple((name, loaded.model) for name, loaded in models.items())


def _key(drawing: Prepared) -> bytes:
    return np.ascontiguousarray(drawing.image).tobytes()  # what the models see decides their answers

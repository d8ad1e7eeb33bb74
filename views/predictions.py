"""Which models run, and when: the chosen model on every stroke (the Draw tab shows its answer only);
every model only where every answer is shown or kept (the Compare tab, adding to the class set),
once per drawing."""

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
    latest drawing: the Compare tab computes them as a stroke reruns it, and adding that drawing to the
    class set then reuses them instead of running all the models again."""
    if not drawing.has_digit:
        return {}
    # the models themselves, compared by identity (a run may build a new dict of the same ones): a
    # reloaded zoo or a class's new fine-tune answers anew
    zoo = tuple((name, loaded.model) for name, loaded in models.items())
    key = np.ascontiguousarray(drawing.image).tobytes()  # what the models see decides their answers
    kept = st.session_state.get(EVERY_MODEL)
    if kept is not None and kept[0] == zoo and kept[1] == key:
        return kept[2]
    computed = all_probabilities(models, drawing.tensor())
    st.session_state[EVERY_MODEL] = (zoo, key, computed)
    return computed

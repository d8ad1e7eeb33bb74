"""The sidebar's model choice: an architecture, and what it was trained on (MNIST alone, with
real pen-written digits too: its ``+pen`` twin, or a class's drawings: ``+class``). Switching
either keeps the other and the drawing."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from mnist_small.checkpoints import LoadedModel
from mnist_small.classset.store import DEFAULT_CLASS
from mnist_small.summary import TRAINED_ON, architecture, architectures, best_reader, kinds, model_name, percent, trained_on_pen, variant

from .resources import card_of

WHY_PEN = (
    "A +pen model is the same architecture that also saw pen-written digits of 20 real writers: "
    "the data, not the architecture, decides what a model can read."
)


MODEL_PARAM = "model"
KIND_OF = {label: kind for kind, label in TRAINED_ON.items()}


def remember_kind() -> None:
    """The kind the class picked, kept for architectures that do not have it."""
    st.session_state.kind = KIND_OF[st.session_state.trained_on]


def pick_model(models: dict[str, LoadedModel], folder: Path, url: str | None = None, code: str = DEFAULT_CLASS) -> str:
    """The model picker; returns the chosen model's name. On a session's first run it is the one
    in the page's link (``?model=``), else the model that reads real handwriting best."""
    names = list(models)
    if "model" not in st.session_state:
        linked = (st.query_params.get(MODEL_PARAM) or "").replace(" ", "+")  # a "+" typed into a link reads as a space
        first = linked if linked in models else best_reader({name: card_of(name, folder, url, code)["pen_acc"] for name in names})
        st.session_state.model, st.session_state.kind = architecture(first), variant(first)
    wanted = st.session_state.get("kind", "")
    # the architectures by name alone: a label that changed with the kind would make the browser
    # send a value the next run no longer knows, and the picker would fall back to the first one
    arch = st.selectbox("Model", architectures(names), key="model", help="Each name ends in its size: 2.0k is 2,000 parameters.")
    available = kinds(names, arch)
    st.session_state.trained_on = TRAINED_ON[wanted if wanted in available else available[0]]
    label = st.segmented_control(
        "Trained on", [TRAINED_ON[k] for k in available], key="trained_on", required=True, on_change=remember_kind, width="stretch"
    )
    if any(map(trained_on_pen, names)):
        st.caption(WHY_PEN)
    chosen = model_name(arch, KIND_OF[label])
    if st.query_params.get(MODEL_PARAM) != chosen:
        st.query_params[MODEL_PARAM] = chosen  # ?model=...: a link opens this model, and a reload keeps it
    card = card_of(chosen, folder, url, code)  # a class's fine-tuned model is in the database at url
    st.caption(
        f"**{card['params']:,}** parameters · reads **{percent(card['pen_acc'])}** of real handwriting · "
        f"{percent(card['final_acc'])} of MNIST's test digits · {percent(card['drawn_acc'])} of drawn ones\n\n{card['description']}"
    )
    return chosen

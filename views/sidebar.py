"""The sidebar's model choice: an architecture, and what it was trained on (MNIST alone, or with
real pen-written digits too: its ``+pen`` twin). Switching either keeps the other and the drawing."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from mnist_small.checkpoints import LoadedModel
from mnist_small.summary import TRAINED_ON, architecture, architectures, best_reader, kinds, model_name, trained_on_pen

from .resources import card_of

WHY_PEN = (
    "A +pen model is the same architecture that also saw pen-written digits of 20 real writers: "
    "the data, not the architecture, decides what a model can read."
)


def remember_kind() -> None:
    """The kind the class picked, kept for architectures that have only the other one."""
    st.session_state.pen = st.session_state.trained_on == TRAINED_ON[True]


def percent(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}%"


def pick_model(models: dict[str, LoadedModel], folder: Path) -> str:
    """The model picker; returns the chosen model's name. On a session's first run it is the model
    that reads real handwriting best."""
    names = list(models)
    if "model" not in st.session_state:
        best = best_reader({name: card_of(name, folder)["pen_acc"] for name in names})
        st.session_state.model, st.session_state.pen = architecture(best), trained_on_pen(best)
    wanted = st.session_state.get("pen", False)

    def label(arch: str) -> str:
        """The name already says the size; the share of real handwriting it reads helps pick (~32 characters fit)."""
        present = kinds(names, arch)
        read = card_of(model_name(arch, wanted if wanted in present else present[0]), folder)["pen_acc"]
        return arch if read is None else f"{arch} · {read:.1f}%"

    arch = st.selectbox(
        "Model",
        architectures(names),
        format_func=label,
        key="model",
        help="The % after a name: how many pen-written digits of 10 writers it reads, writers no model trained on.",
    )
    available = kinds(names, arch)
    st.session_state.trained_on = TRAINED_ON[wanted if wanted in available else available[0]]
    pen = (
        st.segmented_control(
            "Trained on", [TRAINED_ON[k] for k in available], key="trained_on", required=True, on_change=remember_kind, width="stretch"
        )
        == TRAINED_ON[True]
    )
    if any(map(trained_on_pen, names)):
        st.caption(WHY_PEN)
    chosen = model_name(arch, pen)
    card = card_of(chosen, folder)
    st.caption(
        f"**{card['params']:,}** parameters · reads **{percent(card['pen_acc'])}** of real handwriting · "
        f"{percent(card['final_acc'])} of MNIST's test digits · {percent(card['drawn_acc'])} of drawn ones\n\n{card['description']}"
    )
    return chosen

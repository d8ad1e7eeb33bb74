"""Compare models: every model's answer to the drawing, and whether they agree; the models
trained on MNIST, their +pen twins and any class models in groups."""

from __future__ import annotations

import itertools

import streamlit as st

from mnist_small import plots
from mnist_small.registry import PEN
from mnist_small.summary import TRAINED_ON, by_kind, comparison_rows, guesses, votes

from ..context import Context, guard
from ..predictions import of_every_model
from ..resources import card_of


def agreement(guessed: dict[str, int], group: str = "") -> None:
    """Whether the models (of one group, named by ``group``) agree, and on what."""
    per_digit = votes(guessed)
    if len(guessed) == 1:
        said = f"its one model says **{per_digit.index(1)}**"
    elif max(per_digit) == len(guessed):
        said = f"all {len(guessed)} models agree: **{per_digit.index(max(per_digit))}**"
    else:
        said = "the models disagree: " + ", ".join(f"**{digit}** ({n})" for digit, n in enumerate(per_digit) if n)
    text = f"{group} {said}" if group else said[0].upper() + said[1:]
    (st.warning if said.startswith("the models disagree") else st.success)(text)


def show(context: Context) -> None:
    with guard("compare"):
        probabilities = of_every_model(context.models, context.drawing)  # the Draw tab ran the chosen model only
        if not probabilities:
            st.info("Draw a digit in the Draw tab to compare every model on it.")
            return
        groups = by_kind(probabilities)
        guessed = guesses(probabilities)
        if len(groups) == 1 or len(set(guessed.values())) == 1:
            agreement(guessed)
        else:  # which kind disagrees, or do the kinds agree on different digits?
            for kind, names in groups.items():
                agreement({name: guessed[name] for name in names}, f"Trained on {TRAINED_ON[kind]}:")
        if context.drawing.warning:
            st.warning(context.drawing.warning)
        ordered = {name: probabilities[name] for names in groups.values() for name in names}
        breaks = list(itertools.accumulate(map(len, groups.values())))[:-1]  # a line between two kinds
        st.plotly_chart(plots.compare_heatmap(ordered, breaks), width="stretch", key="compare")
        cards = {name: card_of(name, context.checkpoints, context.class_db, context.class_code) for name in ordered}
        rows = comparison_rows(ordered, {n: c["final_acc"] for n, c in cards.items()}, {n: c["pen_acc"] for n, c in cards.items()})
        st.dataframe(rows, hide_index=True, width="stretch", placeholder="-")
        if list(groups) == ["", PEN]:
            st.caption("Above the line: trained on MNIST alone. Below: their +pen twins, fine-tuned with real pen-written digits too.")
        elif len(groups) > 1:
            st.caption("Between the lines, from the top: trained on " + "; ".join(TRAINED_ON[kind] for kind in groups) + ".")

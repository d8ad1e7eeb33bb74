"""Compare models: every model's answer to the drawing, and whether they agree."""

from __future__ import annotations

import streamlit as st

from mnist_small import plots
from mnist_small.summary import comparison_rows, guesses, votes

from .context import Context, guard
from .resources import card_of


def show(context: Context) -> None:
    with guard("compare"):
        if not context.probabilities:
            st.info("Draw a digit in the Draw tab to compare every model on it.")
            return
        guessed = guesses(context.probabilities)
        per_digit = votes(guessed)
        if max(per_digit) == len(guessed):
            st.success(f"All {len(guessed)} models agree: **{per_digit.index(max(per_digit))}**")
        else:
            st.warning("The models disagree: " + ", ".join(f"**{digit}** ({n})" for digit, n in enumerate(per_digit) if n))
        if context.drawing.warning:
            st.warning(context.drawing.warning)
        st.plotly_chart(plots.compare_heatmap(context.probabilities), width="stretch", key="compare")
        accuracies = {name: card_of(name, context.checkpoints)["final_acc"] for name in context.probabilities}
        st.dataframe(comparison_rows(context.probabilities, accuracies), hide_index=True, width="stretch")

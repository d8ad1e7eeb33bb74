"""Training curves: loss, accuracy and learning rate per epoch, for the models the student picks."""

from __future__ import annotations

import streamlit as st

from mnist_small import plots
from mnist_small.summary import histories, teacher

from .context import Context, guard


@st.fragment  # picking models reruns this view only, not the page
def show(context: Context) -> None:
    with guard("training curves"):
        picked = st.multiselect("Models", list(context.models), default=[context.chosen])  # no key: follows the sidebar's model
        if not picked:
            st.info("Pick at least one model.")
            return
        colours = plots.curve_colours(picked)
        st.markdown(
            " &nbsp; ".join(
                f"<span style='white-space:nowrap'><span style='color:{colours[name]};font-weight:700'>&#9473;&#9473;</span> {name}</span>"
                for name in picked
            ),
            unsafe_allow_html=True,
        )
        charts = st.container(horizontal=True)  # they wrap (style.py): side by side on a wide screen, stacked on a phone
        for i, figure in enumerate(plots.training_curves(histories(context.models, picked))):
            charts.container(key=f"curve-{i}").plotly_chart(figure, width="stretch", key=f"curves-{i}")
        distilled = [name for name in picked if teacher(context.models[name])]
        note = (
            f" Learning from a teacher model ({', '.join(distilled)}): the training loss is mostly the distance to the "
            "teacher's softened answers, so it sits above the test loss."
            if distilled
            else ""
        )
        st.caption(
            "Dotted: training set (augmented, running average over the epoch). Solid: the 10,000 test images after the epoch." + note
        )

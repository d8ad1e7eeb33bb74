"""Training curves: loss, accuracy and learning rate per epoch, for the models the student picks;
the chosen model with its +pen twin to start with."""

from __future__ import annotations

import streamlit as st

from mnist_small import plots
from mnist_small.cards import curve_histories, distilled_from, fine_tuned_from
from mnist_small.published import load_published
from mnist_small.summary import architecture, kinds, model_name

from ..context import Context, guard


@st.fragment  # picking models reruns this view only, not the page
def show(context: Context) -> None:
    with guard("training curves"):
        arch = architecture(context.chosen)
        twins = [model_name(arch, kind) for kind in kinds(context.models, arch)]  # the chosen model and its twins, if loaded
        picked = st.multiselect("Models", list(context.models), default=twins)  # no key: follows the sidebar's model
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
        shown = st.toggle("Show the write-ups' own runs", value=True, key="curves_published")
        published = {name: run for name, run in load_published().items() if name in picked} if shown else {}
        histories = curve_histories(context.models, picked)
        fine_tuned = [name for name in picked if fine_tuned_from(context.models[name])]
        starts = sorted({histories[name][0].epoch - 0.5 for name in fine_tuned})
        charts = st.container(horizontal=True)  # they wrap (style.py): side by side on a wide screen, stacked on a phone
        for i, figure in enumerate(plots.training_curves(histories, starts, published)):
            charts.container(key=f"curve-{i}").plotly_chart(figure, width="stretch", key=f"curves-{i}")
        notes = ["Dotted: training set (augmented, running average over the epoch). Solid: the 10,000 test images after the epoch."]
        if any(h.pen_acc is not None for name in picked for h in histories[name]):
            notes.append("Dashed, ◆: real handwriting, the pen-written digits of 10 writers no model trained on.")
        if published:
            notes.append(
                f"Open circles: as published, the write-up's own run ({', '.join(published)}), test dashed, train dash-dotted, "
                "each figure only where the write-up prints it."
            )
        if fine_tuned:
            sources = ", ".join(f"{name} from {fine_tuned_from(context.models[name])}" for name in fine_tuned)
            notes.append(
                f"Fine-tuned ({sources}): it starts from the trained model's final weights, so its epochs are counted on "
                "after the grey line, with a new, lower learning-rate cycle."
            )
        distilled = [name for name in picked if distilled_from(context.models[name])]
        if distilled:
            notes.append(
                f"Learning from a teacher model ({', '.join(distilled)}): part of the training loss is the distance to the "
                "teacher's softened answers, so it can sit above the test loss."
            )
        st.caption(" ".join(notes))

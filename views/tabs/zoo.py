"""Zoo: every model's size against how much real handwriting it reads (or its drawn MNIST or
MNIST test accuracy), the models trained on MNIST beside their +pen twins, and the table behind the chart."""

from __future__ import annotations

import streamlit as st

from mnist_small import plots

from ..context import Context, guard
from ..resources import overview_of

FIGURES = {  # the chart's y: the row's key, and its axis title
    "real handwriting": ("pen accuracy", "reads real handwriting (%)"),
    "drawn MNIST": ("drawn accuracy", "drawn MNIST accuracy (%)"),
    "MNIST test": ("accuracy", "MNIST test accuracy (%)"),
}


@st.fragment  # picking the figure reruns this view only, not the page
def show(context: Context) -> None:
    with guard("zoo"):
        rows = overview_of(context.checkpoints, context.class_db, context.class_code)
        measured = [what for what, (key, _) in FIGURES.items() if any(row[key] is not None for row in rows)]
        what = st.segmented_control("Accuracy on", measured, default=measured[0], required=True, key="zoo_figure")
        key, title = FIGURES[what]
        phone = "Mobi" in st.context.headers.get("User-Agent", "")  # MDN's test for a phone's browser
        # a phone has no room for the scatter's labels: one row per architecture there
        figure = plots.zoo_dots(rows, key, what) if phone else plots.zoo_scatter(rows, key, title)
        st.plotly_chart(figure, width="stretch", key="zoo")
        st.dataframe(
            rows,
            hide_index=True,
            width="stretch",
            placeholder="-",
            column_order=[k for k in rows[0] if k not in ("architecture", "pen")],
            column_config={
                "pen accuracy": st.column_config.NumberColumn("reads real handwriting", format="%.2f%%"),
                "drawn accuracy": st.column_config.NumberColumn("drawn MNIST", format="%.2f%%"),
                "accuracy": st.column_config.NumberColumn("MNIST test", format="%.2f%%"),
                "best accuracy": st.column_config.NumberColumn("best MNIST test", format="%.2f%%"),
                "write-up's final": st.column_config.NumberColumn(format="%.2f%%", help="the write-up's own last epoch"),
                "ours − write-up": st.column_config.NumberColumn(format="%+.2f", help="our final minus the write-up's, in points"),
                "params": st.column_config.NumberColumn(format="localized"),
                "MACs": st.column_config.NumberColumn("MACs per image", format="compact"),
                "train seconds": st.column_config.NumberColumn("train time", format="%.0f s"),
            },
        )
        st.caption(
            "reads real handwriting: the pen-written digits of 10 writers whom no model trained on (UCI pendigits, drawn as on "
            "the canvas); - where not measured yet. drawn MNIST: MNIST's 10,000 test digits re-drawn the way a canvas drawing "
            "looks (random size, place, brush width and slant). MNIST test: the final epoch on the test digits themselves. "
            "A +pen model is its architecture fine-tuned with 20 other writers' pen digits beside MNIST. write-up's best (epoch), "
            "final: the MNIST test accuracy the write-up itself published; ours − write-up: our final minus it, in points."
        )

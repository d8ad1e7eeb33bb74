"""Zoo: every model's size against its accuracy, and the table behind the chart."""

from __future__ import annotations

import streamlit as st

from mnist_small import plots

from .context import Context, guard
from .resources import overview_of


def show(context: Context) -> None:
    with guard("zoo"):
        rows = overview_of(context.checkpoints)
        has_drawn = all(row["drawn accuracy"] is not None for row in rows)
        phone = "Mobi" in st.context.headers.get("User-Agent", "")  # MDN's test for a phone's browser
        chart = plots.zoo_dots if phone else plots.zoo_scatter  # a phone has no room for the scatter's ten labels
        st.plotly_chart(chart(rows, extra="drawn accuracy" if has_drawn else None), width="stretch", key="zoo")
        percent = st.column_config.NumberColumn(format="%.2f%%")
        st.dataframe(
            rows,
            hide_index=True,
            width="stretch",
            column_config={
                "params": st.column_config.NumberColumn(format="localized"),
                "MACs": st.column_config.NumberColumn("MACs per image", format="compact"),
                "accuracy": percent,
                "drawn accuracy": percent,
                "best accuracy": percent,
                "train seconds": st.column_config.NumberColumn("train time", format="%.0f s"),
            },
        )
        st.caption(
            "accuracy: final epoch on the 10,000 MNIST test images. drawn accuracy: the same digits re-drawn the way a "
            "canvas drawing looks (random size, place, brush width and slant), through the app's preprocessing."
        )

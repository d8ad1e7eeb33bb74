"""What every figure shares: large fonts and few colours, because the figures are shown on a projector."""

from __future__ import annotations

import numpy as np
import plotly.express as px
import plotly.graph_objects as go

DIGITS = [str(d) for d in range(10)]
ACCENT, MUTED, MNIST_ONLY = "#d62728", "#9db4cf", "#1f77b4"  # MNIST_ONLY: models trained on MNIST alone


FONT = {"size": 16}
PALETTE = px.colors.qualitative.Bold


# Plotly's Viridis as a 256-entry lookup table (uint8 RGB), for feature maps shown as pictures
_stops = np.array([px.colors.hex_to_rgb(c) for c in px.colors.sequential.Viridis], dtype=float)
VIRIDIS = (
    np.stack([np.interp(np.linspace(0, 1, 256), np.linspace(0, 1, len(_stops)), _stops[:, k]) for k in range(3)], axis=1)
    .round()
    .astype(np.uint8)
)


def styled(fig: go.Figure, height: int, **layout) -> go.Figure:
    """Large fonts and tight margins. No template: Streamlit themes the charts, and copying a
    Plotly template costs more time than building the figure."""
    fig.update_layout(font=FONT, height=height, margin={"l": 10, "r": 10, "t": 50, "b": 10}, **layout)
    return fig

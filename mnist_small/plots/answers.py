"""Figures of answers: a model's ten probabilities, every model's at once, confusion counts, and
pictures for st.image (an input, feature maps, training digits)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from .style import ACCENT, DIGITS, MUTED, VIRIDIS, styled


def probability_bars(probs: np.ndarray, title: str = "") -> go.Figure:
    """The 10 softmax probabilities as bars, the predicted digit in the accent colour."""
    top = int(np.argmax(probs))
    colours = [ACCENT if d == top else MUTED for d in range(10)]
    fig = go.Figure(
        go.Bar(
            x=DIGITS,
            y=100 * np.asarray(probs),
            marker_color=colours,
            text=[f"{100 * p:.0f}%" if p >= 0.01 else "" for p in probs],
            textposition="outside",
            constraintext="none",  # full-size labels over narrow bars
            cliponaxis=False,
            hovertemplate="digit %{x}: %{y:.2f}%<extra></extra>",
        )
    )
    fig.update_yaxes(range=[0, 109], title="probability (%)", dtick=25)
    fig.update_xaxes(title="digit", type="category", dtick=1)  # every digit labelled, also in a narrow column
    return styled(fig, 360, title=title, showlegend=False)


def compare_heatmap(probs_by_model: dict[str, np.ndarray], breaks: Sequence[int] = ()) -> go.Figure:
    """Models x digits probabilities; each model's top guess is written in its cell. ``breaks``:
    the rows before which a thick line separates two groups of models."""
    names = list(probs_by_model)
    z = 100 * np.array([probs_by_model[n] for n in names])
    text = [[f"{v:.0f}" if v >= 1 else "" for v in row] for row in z]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=DIGITS,
            y=names,
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=100,
            showscale=False,  # the numbers are in the cells; a colour bar would squeeze them on a phone
            hovertemplate="%{y}<br>digit %{x}: %{z:.2f}%<extra></extra>",
        )
    )
    fig.update_xaxes(type="category", side="top")  # no axis title: on a narrow screen it runs into the chart title
    fig.update_yaxes(autorange="reversed")
    for row in breaks:
        fig.add_hline(y=row - 0.5, line={"color": "#444444", "width": 4})
    fig = styled(fig, 120 + 48 * len(names), title="Each model's probability (%) for each digit")
    return fig.update_layout(margin_t=80, title_y=1, title_yanchor="top", title_pad_t=10)  # the title above the digits on top


def confusion_heatmap(matrix: Sequence[Sequence[int]], title: str = "", height: int = 560) -> go.Figure:
    """10x10 counts; the diagonal is hidden so the mistakes stand out."""
    z = np.array(matrix, dtype=float)
    np.fill_diagonal(z, np.nan)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=DIGITS,
            y=DIGITS,
            text=np.array(matrix),
            texttemplate="%{text}",
            colorscale="Reds",
            zmin=0,
            zmax=max(1.0, float(np.nanmax(z))) if np.isfinite(z).any() else 1.0,  # no mistakes: every cell pale, not red
            hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>",
            showscale=False,
        )
    )
    fig.update_xaxes(title="predicted digit", type="category", side="top")
    fig.update_yaxes(title="true digit", type="category", autorange="reversed")
    fig = styled(fig, height, title=title)
    return fig.update_layout(margin_t=110, title_y=1, title_yanchor="top", title_pad_t=10)  # the title above the axis on top


def image(pixels: np.ndarray, colorscale: str = "gray", height: int = 280) -> go.Figure:
    """A single 2-D array as an image, no axes."""
    fig = go.Figure(go.Heatmap(z=pixels, colorscale=colorscale, zmin=0, zmax=max(1.0, float(np.nanmax(pixels))), showscale=False))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return styled(fig, height).update_layout(margin_t=10)  # the app puts the title above, as text that wraps


def feature_map_images(maps: np.ndarray, size: int = 84, margin: int = 3) -> list[np.ndarray]:
    """Every channel (C, H, W) of one layer's output as an RGBA uint8 image in Viridis, each scaled
    to its own range and enlarged to about ``size`` px so the browser does not blur the pixels,
    with a see-through ``margin`` that keeps neighbours apart. For ``st.image``, which wraps them
    to the screen's width."""
    low = maps.min(axis=(1, 2), keepdims=True)
    span = np.maximum(maps.max(axis=(1, 2), keepdims=True) - low, 1e-6)
    levels = np.rint(255 * (maps - low) / span).astype(int)
    scale = max(1, size // maps.shape[1])
    rgb = VIRIDIS[levels].repeat(scale, 1).repeat(scale, 2)
    rgba = np.concatenate([rgb, np.full((*rgb.shape[:3], 1), 255, dtype=np.uint8)], axis=3)
    return list(np.pad(rgba, ((0, 0), (margin, margin), (margin, margin), (0, 0))))


def digit_strips(examples: np.ndarray, scale: int = 3) -> list[np.ndarray]:
    """(rows, digits, 28, 28) images in [0, 1] -> one RGBA uint8 image per digit with its rows
    stacked, see-through gaps between them and at the sides, enlarged ``scale`` times so the
    browser does not blur the pixels. For ``st.image``, which wraps them to the screen's width,
    each digit whole."""
    rows, _, h, w = examples.shape
    strips = []
    for d in range(examples.shape[1]):
        grey = np.full((rows * (h + 2) - 2, 1 + w + 1), np.nan)  # NaN: see-through, 2 px between rows, 1 px at the sides
        for r in range(rows):
            grey[r * (h + 2) : r * (h + 2) + h, 1:-1] = examples[r, d]
        grey = grey.repeat(scale, 0).repeat(scale, 1)
        ink = np.nan_to_num(grey)
        strips.append((255 * np.dstack([ink, ink, ink, ~np.isnan(grey)])).astype(np.uint8))
    return strips


def digit_counts(counts: Sequence[int], title: str = "") -> go.Figure:
    """How many drawings of each digit: the gaps show which digits the class should draw next."""
    fig = go.Figure(go.Bar(x=DIGITS, y=list(counts), marker_color=ACCENT, text=list(counts), textposition="outside", cliponaxis=False))
    fig.update_xaxes(title="digit", type="category", dtick=1)
    fig.update_yaxes(title="drawings", rangemode="tozero")
    return styled(fig, 260, title=title, showlegend=False)

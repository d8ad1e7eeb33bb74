"""Plotly figures and pictures for st.image: pure functions of data, so they are tested without a browser.

Fonts are large and colours few, because the figures are shown on a projector.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.express as px
import plotly.graph_objects as go

from .published import PublishedRun
from .records import EpochRecord

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


def curve_colours(names: Sequence[str]) -> dict[str, str]:
    """One colour per model, the same in every training-curve chart and in their shared key."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def training_curves(
    histories: dict[str, Sequence[EpochRecord]],
    starts: Sequence[float] = (),
    published: Mapping[str, PublishedRun] | None = None,
) -> list[go.Figure]:
    """Loss, accuracy and learning rate per epoch, as three charts (side by side on a wide screen,
    stacked on a phone); train dotted, test solid, and in the accuracy chart the real handwriting
    (pen digits) dashed where measured; colours from ``curve_colours``, no legends. ``starts``: the
    epochs where fine-tuning starts, marked by a grey line. ``published``: the write-ups' own runs
    of the shown models, drawn "as published" in the model's colour with open circles (test dashed,
    train dash-dotted), each figure only where the write-up gives it."""
    colours = curve_colours(list(histories))
    panels = {"loss": "loss (log scale)", "acc": "accuracy (%)", "lr": "learning rate"}
    splits = {"loss": ("train", "test"), "acc": ("train", "test", "pen"), "lr": ("",)}
    dashes = {"train": "dot", "pen": "dash"}
    figures = {metric: go.Figure() for metric in panels}
    for name, history in histories.items():
        for metric, fig in figures.items():
            for split in splits[metric]:
                key = f"{split}_{metric}" if split else metric
                measured = [h for h in history if getattr(h, key) is not None]
                if not measured:
                    continue
                fig.add_trace(
                    go.Scatter(
                        x=[h.epoch for h in measured],
                        y=[getattr(h, key) for h in measured],
                        name=f"{name} {split or metric}",
                        line={"color": colours[name], "dash": dashes.get(split, "solid")},
                        mode="lines+markers",
                        marker={"symbol": "diamond", "size": 9} if split == "pen" else {},
                        hovertemplate=f"{name}<br>epoch %{{x}}<br>{CURVE_NAMES.get(key, key)}: %{{y:.4g}}<extra></extra>",
                    )
                )
    published_values = []
    for name, run in (published or {}).items():
        if name not in histories:
            continue
        for metric, fig in figures.items():
            for split in splits[metric][:2]:
                key = f"{split}_{metric}" if split else metric
                given = [e for e in run.epochs if getattr(e, key) is not None]
                if metric == "loss":  # a write-up's 0.0000 has no place on a log scale
                    given = [e for e in given if getattr(e, key) > 0]
                if not given:
                    continue
                if metric == "acc":
                    published_values += [getattr(e, key) for e in given[1:] or given]
                fig.add_trace(
                    go.Scatter(
                        x=[e.epoch for e in given],
                        y=[getattr(e, key) for e in given],
                        name=f"{name} as published {split or metric}",
                        line={"color": colours[name], "dash": "dashdot" if split == "train" else "dash", "width": 1.5},
                        mode="lines+markers",
                        marker={"symbol": "circle-open", "size": 7},
                        hovertemplate=f"{name}, as published<br>epoch %{{x}}<br>{CURVE_NAMES.get(key, key)}: %{{y:.4g}}<extra></extra>",
                    )
                )
    # 1-2-5 ticks: a loss curve often spans less than one decade, where decade ticks show one label
    loss_ticks = [m * 10.0**e for e in range(-4, 2) for m in (1, 2, 5)]
    figures["loss"].update_yaxes(type="log", tickvals=loss_ticks, ticktext=[f"{t:g}" for t in loss_ticks])
    later_accuracies = [
        value
        for history in histories.values()
        for h in history[1:] or history
        for value in (h.train_acc, h.test_acc, h.pen_acc)
        if value is not None
    ] + published_values
    if later_accuracies:  # the first epoch's low accuracy would squash the interesting range
        figures["acc"].update_yaxes(range=[max(0.0, min(later_accuracies) - 0.5), 100.2])
    for metric, fig in figures.items():
        for start in starts:
            fig.add_vline(x=start, line={"color": "#9a9a9a", "width": 1, "dash": "dot"})
        fig.update_xaxes(title="epoch")
        styled(fig, 360, title=panels[metric], showlegend=False)
    return list(figures.values())


CURVE_NAMES = {"pen_acc": "real handwriting", "train_acc": "train accuracy", "test_acc": "test accuracy"}


# The zoo plot's area on the narrowest screen it is made for (a 1024 px projector, sidebar open),
# in pixels: labels placed apart there stay apart on wider screens, where only x spreads out.
PLOT_AREA = (500, 430)
CHAR_WIDTH, LABEL_HEIGHT, MARKER_RADIUS = 7.0, 16.0, 7.0


def label_offsets(
    points: Sequence[tuple[float, float]],
    names: Sequence[str],
    markers: Sequence[tuple[float, float]] = (),
    below: Sequence[bool] = (),
) -> list[tuple[float, float]]:
    """Where each point's label goes, as a pixel offset (dx, dy; +y is down) from the point.

    ``points`` and ``markers`` are pixel positions in a PLOT_AREA-sized plot. Each label takes
    the first free spot of: just above, just below, right, left, then two to four rows further
    up or down (joined to its point by a line); below before above for the points ``below``
    marks; where none is free, the spot that overlaps the markers, the plot's edges and the
    labels placed so far least."""
    width, height = PLOT_AREA
    row = LABEL_HEIGHT + 2
    near = MARKER_RADIUS + 1 + LABEL_HEIGHT / 2
    placed = [(mx - MARKER_RADIUS, mx + MARKER_RADIUS, my - MARKER_RADIUS, my + MARKER_RADIUS) for mx, my in markers]

    def overlap(box: tuple[float, float, float, float]) -> float:
        inside = max(0.0, min(box[1], width) - max(box[0], 0.0)) * max(0.0, min(box[3], height) - max(box[2], 0.0))
        outside = (box[1] - box[0]) * (box[3] - box[2]) - inside
        return outside + sum(
            max(0.0, min(box[1], b[1]) - max(box[0], b[0])) * max(0.0, min(box[3], b[3]) - max(box[2], b[2])) for b in placed
        )

    offsets = []
    below = list(below) or [False] * len(points)
    for (x, y), name, down in zip(points, names, below, strict=True):
        half = len(name) * CHAR_WIDTH / 2
        first = 1 if down else -1
        candidates = [(0.0, first * near), (0.0, -first * near), (half + MARKER_RADIUS + 4, 0.0), (-half - MARKER_RADIUS - 4, 0.0)]
        candidates += [(0.0, sign * (near + k * row)) for k in (1, 2, 3) for sign in (first, -first)]
        boxes = [(x + dx - half, x + dx + half, y + dy - LABEL_HEIGHT / 2, y + dy + LABEL_HEIGHT / 2) for dx, dy in candidates]
        best = min(range(len(candidates)), key=lambda i: overlap(boxes[i]))  # the first of the least overlapping
        placed.append(boxes[best])
        offsets.append(candidates[best])
    return offsets


def zoo_series(rows: Sequence[dict], y: str) -> tuple[list[dict], list[dict], list[tuple[dict, dict]]]:
    """The rows with a ``y`` figure, split into the models trained on MNIST and their +pen twins
    (``row["pen"]``), and the pairs of one architecture where both have it."""
    rows = [r for r in rows if r[y] is not None]
    mnist, pen = [r for r in rows if not r["pen"]], [r for r in rows if r["pen"]]
    twins = {r["architecture"]: r for r in pen}
    return mnist, pen, [(r, twins[r["architecture"]]) for r in mnist if r["architecture"] in twins]


def zoo_scatter(rows: Sequence[dict], y: str = "accuracy", y_title: str = "final accuracy (%)") -> go.Figure:
    """Parameters vs ``y``, one point per model: trained on MNIST in blue, the +pen twin (same
    size) in red, the two joined by a thin line; each architecture labelled once."""
    fig = go.Figure()
    mnist, pen, pairs = zoo_series(rows, y)
    shown = mnist + pen
    if not shown:
        return styled(fig, 540, title="Size vs accuracy")
    # each architecture labelled once, at its model trained on MNIST (its twin where that has no
    # point), on the side away from the twin: the pen points crowd together, the MNIST ones less
    twin_of = {a["architecture"]: b for a, b in pairs}
    labelled = mnist + [r for r in pen if r["architecture"] not in {m["architecture"] for m in mnist}]
    below = [r["architecture"] in twin_of and twin_of[r["architecture"]][y] > r[y] for r in labelled]
    params = [r["params"] for r in shown]
    low, high = np.log10(min(params)), np.log10(max(params))
    margin = 0.12 * (high - low) + 0.05  # room for the end points' labels
    x_range = [low - margin, high + margin]
    all_y = [r[y] for r in shown]
    y_pad = 0.1 * (max(all_y) - min(all_y)) + 0.05  # room for the top and bottom labels
    y_range = [min(all_y) - y_pad, max(all_y) + y_pad]

    def pixels(r: dict) -> tuple[float, float]:
        return (
            (np.log10(r["params"]) - x_range[0]) / (x_range[1] - x_range[0]) * PLOT_AREA[0],
            (y_range[1] - r[y]) / (y_range[1] - y_range[0]) * PLOT_AREA[1],
        )

    offsets = label_offsets([pixels(r) for r in labelled], [r["architecture"] for r in labelled], [pixels(r) for r in shown], below)
    if pairs:
        fig.add_trace(_joins([a["params"] for a, _ in pairs], [(a[y], b[y]) for a, b in pairs], width=1))
    for series, kind, colour in ((mnist, "trained on MNIST", MNIST_ONLY), (pen, "MNIST + pen writers", ACCENT)):
        if series:
            fig.add_trace(_points([r["params"] for r in series], [r[y] for r in series], [r["name"] for r in series], kind, colour))
    for r, (dx, dy) in zip(labelled, offsets, strict=True):
        # a log axis takes annotation positions as log10; the line from a far label to its point
        # is clipped to the label's box, so a label right beside its point shows none
        fig.add_annotation(
            x=np.log10(r["params"]),
            y=r[y],
            text=r["architecture"],
            ax=dx,
            ay=dy,
            font={"size": 13},
            arrowcolor="#9a9a9a",
            arrowwidth=1,
            arrowhead=0,
            standoff=MARKER_RADIUS,
        )
    # plain 1-2-3-5-7 ticks labelled "2k", "10k": the log axis's own minor labels ("2", "3", ... "10k", "2") confuse
    ticks = [m * 10**e for e in range(2, 7) for m in (1, 2, 3, 5, 7) if x_range[0] <= np.log10(m * 10**e) <= x_range[1]]
    fig.update_xaxes(title="parameters", type="log", range=x_range, tickvals=ticks, ticktext=[f"{t / 1000:g}k" for t in ticks])
    fig.update_yaxes(title=y_title, range=y_range)
    legend = {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"}  # above: the plot keeps the width
    return styled(fig, 540, title="Size vs accuracy", showlegend=True, legend=legend)


def zoo_dots(rows: Sequence[dict], y: str = "accuracy", what: str = "MNIST test") -> go.Figure:
    """The zoo for a phone: one row per architecture, smallest first, its name above its dots
    (``y`` of the model trained on MNIST and of its +pen twin, joined). The scatter's labels
    need more width than a phone has; here every name gets a line of its own."""
    mnist, pen, pairs = zoo_series(rows, y)
    sizes = {r["architecture"]: r["params"] for r in mnist + pen}
    names = sorted(sizes, key=lambda a: (sizes[a], a))
    fig = go.Figure()
    if pairs:
        fig.add_trace(_joins([a["architecture"] for a, _ in pairs], [(a[y], b[y]) for a, b in pairs], width=2, across=True))
    for series, kind, colour in ((mnist, "trained on MNIST", MNIST_ONLY), (pen, "MNIST + pen writers", ACCENT)):
        if series:
            at = [r["architecture"] for r in series]
            fig.add_trace(_points([r[y] for r in series], at, [r["name"] for r in series], kind, colour, f"{what}: %{{x:.2f}}%"))
    for name in names:
        fig.add_annotation(x=0, xref="paper", xanchor="left", y=name, yshift=17, text=name, showarrow=False, font={"size": 13})
    fig.update_yaxes(
        type="category", categoryorder="array", categoryarray=names, autorange="reversed", showticklabels=False, showgrid=False
    )
    fig.update_xaxes(ticksuffix="%", side="top", nticks=6)
    # the kinds' colours named in the title: a legend would need a line of its own on a phone
    kinds = [f"<span style='color:{MNIST_ONLY}'>MNIST</span>"] * bool(mnist) + [f"<span style='color:{ACCENT}'>+pen</span>"] * bool(pen)
    fig = styled(fig, 140 + 52 * len(names), showlegend=False)
    title = {"text": f"{what}: {' and '.join(kinds)}", "subtitle": {"text": "smallest model first"}}
    return fig.update_layout(title=title, margin_t=110)


def _joins(at: Sequence, ends: Sequence[tuple[float, float]], width: int, across: bool = False) -> go.Scatter:
    """A thin grey line from each model's first value to its second, at its position ``at``;
    vertical, or horizontal with ``across``."""
    positions = [v for a in at for v in (a, a, None)]
    values = [v for pair in ends for v in (*pair, None)]
    x, y = (values, positions) if across else (positions, values)
    return go.Scatter(x=x, y=y, mode="lines", line={"color": "#d0d0d0", "width": width}, hoverinfo="skip", showlegend=False)


def _points(x: list, y: list, names: list[str], label: str, colour: str, hover: str = "%{x:,} params<br>%{y:.2f}%") -> go.Scatter:
    return go.Scatter(
        x=x,
        y=y,
        text=names,
        mode="markers",
        marker={"size": 2 * MARKER_RADIUS, "color": colour},
        name=label,
        hovertemplate=f"%{{text}}<br>{hover}<extra></extra>",
    )


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


def finetune_curves(points: Sequence[dict]) -> go.Figure:
    """A running fine-tune: its training loss at every report, and its accuracy on the held-out
    students' drawings and on MNIST's test digits at the end of each round."""
    fig = go.Figure(
        go.Scatter(x=[p["step"] for p in points], y=[p["loss"] for p in points], name="training loss", yaxis="y2", line_color=MUTED)
    )
    for key, name, colour in (("class_acc", "held-out class drawings (%)", ACCENT), ("mnist_acc", "MNIST test (%)", MNIST_ONLY)):
        marked = [p for p in points if p.get(key) is not None]
        fig.add_trace(
            go.Scatter(x=[p["step"] for p in marked], y=[p[key] for p in marked], name=name, mode="lines+markers", line_color=colour)
        )
    fig.update_layout(yaxis={"title": "accuracy (%)"}, yaxis2={"title": "loss", "overlaying": "y", "side": "right", "showgrid": False})
    fig.update_xaxes(title="step")
    return styled(fig, 320, legend={"orientation": "h", "y": -0.3})

"""The zoo at a glance: parameters against accuracy, each model joined to its twin, the labels
placed apart; and the same as rows of dots for a phone."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from .style import ACCENT, MNIST_ONLY, styled

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

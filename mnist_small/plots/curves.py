"""Training curves: loss, accuracy and learning rate per epoch, a write-up's published run beside
ours, and a class fine-tune's progress."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from ..published import PublishedRun
from ..records import EpochRecord
from .style import ACCENT, MNIST_ONLY, MUTED, PALETTE, styled


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

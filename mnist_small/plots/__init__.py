"""Plotly figures and pictures for st.image: pure functions of data, so they are tested without a
browser. By what they show: ``answers`` (probabilities, confusions, pictures), ``curves``
(training runs), ``zoo`` (size against accuracy); ``style`` is what they share."""

from .answers import compare_heatmap, confusion_heatmap, digit_counts, digit_strips, feature_map_images, image, probability_bars
from .curves import CURVE_NAMES, curve_colours, finetune_curves, training_curves
from .style import ACCENT, DIGITS, FONT, MNIST_ONLY, MUTED, PALETTE, VIRIDIS, styled
from .zoo import CHAR_WIDTH, LABEL_HEIGHT, MARKER_RADIUS, PLOT_AREA, label_offsets, zoo_dots, zoo_scatter, zoo_series

__all__ = [
    "ACCENT",
    "CHAR_WIDTH",
    "CURVE_NAMES",
    "DIGITS",
    "FONT",
    "LABEL_HEIGHT",
    "MARKER_RADIUS",
    "MNIST_ONLY",
    "MUTED",
    "PALETTE",
    "PLOT_AREA",
    "VIRIDIS",
    "compare_heatmap",
    "confusion_heatmap",
    "curve_colours",
    "digit_counts",
    "digit_strips",
    "feature_map_images",
    "finetune_curves",
    "image",
    "label_offsets",
    "probability_bars",
    "styled",
    "training_curves",
    "zoo_dots",
    "zoo_scatter",
    "zoo_series",
]

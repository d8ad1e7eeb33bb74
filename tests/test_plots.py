import dataclasses

import numpy as np

from mnist_small import plots
from mnist_small.published import PublishedEpoch, PublishedRun
from mnist_small.records import EpochRecord

HISTORY = [
    EpochRecord(epoch=e, train_loss=1 / e, train_acc=90 + e, test_loss=0.5 / e, test_acc=95 + e / 2, lr=0.1 / e, seconds=1.0)
    for e in (1, 2, 3)
]


def test_probability_bars_mark_the_top_digit():
    probs = np.full(10, 0.02)
    probs[3] = 0.82
    fig = plots.probability_bars(probs)
    bar = fig.data[0]
    assert list(bar.x) == [str(d) for d in range(10)]
    assert bar.marker.color[3] == plots.ACCENT and bar.marker.color.count(plots.ACCENT) == 1
    assert np.isclose(bar.y[3], 82)


def test_compare_heatmap_has_a_row_per_model():
    fig = plots.compare_heatmap({"a": np.eye(10)[1], "b": np.eye(10)[2]})
    assert list(fig.data[0].y) == ["a", "b"]
    assert np.asarray(fig.data[0].z).shape == (2, 10)
    assert fig.layout.shapes == ()
    grouped = plots.compare_heatmap({"a": np.eye(10)[1], "b": np.eye(10)[2], "a+pen": np.eye(10)[1]}, breaks=[2])
    assert [(s.y0, s.y1) for s in grouped.layout.shapes] == [(1.5, 1.5)]  # a line between the rows of b and a+pen


def test_training_curves_from_history():
    loss, accuracy, lr = plots.training_curves({"m1": HISTORY, "m2": HISTORY})
    assert [t.name for t in accuracy.data] == ["m1 train", "m1 test", "m2 train", "m2 test"]
    assert [t.name for t in lr.data] == ["m1 lr", "m2 lr"]
    test_acc = accuracy.data[1]
    assert list(test_acc.y) == [h.test_acc for h in HISTORY] and test_acc.line.dash == "solid"
    assert accuracy.data[0].line.dash == "dot"  # train
    colours = plots.curve_colours(["m1", "m2"])  # the shared key's colours are the charts' colours
    assert {t.line.color for t in loss.data if t.name.startswith("m2")} == {colours["m2"]} != {colours["m1"]}
    # the log loss axis (0.17-1 here, under one decade) is labelled at 0.2 and 0.5 too, not at 1 alone
    ticks = loss.layout.yaxis.ticktext
    assert loss.layout.yaxis.type == "log" and {"0.2", "0.5", "1"} <= set(ticks)
    assert loss.layout.shapes == ()


def test_training_curves_draw_real_handwriting_where_measured_and_mark_fine_tuning():
    twin = [dataclasses.replace(h, epoch=h.epoch + 3, pen_acc=97 + h.epoch) for h in HISTORY]
    once = [*HISTORY[:2], dataclasses.replace(HISTORY[2], pen_acc=91.0)]
    loss, accuracy, lr = plots.training_curves({"m": once, "m+pen": twin}, starts=[3.5])
    pen = {t.name: t for t in accuracy.data if t.name.endswith(" pen")}
    assert list(pen["m pen"].x) == [3] and list(pen["m pen"].y) == [91.0]  # measured once, after training
    assert list(pen["m+pen pen"].x) == [4, 5, 6] and list(pen["m+pen pen"].y) == [98, 99, 100]
    assert pen["m+pen pen"].line.dash == "dash"
    assert accuracy.layout.yaxis.range[0] == 90.5  # the range takes the pen accuracies in (train: 92 and up)
    assert not any(t.name.endswith(" pen") for t in loss.data + lr.data)
    assert all([s.x0 for s in fig.layout.shapes] == [3.5] for fig in (loss, accuracy, lr))  # where fine-tuning starts
    assert plots.training_curves({"m": HISTORY})[1].data[-1].name == "m test"  # nothing measured: no pen line


PUBLISHED = PublishedRun(
    params=1000,
    source="w.md",
    epoch_note="",
    epochs=(
        PublishedEpoch(epoch=1, test_acc=97.0, test_loss=0.0, train_acc=None),
        PublishedEpoch(epoch=2, test_acc=98.5, test_loss=0.05, train_acc=96.0),
        PublishedEpoch(epoch=3, test_acc=None, test_loss=0.04, train_acc=90.0),
    ),
)


def test_training_curves_draw_the_published_runs_dashed_skipping_missing_figures():
    loss, accuracy, lr = plots.training_curves({"m": HISTORY, "n": HISTORY}, published={"m": PUBLISHED, "other": PUBLISHED})
    shown = {t.name: t for t in accuracy.data if "as published" in t.name}
    assert list(shown) == ["m as published train", "m as published test"]  # only the shown models' runs
    test, train = shown["m as published test"], shown["m as published train"]
    assert (list(test.x), list(test.y)) == ([1, 2], [97.0, 98.5])  # epoch 3 prints no test accuracy
    assert (list(train.x), list(train.y)) == ([2, 3], [96.0, 90.0])
    assert test.line.dash == "dash" and train.line.dash == "dashdot" and test.marker.symbol == "circle-open"
    assert test.line.color == plots.curve_colours(["m", "n"])["m"]
    published_loss = [t for t in loss.data if "as published" in t.name]
    assert [(t.name, list(t.x)) for t in published_loss] == [("m as published test", [2, 3])]  # 0.0 skipped on the log scale
    assert not [t for t in lr.data if "as published" in t.name]  # no learning rate published
    assert accuracy.layout.yaxis.range[0] == 89.5  # the published train accuracy is in range
    off = plots.training_curves({"m": HISTORY, "n": HISTORY})
    assert not [t for fig in off for t in fig.data if "as published" in t.name]


def test_confusion_heatmap_hides_the_diagonal():
    matrix = (np.eye(10) * 100 + 1).astype(int).tolist()
    z = np.asarray(plots.confusion_heatmap(matrix).data[0].z, dtype=float)
    assert np.isnan(np.diag(z)).all() and np.nansum(z) == 90


def test_feature_maps_become_pictures_each_in_its_own_range():
    maps = np.random.rand(6, 8, 8) * np.arange(1, 7)[:, None, None]  # channels of different ranges
    pictures = plots.feature_map_images(maps, size=32, margin=2)
    assert len(pictures) == 6 and pictures[5].shape == (2 + 32 + 2, 2 + 32 + 2, 4) and pictures[5].dtype == np.uint8
    assert (pictures[5][:2, :, 3] == 0).all() and (pictures[5][2:-2, 2:-2, 3] == 255).all()  # a see-through margin
    for channel, picture in zip(maps, pictures, strict=True):
        low, high = np.unravel_index(channel.argmin(), channel.shape), np.unravel_index(channel.argmax(), channel.shape)
        at_low, at_high = picture[2 + 4 * low[0], 2 + 4 * low[1], :3], picture[2 + 4 * high[0], 2 + 4 * high[1], :3]
        assert (at_low == plots.VIRIDIS[0]).all() and (at_high == plots.VIRIDIS[-1]).all()
    assert tuple(plots.VIRIDIS[0]) == (68, 1, 84) and tuple(plots.VIRIDIS[-1]) == (253, 231, 37)  # Viridis' ends


def test_digit_strips_stack_each_digits_rows_with_clear_gaps():
    examples = np.random.rand(3, 10, 28, 28)
    strips = plots.digit_strips(examples, scale=2)
    assert len(strips) == 10 and strips[4].shape == (2 * (3 * 28 + 2 * 2), 2 * (1 + 28 + 1), 4) and strips[4].dtype == np.uint8
    second_row = strips[4][2 * 30 : 2 * 58 : 2, 2:-2:2]  # below one row and its gap, inside the side gaps, every other pixel
    np.testing.assert_allclose(second_row[..., 0], 255 * examples[1, 4], atol=1)
    assert (second_row[..., 3] == 255).all()
    assert (strips[4][2 * 28 : 2 * 30, :, 3] == 0).all() and (strips[4][:, :2, 3] == 0).all()  # the gaps are see-through


def zoo_rows() -> list[dict]:
    """Two architectures trained on MNIST, the first with its +pen twin; b's real handwriting not measured."""
    return [
        {"name": "a", "architecture": "a", "pen": False, "params": 5000, "accuracy": 99.1, "pen accuracy": 95.0},
        {"name": "b", "architecture": "b", "pen": False, "params": 9000, "accuracy": 99.4, "pen accuracy": None},
        {"name": "a+pen", "architecture": "a", "pen": True, "params": 5000, "accuracy": 99.2, "pen accuracy": 98.5},
    ]


def test_zoo_scatter_joins_each_model_to_its_pen_twin():
    fig = plots.zoo_scatter(zoo_rows(), "pen accuracy", "reads real handwriting (%)")
    lines, mnist, pen = fig.data
    assert (mnist.name, list(mnist.text), list(mnist.y)) == ("trained on MNIST", ["a"], [95.0])  # b: not measured, no point
    assert (pen.name, list(pen.text), list(pen.y)) == ("MNIST + pen writers", ["a+pen"], [98.5])
    assert mnist.marker.color == plots.MNIST_ONLY and pen.marker.color == plots.ACCENT
    assert list(lines.y) == [95.0, 98.5, None] and list(lines.x) == [5000, 5000, None]  # the twin at the same size, joined
    # one label per architecture, at its MNIST model, below it: the twin's line goes up
    assert [(a.text, a.y) for a in fig.layout.annotations] == [("a", 95.0)] and fig.layout.annotations[0].ay > 0
    assert fig.layout.yaxis.title.text == "reads real handwriting (%)"

    fig = plots.zoo_scatter(zoo_rows())  # MNIST test: every model has it
    assert [t.name for t in fig.data][1:] == ["trained on MNIST", "MNIST + pen writers"]
    labels = fig.layout.annotations  # on a log axis, annotations sit at log10(x)
    assert [(a.text, a.x, a.y) for a in labels] == [("a", np.log10(5000), 99.1), ("b", np.log10(9000), 99.4)]
    assert labels[0].ay > 0  # below: a+pen (99.2) is higher
    lower_twin = plots.zoo_scatter([{**r, "accuracy": 98.9} if r["name"] == "a+pen" else r for r in zoo_rows()])
    assert lower_twin.layout.annotations[0].ay < 0  # above, away from a twin below
    axis = fig.layout.xaxis  # 5,000 and 9,000 params with a margin: 4.2k to 10.8k, ticks labelled plainly
    assert list(axis.tickvals) == [5000, 7000, 10000] and list(axis.ticktext) == ["5k", "7k", "10k"]
    twin_alone = plots.zoo_scatter([r for r in zoo_rows() if r["name"] != "a"])
    assert [a.text for a in twin_alone.layout.annotations] == ["b", "a"]  # a twin without its MNIST model carries the label
    only_mnist = plots.zoo_scatter([r for r in zoo_rows() if not r["pen"]])
    assert [t.name for t in only_mnist.data] == ["trained on MNIST"]
    assert plots.zoo_scatter([r for r in zoo_rows() if r["name"] == "b"], "pen accuracy").data == ()  # nothing measured


def label_boxes(points, names, offsets):
    half_height = plots.LABEL_HEIGHT / 2
    return [
        (x + dx - len(n) * plots.CHAR_WIDTH / 2, x + dx + len(n) * plots.CHAR_WIDTH / 2, y + dy - half_height, y + dy + half_height)
        for (x, y), n, (dx, dy) in zip(points, names, offsets, strict=True)
    ]


def overlaps(a, b) -> bool:
    return min(a[1], b[1]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[2], b[2])


def test_labels_of_a_crowded_cluster_do_not_overlap():
    # six models between 5k and 11k params within 0.1 points of each other, as in the shipped zoo
    names = [
        "ours_separable_gdc_5.0k",
        "depthwise_6.5k",
        "gap_bn_dropout_7.5k",
        "padded_gap_7.9k",
        "three_blocks_9.6k",
        "christmas_tree_11.0k",
    ]
    points = [(200, 100), (235, 108), (256, 116), (262, 88), (290, 100), (310, 102)]
    offsets = plots.label_offsets(points, names, markers=points)
    boxes = label_boxes(points, names, offsets)
    assert not any(overlaps(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    r = plots.MARKER_RADIUS
    assert not any(overlaps(box, (x - r, x + r, y - r, y + r)) for box in boxes for x, y in points)


def test_a_label_goes_where_there_is_room():
    assert plots.label_offsets([(250, 200)], ["m"])[0][1] < 0  # above by default
    assert plots.label_offsets([(250, 200)], ["m"], below=[True])[0][1] > 0  # below first where asked
    assert plots.label_offsets([(250, 200)], ["m"], markers=[(250, 215)], below=[True])[0][1] < 0  # but not onto a marker
    assert plots.label_offsets([(250, 200)], ["m"], markers=[(250, 185)])[0][1] > 0  # a marker above: below
    dx, _ = plots.label_offsets([(5, 200)], ["a_long_model_name"])[0]
    assert dx > 0  # at the left edge, centred text would leave the plot: it goes to the right


def test_zoo_dots_gives_each_architecture_a_row_smallest_first():
    rows = [{**r, "params": 14000 - r["params"]} for r in zoo_rows()]  # b is now the smaller
    lines, mnist, pen = plots.zoo_dots(rows, "accuracy").data
    assert list(mnist.y) == ["a", "b"] and list(mnist.x) == [99.1, 99.4] and list(pen.y) == ["a"] and list(pen.x) == [99.2]
    assert list(lines.x) == [99.1, 99.2, None] and list(lines.y) == ["a", "a", None]
    fig = plots.zoo_dots(rows, "accuracy", "MNIST test")
    assert [a.text for a in fig.layout.annotations] == ["b", "a"]  # each name on a line of its own, smallest first
    assert list(fig.layout.yaxis.categoryarray) == ["b", "a"]
    assert fig.layout.title.text.startswith("MNIST test") and "+pen" in fig.layout.title.text
    fig = plots.zoo_dots(rows, "pen accuracy", "real handwriting")
    assert [a.text for a in fig.layout.annotations] == ["a"]  # b's real handwriting is not measured: no row
    assert "+pen" not in plots.zoo_dots(rows[:2]).layout.title.text

import numpy as np

from mnist_small import plots
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


def test_zoo_scatter_with_drawn_series():
    rows = [{"name": "a", "params": 5000, "accuracy": 99.1, "drawn": 97.0}, {"name": "b", "params": 9000, "accuracy": 99.4, "drawn": 98.0}]
    assert [t.name for t in plots.zoo_scatter(rows).data] == ["MNIST test"]
    fig = plots.zoo_scatter(rows, extra="drawn")
    lines, drawn, mnist = fig.data
    assert list(drawn.y) == [97.0, 98.0] and list(mnist.y) == [99.1, 99.4]
    assert list(lines.y) == [99.1, 97.0, None, 99.4, 98.0, None]  # each model's two points joined
    labels = fig.layout.annotations  # on a log axis, annotations sit at log10(x)
    assert [(a.text, a.x, a.y) for a in labels] == [("a", np.log10(5000), 99.1), ("b", np.log10(9000), 99.4)]
    axis = fig.layout.xaxis  # 5,000 and 9,000 params with a margin: 4.2k to 10.8k, ticks labelled plainly
    assert list(axis.tickvals) == [5000, 7000, 10000] and list(axis.ticktext) == ["5k", "7k", "10k"]


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
    assert plots.label_offsets([(250, 200)], ["m"], markers=[(250, 185)])[0][1] > 0  # a marker above: below
    dx, _ = plots.label_offsets([(5, 200)], ["a_long_model_name"])[0]
    assert dx > 0  # at the left edge, centred text would leave the plot: it goes to the right


def test_zoo_dots_gives_each_model_a_row_smallest_first():
    rows = [
        {"name": "big", "params": 9000, "accuracy": 99.4, "drawn": 98.0},
        {"name": "small", "params": 5000, "accuracy": 99.1, "drawn": 97.0},
    ]
    lines, drawn, mnist = plots.zoo_dots(rows, extra="drawn").data
    assert list(mnist.y) == ["small", "big"] and list(mnist.x) == [99.1, 99.4] and list(drawn.x) == [97.0, 98.0]
    assert list(lines.x) == [99.1, 97.0, None, 99.4, 98.0, None]
    fig = plots.zoo_dots(rows)
    assert [a.text for a in fig.layout.annotations] == ["small", "big"]  # each name on a line of its own
    assert "drawn" not in fig.layout.title.text and [t.name for t in fig.data] == ["MNIST test"]

from mnist_small.summary import mistake_pairs


def test_mistake_pairs_count_each_confusion_most_frequent_first():
    wrong = [{"index": i, "label": t, "predicted": p} for i, (t, p) in enumerate([(4, 9), (6, 0), (4, 9), (7, 1), (6, 0), (4, 9)])]
    assert mistake_pairs(wrong) == [(4, 9, 3), (6, 0, 2), (7, 1, 1)]
    assert mistake_pairs([]) == []

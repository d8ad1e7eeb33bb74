from mnist_small.summary import hardest_digits, mistake_pairs, readable_recipe


def test_mistake_pairs_count_each_confusion_most_frequent_first():
    wrong = [{"index": i, "label": t, "predicted": p} for i, (t, p) in enumerate([(4, 9), (6, 0), (4, 9), (7, 1), (6, 0), (4, 9)])]
    assert mistake_pairs(wrong) == [(4, 9, 3), (6, 0, 2), (7, 1, 1)]
    assert mistake_pairs([]) == []


def test_hardest_digits_rank_test_digits_by_how_many_models_get_them_wrong():
    def wrong(*triples):
        return [{"index": i, "label": t, "predicted": p} for i, t, p in triples]

    hard = hardest_digits(
        {
            "a": wrong((7, 4, 9), (3, 5, 3), (12, 1, 7)),
            "b": wrong((3, 5, 6), (7, 4, 9)),
            "c": wrong((3, 5, 3), (7, 4, 1)),
            "d": wrong((12, 1, 2)),
            "e": [],
        }
    )
    assert [(h.index, h.label, len(h.answers)) for h in hard] == [(3, 5, 3), (7, 4, 3), (12, 1, 2)]
    assert hard[0].answers == {"a": 3, "b": 6, "c": 3}
    assert [h.common_answer for h in hard] == [3, 9, 2]  # a tie goes to the smaller digit
    assert hardest_digits({"a": [], "b": []}) == []


def test_the_model_card_recipe_shows_what_the_optimizer_ran():
    stored = {"epochs": 1, "batch_size": 8, "max_lr": 0.1, "momentum": 0.9, "nesterov": True}  # as stored before the cycle
    sgd = readable_recipe({**stored, "optimizer": "sgd"})
    assert sgd["momentum"] == [0.95, 0.85] and sgd["nesterov"]  # the cycle OneCycle ran, not the unused 0.9
    assert "momentum" not in readable_recipe({**stored, "optimizer": "adagrad"})
    assert readable_recipe({"from": "another version"}) == {"from": "another version"}

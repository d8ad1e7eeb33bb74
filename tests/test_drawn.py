import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from mnist_small import settings
from mnist_small.handwriting import drawn
from mnist_small.preprocess import prepare


def test_renderer_is_deterministic_for_a_seed(mnist):
    digits = mnist.test_images[:6, 0]
    a = list(drawn.canvases(digits, seed=1))
    b = list(drawn.canvases(digits, seed=1))
    c = list(drawn.canvases(digits, seed=2))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    assert a[0].shape == (280, 280, 4) and a[0].dtype == np.uint8


def test_drawings_vary_in_size_place_and_brush(mnist):
    canvases = list(drawn.canvases(mnist.test_images[:40, 0], seed=0))
    boxes = []
    for c in canvases:
        rows, cols = np.nonzero(c[..., 3])
        boxes.append((rows.min(), cols.min(), np.ptp(rows), np.ptp(cols)))
    tops, lefts, heights, _ = np.array(boxes).T
    assert heights.min() < 110 and heights.max() > 180
    assert tops.std() > 20 and lefts.std() > 20


def test_drawings_survive_preprocessing_back_to_a_centred_digit(mnist):
    digits = mnist.test_images[:30, 0]
    inputs = drawn.drawn_inputs(digits, seed=0)
    assert inputs.shape == (30, 1, 28, 28)
    for drawn_digit, original in zip(inputs[:, 0].numpy(), digits.numpy(), strict=True):
        ink = drawn_digit
        com = np.array([(ink.sum(1) * np.arange(28)).sum(), (ink.sum(0) * np.arange(28)).sum()]) / ink.sum()
        assert np.all(np.abs(com - 14) <= 1.0)
        # the same digit: closer to its own original than to most other digits
        own = np.corrcoef(ink.ravel(), original.ravel())[0, 1]
        others = [np.corrcoef(ink.ravel(), o.ravel())[0, 1] for o in digits.numpy()]
        assert own >= np.percentile(others, 80)
    assert prepare(next(drawn.canvases(digits[:1]))).has_digit


def test_brush_thickens_and_thins():
    mask = torch.zeros(1, 1, 30, 30)
    mask[..., 10:20, 14:16] = 1
    assert drawn.brush(mask, 2).sum() > mask.sum() > drawn.brush(mask, -1).sum()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty drawn-MNIST cache folder, and a count of the renderings done."""
    monkeypatch.setenv(settings.CACHE_ENV, str(tmp_path / "cache"))
    rendered = []
    render = drawn.drawn_inputs

    def counted(digits, seed=0):
        rendered.append(len(digits))
        return render(digits, seed)

    monkeypatch.setattr(drawn, "drawn_inputs", counted)
    return tmp_path / "cache", rendered


def test_drawn_inputs_are_rendered_once_then_read_from_the_cache(mnist, cache):
    folder, rendered = cache
    digits = mnist.test_images[:12, 0]
    first = drawn.cached_drawn_inputs(digits)
    again = drawn.cached_drawn_inputs(digits)
    assert rendered == [12] and torch.equal(first, again)
    assert torch.equal(first, drawn.drawn_inputs(digits)), "the cache holds exactly what the renderer makes"
    assert [p.name for p in folder.glob("*.npy")] == [drawn.cache_path(digits).name]
    assert not list(folder.glob(".*.tmp")), "no temporary file is left behind"
    drawn.cached_drawn_inputs(digits, seed=1)
    drawn.cached_drawn_inputs(mnist.test_images[12:24, 0])
    assert rendered == [12, 12, 12, 12] and len(list(folder.glob("*.npy"))) == 3  # another seed, other digits: other files


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong shape", "empty"])
def test_a_damaged_cache_file_is_rendered_again(mnist, cache, damage):
    _, rendered = cache
    digits = mnist.test_images[:6, 0]
    good = drawn.cached_drawn_inputs(digits)
    path = drawn.cache_path(digits)
    damaged = {
        "garbage": b"not an npy file" * 100,
        "truncated": path.read_bytes()[: path.stat().st_size // 2],
        "wrong shape": None,
        "empty": b"",
    }[damage]
    if damaged is None:
        np.save(path, np.zeros((5, 1, 28, 28), np.float32))
    else:
        path.write_bytes(damaged)
    assert torch.equal(drawn.cached_drawn_inputs(digits), good)
    assert rendered == [6, 6]
    assert torch.equal(drawn.cached_drawn_inputs(digits), good) and rendered == [6, 6], "and the repaired file is used"


@pytest.mark.skipif(sys.platform == "win32", reason="the lock uses fcntl")
def test_workers_needing_the_same_drawings_at_once_render_them_once(mnist, cache, monkeypatch):
    _, rendered = cache
    counted = drawn.drawn_inputs

    def slow(digits, seed=0):
        time.sleep(0.5)  # long enough for the other thread to arrive and wait
        return counted(digits, seed)

    monkeypatch.setattr(drawn, "drawn_inputs", slow)
    digits = mnist.test_images[:6, 0]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: drawn.cached_drawn_inputs(digits), range(2)))
    assert rendered == [6] and torch.equal(results[0], results[1])


def test_an_unwritable_cache_only_costs_the_rendering(mnist, tmp_path, monkeypatch):
    (tmp_path / "a file").write_text("")
    monkeypatch.setenv(settings.CACHE_ENV, str(tmp_path / "a file" / "cache"))  # cannot become a folder
    digits = mnist.test_images[:4, 0]
    with pytest.warns(UserWarning, match="could not be cached"):
        images = drawn.cached_drawn_inputs(digits)
    assert torch.equal(images, drawn.drawn_inputs(digits))


def test_the_cache_key_follows_the_rendering_code(tmp_path, monkeypatch):
    names = {p.name for p in drawn.rendering_sources()}
    assert {"drawn.py", "data.py"} <= names and len(names) >= 3, "the preprocessing's source is part of the key"
    source = tmp_path / "drawn.py"
    monkeypatch.setattr(drawn, "rendering_sources", lambda: [source])
    keys = []
    for text in ("SLANT = 18.0", "SLANT = 18.0", "SLANT = 20.0"):
        source.write_text(text)
        keys.append(drawn.code_key.__wrapped__())
    assert keys[0] == keys[1] != keys[2]

import gzip

import numpy as np
import pytest
import torch

from mnist_small.data import FILES, MEAN, STD, Augment, DataError, augmentation_examples, load_mnist, normalize, read_idx


def idx_bytes(array: np.ndarray) -> bytes:
    magic = 2051 if array.ndim == 3 else 2049
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(root, n_train=12, n_test=5, gz=True):
    rng = np.random.default_rng(0)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28)),
        "train_labels": rng.integers(0, 10, n_train),
        "test_images": rng.integers(0, 256, (n_test, 28, 28)),
        "test_labels": rng.integers(0, 10, n_test),
    }
    for key, array in arrays.items():
        data = idx_bytes(array)
        if gz:
            (raw / f"{FILES[key]}.gz").write_bytes(gzip.compress(data))
        else:
            (raw / FILES[key]).write_bytes(data)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_reads_small_idx_files(tmp_path, gz):
    arrays = write_mnist(tmp_path, gz=gz)
    data = load_mnist(tmp_path, allow_download=False)
    assert data.train_images.shape == (12, 1, 28, 28) and data.train_images.dtype == torch.uint8
    assert data.test_labels.shape == (5,)
    np.testing.assert_array_equal(data.train_images[:, 0].numpy(), arrays["train_images"])
    np.testing.assert_array_equal(data.test_labels.numpy(), arrays["test_labels"])
    assert len(data.checksum()) == 64


def test_checksum_ignores_compression(tmp_path):
    write_mnist(tmp_path / "a", gz=True)
    write_mnist(tmp_path / "b", gz=False)
    assert load_mnist(tmp_path / "a", allow_download=False).checksum() == load_mnist(tmp_path / "b", allow_download=False).checksum()


def test_missing_data_says_where_it_looked(tmp_path):
    with pytest.raises(DataError, match="MNIST/raw"):
        load_mnist(tmp_path, allow_download=False)


def test_failed_download_gives_clear_message(tmp_path, monkeypatch):
    def offline(_):
        raise OSError("network unreachable")

    monkeypatch.setattr("mnist_small.data.download", offline)
    with pytest.raises(DataError, match=r"downloading it failed .*network unreachable.*--data-dir"):
        load_mnist(tmp_path)


def test_bad_magic_and_truncated_file(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x00\x00\x09\x99" + b"\x00" * 20)
    with pytest.raises(DataError, match="magic"):
        read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(idx_bytes(np.zeros((3, 28, 28)))[:-10])
    with pytest.raises(DataError, match="header promises"):
        read_idx(short)


def test_real_mnist_sanity(mnist):
    assert mnist.train_images.shape == (60000, 1, 28, 28) and mnist.test_images.shape == (10000, 1, 28, 28)
    assert mnist.train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert mnist.test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert abs(mnist.train_images.float().mean().item() / 255 - MEAN) < 1e-3


def test_augmentation_keeps_shapes_and_is_seeded(mnist):
    images = normalize(mnist.train_images[:64])
    augment = Augment(rotation=15, translate=2, scale=(0.9, 1.1), shear=10)
    a = augment(images, torch.Generator().manual_seed(1))
    b = augment(images, torch.Generator().manual_seed(1))
    c = augment(images, torch.Generator().manual_seed(2))
    assert a.shape == images.shape
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.allclose(a, images)
    # the background stays black, the ink stays where the digit is: a mild jitter
    # keeps every digit close to its original (it is still the same labelled digit)
    assert a.min() >= -MEAN / STD - 1e-4
    corr = torch.nn.functional.cosine_similarity((a + MEAN / STD).flatten(1), (images + MEAN / STD).flatten(1))
    assert corr.median() > 0.5


def test_augmentation_examples_show_one_digit_each_then_its_seeded_jitter(mnist):
    augment = Augment(rotation=15, translate=2)
    examples = augmentation_examples(mnist, augment, draws=2, seed=3)
    assert examples.shape == (3, 10, 28, 28) and examples.min() >= 0 and examples.max() <= 1
    for digit in range(10):  # the top row: the first training image of each digit, untouched
        first = int(torch.nonzero(mnist.train_labels == digit)[0])
        np.testing.assert_allclose(examples[0, digit], mnist.train_images[first, 0].numpy() / 255, atol=1e-5)
    assert not np.allclose(examples[1], examples[0], atol=0.05) and not np.allclose(examples[2], examples[1], atol=0.05)
    np.testing.assert_array_equal(examples, augmentation_examples(mnist, augment, draws=2, seed=3))
    assert not np.array_equal(examples, augmentation_examples(mnist, augment, draws=2, seed=4))
    np.testing.assert_allclose(augmentation_examples(mnist, Augment(), draws=1)[1], examples[0], atol=1e-5)


def test_augment_describes_itself():
    assert Augment(rotation=15, translate=2).describe() == "rotation ±15°, shift ±2 px"
    assert Augment(scale=(0.9, 1.1), stroke=0.4).describe() == "scale 0.9-1.1, brush width ±40%"
    assert Augment().describe() == "no augmentation"


def test_no_augmentation_is_identity():
    images = torch.randn(4, 1, 28, 28)
    assert Augment()(images, torch.Generator()) is images
    identity = Augment(scale=(1.0, 1.0), rotation=1e-9)
    assert torch.allclose(identity(images, torch.Generator().manual_seed(0)), images, atol=1e-4)


EVERYTHING = Augment(rotation=15, translate=2, scale=(0.9, 1.1), shear=10, stroke=0.4, aspect=0.15, elastic=1.5)


def test_augmentation_gives_the_recorded_jitter_for_a_seed(mnist):
    """Pins the order of the random draws and the arithmetic, so a checkpoint's training history
    can be replayed: figures recorded when augmentation still ran on the CPU only (the tolerance
    covers CPUs rounding differently, not another draw)."""
    generator = torch.Generator().manual_seed(0)
    ink = EVERYTHING(normalize(mnist.train_images[:6]), generator) + MEAN / STD
    assert ink.sum(dim=(1, 2, 3)).tolist() == pytest.approx([322.385, 470.67, 185.261, 174.165, 226.799, 446.009], abs=0.01)
    assert ink[:, 0, 14, :].sum(1).tolist() == pytest.approx([13.437, 21.624, 30.656, 8.042, 16.928, 12.283], abs=0.01)
    assert torch.rand(1, generator=generator).item() == pytest.approx(0.8058562278747559), "as many draws as before"


def test_augmentation_runs_on_the_batchs_device():
    """On the meta device (shapes only, no numbers) any step left on the CPU fails: mixing a CPU
    tensor with a meta one is an error, as with a GPU batch."""
    images = torch.zeros(8, 1, 28, 28, device="meta")
    for augment in (EVERYTHING, Augment(rotation=7, translate=2)):
        out = augment(images, torch.Generator().manual_seed(0))
        assert out.device.type == "meta" and out.shape == images.shape


ACCELERATORS = [
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")),
    pytest.param("mps", marks=pytest.mark.skipif(not torch.backends.mps.is_available(), reason="no MPS device")),
]


@pytest.mark.parametrize("device", ACCELERATORS)
def test_augmentation_on_an_accelerator_matches_the_cpu(mnist, device):
    images = normalize(mnist.train_images[:64])
    on_cpu, on_device = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    expected = EVERYTHING(images, on_cpu)
    out = EVERYTHING(images.to(device), on_device)
    assert out.device.type == device
    torch.testing.assert_close(out.cpu(), expected, atol=1e-4, rtol=1e-4)
    assert torch.equal(on_cpu.get_state(), on_device.get_state()), "the same random numbers were drawn"

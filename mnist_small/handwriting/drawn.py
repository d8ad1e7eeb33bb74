"""'Drawn MNIST': the MNIST test digits re-rendered the way a drawing on the app's canvas looks.

People draw with a round brush of any width, at any size and place, often slanted. Each
test digit is slanted and rotated a little, its strokes made thinner or thicker like a
brush of another width, given crisp anti-aliased edges, scaled to a random size and put
at a random place on a 280x280 RGBA canvas (white strokes, transparent background, as
streamlit-drawable-canvas returns them). The canvases then go through the app's own
preprocessing, so a model's accuracy on them measures what a class would see.

Rendering the 10,000 test digits takes minutes (the app's preprocessing, one canvas at a
time), so ``cached_drawn_inputs`` renders them once per data set and keeps the result on
disk (see ``cache_dir``), keyed by the digits, the seed and the rendering code itself.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..checkpoints import atomic_write
from ..preprocess import ink_box, prepare
from ..settings import cache_dir

CANVAS = 280
WORK = 112  # digits are reshaped at 4x MNIST resolution, where brush widths are whole pixels
SLANT, ROTATION = 18.0, 8.0  # degrees either way
STROKE_RADII = (-2, -1, 0, 1, 2, 3, 4)  # pixels at WORK scale: MNIST strokes are ~10 px there
SIZE = (60, 250)  # the drawing's longer side on the canvas, pixels
EDGE_TOUCH = 0.1  # share of drawings pushed against a canvas edge
BATCH = 500


def disk(radius: int) -> torch.Tensor:
    r = abs(radius)
    yy, xx = torch.meshgrid(torch.arange(-r, r + 1), torch.arange(-r, r + 1), indexing="ij")
    return ((yy**2 + xx**2) <= r * r + r).float()[None, None]


def brush(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Binary masks (n, 1, H, W) made ``radius`` px thicker (or thinner, if negative) with a round brush."""
    if radius == 0:
        return mask
    if radius > 0:
        return (F.conv2d(mask, disk(radius), padding=radius) > 0).float()
    return 1.0 - brush(1.0 - mask, -radius)


def strokes(digits: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """uint8 digits (n, 28, 28) -> soft-edged, slanted, re-brushed shapes (n, WORK, WORK) in [0, 1]."""
    n = len(digits)
    x = digits.float()[:, None] / 255
    slant = np.tan(np.deg2rad(rng.uniform(-SLANT, SLANT, n)))
    angle = np.deg2rad(rng.uniform(-ROTATION, ROTATION, n))
    cos, sin = np.cos(angle), np.sin(angle)
    theta = torch.tensor(
        np.stack([np.stack([cos, sin + slant * cos, 0 * cos], 1), np.stack([-sin, cos - slant * sin, 0 * cos], 1)], 1), dtype=torch.float32
    )
    grid = F.affine_grid(theta, [n, 1, WORK, WORK], align_corners=False)
    mask = (F.grid_sample(x, grid, mode="bilinear", align_corners=False) > 0.4).float()
    radii = rng.choice(STROKE_RADII, n)
    for radius in np.unique(radii):
        chosen = torch.from_numpy(radii == radius)
        mask[chosen] = brush(mask[chosen], int(radius))
    return F.avg_pool2d(mask, 3, stride=1, padding=1)[:, 0]  # anti-aliased edges


def place(shape: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Crop one shape to its ink, scale it to a random size and put it on an RGBA canvas."""
    canvas = np.zeros((CANVAS, CANVAS, 4), np.uint8)
    if not shape.any():  # the brush erased a very thin digit: an empty canvas, scored as a miss
        return canvas
    crop = torch.from_numpy(shape[ink_box(shape > 0)])
    longest = rng.uniform(*SIZE)
    h, w = crop.shape
    size = (max(1, round(h * longest / max(h, w))), max(1, round(w * longest / max(h, w))))
    big = F.interpolate(crop[None, None], size=size, mode="bilinear", antialias=True, align_corners=False)[0, 0].clamp(0, 1).numpy()
    top = int(rng.integers(0, CANVAS - size[0] + 1))
    left = int(rng.integers(0, CANVAS - size[1] + 1))
    if rng.random() < EDGE_TOUCH:
        top, left = rng.choice([(0, left), (CANVAS - size[0], left), (top, 0), (top, CANVAS - size[1])])
    alpha = (255 * big).astype(np.uint8)
    region = canvas[top : top + size[0], left : left + size[1]]
    region[..., 3] = alpha
    region[..., :3] = np.where(alpha > 0, 255, 0).astype(np.uint8)[..., None]
    return canvas


def canvases(digits: torch.Tensor, seed: int = 0) -> Iterator[np.ndarray]:
    """RGBA canvas drawings (280, 280, 4) of uint8 MNIST digits (n, 28, 28); the same for the same seed."""
    rng = np.random.default_rng(seed)
    for start in range(0, len(digits), BATCH):
        for shape in strokes(digits[start : start + BATCH], rng).numpy():
            yield place(shape, rng)


def drawn_inputs(digits: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """The drawn versions of ``digits`` after the app's preprocessing: (n, 1, 28, 28) in [0, 1].

    A canvas the preprocessing finds blank becomes an all-black image (a wrong answer,
    not a skipped one).
    """
    images = [prepare(c).image for c in canvases(digits, seed)]
    blank = np.zeros((28, 28), np.float32)
    return torch.from_numpy(np.stack([blank if im is None else im for im in images]))[:, None]


def rendering_sources() -> list[Path]:
    """The code whose output the cache holds: this module, the app's preprocessing (a module
    or a package) and data.py, which the preprocessing imports."""
    from .. import data, preprocess

    entry = Path(preprocess.__file__)
    return [Path(__file__), Path(data.__file__), *(sorted(entry.parent.rglob("*.py")) if entry.name == "__init__.py" else [entry])]


@functools.cache
def code_key() -> str:
    """A hash of the rendering code's source (and of torch's and numpy's versions) rather than a
    version number to bump by hand: a change anywhere in drawn.py or the preprocessing that
    someone forgot to bump for would otherwise score every model on stale drawings. An edit
    that changes nothing costs one needless re-render."""
    digest = hashlib.sha256(f"torch {torch.__version__} numpy {np.__version__}".encode())
    for path in rendering_sources():
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def cache_path(digits: torch.Tensor, seed: int = 0) -> Path:
    """The cache file of ``drawn_inputs(digits, seed)``: named by a checksum of the digits' pixels,
    the seed and ``code_key()``."""
    digest = hashlib.sha256(digits.cpu().numpy().tobytes())
    digest.update(f"{tuple(digits.shape)} seed {seed} code {code_key()}".encode())
    return cache_dir() / f"drawn-{digest.hexdigest()[:24]}.npy"


def read_cache(path: Path, n: int) -> torch.Tensor | None:
    """The cached images if ``path`` holds ``n`` of them, intact; None if missing or unreadable."""
    try:
        images = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):  # missing, truncated or not an .npy file at all
        return None
    if images.shape != (n, 1, 28, 28) or images.dtype.kind != "f" or not (np.all(images >= 0) and np.all(images <= 1)):
        return None
    return torch.from_numpy(images)


def write_cache(path: Path, images: torch.Tensor) -> None:
    """Write atomically: a reader (another worker) sees the whole file or none, never half of it."""

    def save(tmp: Path) -> None:
        with tmp.open("wb") as f:
            np.save(f, images.numpy())

    atomic_write(path, save)


@contextlib.contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``lock`` (POSIX), so that two workers needing the same
    rendering at once render it once: the second waits, then reads the first one's file.
    Without ``fcntl`` (Windows) or a writable folder, no lock: both render, the last rename wins."""
    try:
        import fcntl

        lock.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock, "a")  # noqa: SIM115 (closed below, when the lock is released)
    except (ImportError, OSError):
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        yield


def cached_images(
    path: Path, n: int, draw: Callable[[], torch.Tensor], what: str, log: Callable[[str], None] | None = None
) -> torch.Tensor:
    """``draw()``'s ``n`` images, (n, 1, 28, 28) in [0, 1], drawn once and then read back from the
    cache file ``path`` in a fraction of a second. A missing or corrupt file is drawn (again),
    and a second worker waits for the first one's file instead of drawing too; a cache folder
    that cannot be written to only costs the drawing, with a warning."""
    images = read_cache(path, n)
    if images is not None:
        return images
    with exclusive(path.with_suffix(".lock")):
        images = read_cache(path, n)  # drawn by another worker while this one waited
        if images is None:
            if log is not None:
                log(f"drawing {what} (once, then cached in {path.parent})")
            images = draw()
            try:
                write_cache(path, images)
            except OSError as err:
                warnings.warn(f"{what} could not be cached in {path.parent} ({err}); it will be drawn again", stacklevel=2)
    return images


def cached_drawn_inputs(digits: torch.Tensor, seed: int = 0, log: Callable[[str], None] | None = None) -> torch.Tensor:
    """``drawn_inputs(digits, seed)`` through the disk cache (``cached_images``); a change to the
    rendering code draws them again (``code_key``)."""
    what = f"drawn MNIST ({len(digits):,} digits)"
    return cached_images(cache_path(digits, seed), len(digits), lambda: drawn_inputs(digits, seed), what, log)

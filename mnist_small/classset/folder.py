"""The class set as a folder anyone can read, or train on: ``labels.csv``, ``drawings/<id>.png``
and ``inputs.npz``.

An import trusts nothing in the folder: every path must stay inside it and be no link, every
file is size-checked before it is read, every PNG is decoded and checked, every row is checked
as the store checks a student's drawing, and the errors name their lines; a folder with any bad
row imports nothing. An export neutralises cells a spreadsheet would run as formulas.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import warnings
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .rows import checked_row
from .store import ClassSet

LABELS = "labels.csv"
INPUTS = "inputs.npz"
COLUMNS = ("file", "label", "student", "created", "flag", "answers")
MAX_ROWS = 100_000  # drawings in one folder: a school year of classes
MAX_LABELS_BYTES = 64 << 20  # labels.csv: ~300 bytes a row
MAX_PNG_BYTES = 4 << 20  # one drawing: a canvas PNG is a few KB
MAX_PNG_SIDE = 4096  # pixels: a canvas at a phone's pixel ratio is ~1,000
MAX_ERRORS_SHOWN = 10
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what spreadsheets run as a formula (OWASP CSV injection)


def export_set(store: ClassSet, out_dir: Path | str) -> int:
    """Write ``labels.csv`` (one row per drawing), ``drawings/<id>.png`` and ``inputs.npz``
    (``images``: N x 28 x 28 uint8 model inputs, ``labels``, ``ids``) to ``out_dir``; returns N."""
    out = Path(out_dir)
    (out / "drawings").mkdir(parents=True, exist_ok=True)
    kept = store.all()
    by_id = {d.id: d for d in kept}
    for drawing_id, png in store.pngs():
        if drawing_id in by_id:
            (out / "drawings" / f"{drawing_id}.png").write_bytes(png)
    with open(out / LABELS, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for d in kept:
            cells = [f"drawings/{d.id}.png", d.label, d.student, f"{d.created:.3f}", d.flag or "", json.dumps(d.answers)]
            writer.writerow([safe_cell(str(cell)) for cell in cells])
    images = np.stack([np.round(d.image * 255).astype(np.uint8) for d in kept]) if kept else np.zeros((0, 28, 28), np.uint8)
    np.savez_compressed(
        out / INPUTS, images=images, labels=np.array([d.label for d in kept], np.int64), ids=np.array([d.id for d in kept], np.int64)
    )
    return len(kept)


def safe_cell(value: str) -> str:
    """A cell a spreadsheet shows as text: one that would start a formula gets a leading quote."""
    return "'" + value if value.startswith(FORMULA_START) else value


def read_export(in_dir: Path | str) -> list[dict]:
    """The drawings of an exported (or hand-made: columns file and label suffice) folder, each
    checked; a ValueError names every bad line (the first few) and nothing is returned then."""
    folder = Path(in_dir)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such folder (make one with: python -m mnist_small class export {folder})")
    root = folder.resolve()
    if not (folder / LABELS).exists():
        raise ValueError(f"{folder}: no {LABELS} in it (make one with: python -m mnist_small class export {folder})")
    text = _utf8(read_inside(root, LABELS, MAX_LABELS_BYTES), LABELS)
    inputs = _stored_inputs(root)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not {"file", "label"} <= set(reader.fieldnames or ()):
        raise ValueError(f"{folder / LABELS}: needs a header row with at least the columns file and label")
    rows, errors = [], []
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            errors.append(f"line {reader.line_num}: {err}")
            break
        if len(rows) + len(errors) >= MAX_ROWS:
            errors.append(f"line {reader.line_num}: more than {MAX_ROWS} drawings in one folder")
            break
        try:
            rows.append(_row(root, record, inputs))
        except ValueError as err:
            errors.append(f"line {reader.line_num}: {err}")
    if errors:
        shown = "; ".join(errors[:MAX_ERRORS_SHOWN]) + ("; …" if len(errors) > MAX_ERRORS_SHOWN else "")
        raise ValueError(f"{folder / LABELS}: {len(errors)} bad {'row' if len(errors) == 1 else 'rows'}, so nothing was imported: {shown}")
    return rows


def read_inside(root: Path, name: str, limit: int) -> bytes:
    """The bytes of ``root/name``: a relative path that stays inside ``root``, through no link,
    a regular file of at most ``limit`` bytes, checked before it is read."""
    relative = Path(name)
    if not name or relative.is_absolute() or ".." in relative.parts:
        raise ValueError(f"{name!r} is not a path inside the folder")
    path = root
    for part in relative.parts:  # a link anywhere on the way could lead out of the folder
        path = path / part
        if path.is_symlink():
            raise ValueError(f"{name} is a symbolic link; only plain files inside the folder are read")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise ValueError(f"{name}: no such file in the folder") from None
    except OSError as err:
        raise ValueError(f"{name} cannot be read: {err.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{name} is not a plain file")
        if info.st_size > limit:
            raise ValueError(f"{name} is {info.st_size / 1e6:.1f} MB, more than the {limit / 1e6:.0f} MB a class set's file may be")
        return f.read(limit + 1)[:limit]


def _utf8(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ValueError(f"{name}, line {line}: not UTF-8 text (save it as UTF-8 CSV)") from None


def _stored_inputs(root: Path) -> dict[int, np.ndarray]:
    """The 28x28 inputs of ``inputs.npz`` by drawing id, if the folder has one; its size is
    checked from the archive's directory before anything is decompressed."""
    if not (root / INPUTS).exists() and not (root / INPUTS).is_symlink():
        return {}
    data = read_inside(root, INPUTS, MAX_ROWS * 28 * 28)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            if unpacked > 2 * MAX_ROWS * 28 * 28:
                raise ValueError(f"{INPUTS} unpacks to {unpacked / 1e6:.0f} MB, more than {MAX_ROWS} drawings need")
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            images, ids = stored["images"], stored["ids"]
    except (OSError, KeyError, zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"{INPUTS} is not an export's inputs file ({err}); delete it to prepare the inputs from the PNGs") from None
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28) or ids.shape != (len(images),):
        raise ValueError(f"{INPUTS}: expected N x 28 x 28 uint8 images and N ids, got {images.shape} {images.dtype} and {ids.shape}")
    return dict(zip(ids.tolist(), images, strict=True))


def _row(root: Path, record: dict, inputs: dict[int, np.ndarray]) -> dict:
    """One row of labels.csv as the store's row; a ValueError says what is wrong with it."""
    name = (record.get("file") or "").strip()
    png = read_inside(root, name, MAX_PNG_BYTES)
    image = _checked_png(png, name)
    stem = Path(name).stem
    stored = inputs.get(int(stem)) if stem.isdigit() else None
    created = record.get("created") or (root / name).stat().st_mtime  # a hand-made folder: when the file was made
    try:
        answers = json.loads(record.get("answers") or "{}")
    except json.JSONDecodeError as err:
        raise ValueError(f"answers is not valid JSON ({err.msg})") from None
    row = checked_row(record.get("label") or "", record.get("student") or "imported", record.get("flag") or None, answers, created)
    return row | {"image": stored.astype(np.float32) / 255 if stored is not None else _input_of(image, name), "png": png}


def _checked_png(png: bytes, name: str) -> Image.Image:
    """The drawing, decoded: it must be a PNG of a sensible size (it comes back out in exports)."""
    from ..preprocess import PictureError, read_picture

    try:
        with warnings.catch_warnings(), Image.open(io.BytesIO(png)) as header:
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked below
            kind, size = header.format, header.size
    except Image.DecompressionBombError:
        raise ValueError(f"{name} claims more pixels than any picture is allowed (a decompression bomb?)") from None
    except (UnidentifiedImageError, OSError):
        raise ValueError(f"{name} is not an image") from None
    if kind != "PNG":
        raise ValueError(f"{name} is a {kind} file, not a PNG")
    if max(size) > MAX_PNG_SIDE:
        raise ValueError(f"{name} is {size[0]} x {size[1]} pixels, more than a drawing's {MAX_PNG_SIDE} a side")
    try:
        return read_picture(png)  # the whole file decoded: a truncated or corrupt PNG is refused here
    except PictureError as err:
        raise ValueError(f"{name}: {err}") from None


def _input_of(picture: Image.Image, name: str) -> np.ndarray:
    """The model input of a drawing that came without one (a labels.csv made by hand)."""
    from ..preprocess import prepare

    prepared = prepare(picture)
    if prepared.image is None:
        raise ValueError(f"{name} holds no digit")
    return prepared.image


def import_folder(store: ClassSet, in_dir: Path | str) -> tuple[int, int]:
    """Read and check a folder, then add its drawings; returns (added, already in the set)."""
    rows = read_export(in_dir)
    added = store.import_rows(rows)
    return added, len(rows) - added

"""The class set's folder format: an export reads back the same, an import trusts nothing in the
folder (paths, links, pictures, cells), names every bad line, and adds a folder only once."""

from __future__ import annotations

import csv
import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_small.classset.folder import export_set, import_folder, read_export
from mnist_small.classset.store import ClassSet
from mnist_small.preprocess import drawing_png


def digit_image(seed: int) -> np.ndarray:
    image = np.zeros((28, 28), np.float32)
    image[6:22, 12 + seed % 4 : 15 + seed % 4] = 1.0
    return image


def canvas_png(seed: int) -> bytes:
    """A canvas-sized drawing of a 1 as the app stores it."""
    return drawing_png(np.kron(digit_image(seed), np.ones((10, 10), np.float32)))


@pytest.fixture
def store(db_url: str):
    s = ClassSet(db_url)
    yield s
    s.dispose()


def hand_made(folder: Path, rows: list[dict], pictures: dict[str, bytes] | None = None) -> Path:
    """A folder with a labels.csv of ``rows`` (file, label, and any other columns) and its PNGs."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in (pictures if pictures is not None else {r["file"]: canvas_png(i) for i, r in enumerate(rows)}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with open(folder / "labels.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    return folder


def test_export_then_import_into_another_set_and_twice_adds_nothing(store: ClassSet, tmp_path: Path) -> None:
    for i in range(4):
        store.add(canvas_png(i), digit_image(i), i, f"s{i}", {"m": i}, flag="dot" if i == 3 else None)
    assert export_set(store, tmp_path / "out") == 4
    header = (tmp_path / "out" / "labels.csv").read_text().splitlines()[0]
    assert header.startswith("file,label")
    with np.load(tmp_path / "out" / "inputs.npz") as saved:
        assert saved["images"].shape == (4, 28, 28) and saved["labels"].tolist() == [0, 1, 2, 3]
    other = ClassSet(f"sqlite:///{tmp_path / 'other.db'}")
    assert import_folder(other, tmp_path / "out") == (4, 0)
    copied = other.all()
    assert [(d.label, d.student, d.flag, d.answers) for d in copied] == [(d.label, d.student, d.flag, d.answers) for d in store.all()]
    assert other.png(copied[2].id) == canvas_png(2)
    assert import_folder(other, tmp_path / "out") == (0, 4)  # the same folder again: nothing new
    assert import_folder(store, tmp_path / "out") == (0, 4)  # and back into the set it came from
    assert other.version()[0] == 4 and store.version()[0] == 4
    other.dispose()


def test_a_hand_made_folder_imports_once(store: ClassSet, tmp_path: Path) -> None:
    folder = hand_made(tmp_path / "mine", [{"file": "a.png", "label": "1"}, {"file": "b.png", "label": "1"}])
    assert import_folder(store, folder) == (2, 0)
    assert import_folder(store, folder) == (0, 2)  # no created column: the files' times make them the same drawings
    assert {d.student for d in store.all()} == {"imported"}


def test_the_export_neutralises_formulas(store: ClassSet, tmp_path: Path) -> None:
    evil = '=HYPERLINK("http://x","y")'
    store.import_rows([{"created": 1.0, "student": evil, "label": 3, "image": digit_image(3), "png": canvas_png(3)}])
    store.import_rows([{"created": 2.0, "student": "+1-2", "label": 4, "image": digit_image(4), "png": canvas_png(4)}])
    export_set(store, tmp_path / "out")
    with open(tmp_path / "out" / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["student"] for r in rows] == ["'" + evil, "'+1-2"]
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r.values())


@pytest.mark.parametrize(
    "row, message",
    [
        ({"file": "a.png", "label": "7", "flag": "smudge"}, "unknown flag"),
        ({"file": "a.png", "label": "7", "created": "inf"}, "not a time"),
        ({"file": "a.png", "label": "7", "created": "9e99"}, "not a time"),
        ({"file": "a.png", "label": "12"}, "not a digit"),
        ({"file": "a.png", "label": "7", "answers": '{"m": "seven"}'}, "not a digit 0-9"),
        ({"file": "a.png", "label": "7", "answers": '{"m": 12}'}, "not a digit 0-9"),
        ({"file": "a.png", "label": "7", "answers": "{not json"}, "not valid JSON"),
        ({"file": "a.png", "label": "7", "answers": "[1, 2]"}, "mapping"),
        ({"file": "a.png", "label": "7", "student": "x" * 40}, "printable characters"),
        ({"file": "missing.png", "label": "7"}, "no such file"),
        ({"file": "../outside.png", "label": "7"}, "not a path inside the folder"),
        ({"file": "/etc/passwd", "label": "7"}, "not a path inside the folder"),
    ],
)
def test_a_bad_row_names_its_line_and_nothing_is_imported(store: ClassSet, tmp_path: Path, row: dict, message: str) -> None:
    (tmp_path / "outside.png").write_bytes(canvas_png(0))
    good = {"file": "ok.png", "label": "1"}
    folder = hand_made(tmp_path / "in", [good, {**good, **row}], {"ok.png": canvas_png(1), "a.png": canvas_png(2)})
    with pytest.raises(ValueError, match=rf"line 3: .*{message}"):
        read_export(folder)
    assert store.version() == (0, 0)


def test_links_out_of_the_folder_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "x.png").write_bytes(canvas_png(0))
    folder = hand_made(tmp_path / "in", [{"file": "link.png", "label": "1"}, {"file": "sub/x.png", "label": "1"}], {})
    os.symlink(secret / "x.png", folder / "link.png")
    os.symlink(secret, folder / "sub")
    with pytest.raises(ValueError, match=r"line 2: link\.png is a symbolic link.*line 3: sub/x\.png is a symbolic link"):
        read_export(folder)


def png_header(width: int, height: int) -> bytes:
    """A PNG that says it is ``width`` x ``height`` (greyscale) but holds one compressed row:
    a few hundred bytes that a decoder would blow up to width x height bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(width + 1))) + chunk(b"IEND", b"")


def test_pictures_are_decoded_and_checked(tmp_path: Path) -> None:
    jpeg = io.BytesIO()
    Image.new("L", (280, 280)).save(jpeg, format="JPEG")
    whole = canvas_png(0)
    pictures = {
        "huge.png": png_header(13_300, 13_300),  # tiny on disk, 177 megapixels decoded
        "bomb.png": png_header(100_000, 100_000),  # past Pillow's own decompression-bomb limit
        "photo.png": jpeg.getvalue(),
        "cut.png": whole[: len(whole) // 2],
        "text.png": b"not a picture",
        "ok.png": whole,
    }
    folder = hand_made(tmp_path / "in", [{"file": name, "label": "1"} for name in pictures], pictures)
    with pytest.raises(ValueError) as raised:
        read_export(folder)
    message = str(raised.value)
    assert "5 bad rows" in message and "ok.png" not in message
    assert "line 2: huge.png is 13300 x 13300 pixels" in message and "line 3: bomb.png claims more pixels" in message
    assert "line 4: photo.png is a JPEG file, not a PNG" in message
    assert "line 5: cut.png" in message and "line 6: text.png is not an image" in message


def test_text_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "ok.png").write_bytes(canvas_png(0))
    (folder / "labels.csv").write_bytes(b"file,label,student\nok.png,1,anna\nok.png,1,j\xf6rg\n")
    with pytest.raises(ValueError, match="line 3: not UTF-8"):
        read_export(folder)


def test_a_bad_inputs_file_is_refused(tmp_path: Path) -> None:
    folder = hand_made(tmp_path / "in", [{"file": "drawings/1.png", "label": "1"}])
    np.savez(folder / "inputs.npz", images=np.zeros((1, 5, 5), np.uint8), ids=np.array([1]))
    with pytest.raises(ValueError, match=r"inputs\.npz: expected N x 28 x 28"):
        read_export(folder)
    (folder / "inputs.npz").write_bytes(b"PK not a zip")
    with pytest.raises(ValueError, match="not an export's inputs file"):
        read_export(folder)


def test_stored_answers_and_inputs_read_back(tmp_path: Path) -> None:
    folder = hand_made(
        tmp_path / "in", [{"file": "drawings/5.png", "label": "4", "answers": json.dumps({"m": 4}), "created": "12.5", "flag": "dot"}]
    )
    image = (digit_image(2) * 255).astype(np.uint8)
    np.savez_compressed(folder / "inputs.npz", images=image[None], labels=np.array([4]), ids=np.array([5]))
    (row,) = read_export(folder)
    assert (row["label"], row["answers"], row["created"], row["flag"], row["student"]) == (4, {"m": 4}, 12.5, "dot", "imported")
    np.testing.assert_array_equal(row["image"], image / 255)

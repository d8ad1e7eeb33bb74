"""The class set's store, on SQLite and PostgreSQL: keeping, reading, deleting, the rate limit,
export/import, a corrupt file, and a writer killed mid-burst losing nothing it confirmed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mnist_small import classset
from mnist_small.classset import ClassSet, ClassSetError, TooSoon, export_set, read_export


def digit_image(seed: int) -> np.ndarray:
    image = np.zeros((28, 28), np.float32)
    image[6:22, 12 + seed % 4 : 15 + seed % 4] = 1.0
    return image


@pytest.fixture
def store(db_url: str):
    s = ClassSet(db_url)
    yield s
    s.dispose()


def test_add_then_read_back(store: ClassSet) -> None:
    kept = store.add(b"png-1", digit_image(1), 7, "browser-a", {"m1": 7, "m2": 1})
    assert kept.id > 0
    (drawing,) = store.all()
    assert (drawing.id, drawing.label, drawing.student, drawing.flag) == (kept.id, 7, "browser-a", None)
    assert drawing.answers == {"m1": 7, "m2": 1}
    np.testing.assert_allclose(drawing.image, digit_image(1), atol=1 / 255)
    assert store.png(kept.id) == b"png-1"
    assert store.version() == (1, kept.id)


def test_the_rate_limit_is_per_browser(store: ClassSet) -> None:
    store.add(b"p", digit_image(0), 1, "a", {})
    with pytest.raises(TooSoon, match="one drawing per second"):
        store.add(b"p", digit_image(0), 1, "a", {})
    store.add(b"p", digit_image(0), 2, "b", {})  # another browser is not held up
    assert store.version()[0] == 2


def test_bad_labels_and_flags_are_refused(store: ClassSet) -> None:
    with pytest.raises(ValueError, match="digit 0-9"):
        store.add(b"p", digit_image(0), 10, "a", {})
    with pytest.raises(ValueError, match="unknown flag"):
        store.add(b"p", digit_image(0), 3, "a", {}, flag="smudge")
    store.add(b"p", digit_image(0), 3, "a", {}, flag="scribble")
    assert [d.flag for d in store.all()] == ["scribble"]


def test_delete_and_clear(store: ClassSet) -> None:
    ids = [store.add(b"p", digit_image(i), i, f"s{i}", {}).id for i in range(3)]
    assert store.delete(ids[1]) and not store.delete(ids[1])
    assert [d.id for d in store.all()] == [ids[0], ids[2]]
    assert store.clear() == 2
    assert store.all() == [] and store.version() == (0, 0)


def test_export_then_import_into_another_set(store: ClassSet, tmp_path: Path) -> None:
    for i in range(4):
        store.add(f"png-{i}".encode(), digit_image(i), i, f"s{i}", {"m": i}, flag="dot" if i == 3 else None)
    assert export_set(store, tmp_path / "out") == 4
    header = (tmp_path / "out" / "labels.csv").read_text().splitlines()[0]
    assert header.startswith("file,label")
    with np.load(tmp_path / "out" / "inputs.npz") as saved:
        assert saved["images"].shape == (4, 28, 28) and saved["labels"].tolist() == [0, 1, 2, 3]
    other = ClassSet(f"sqlite:///{tmp_path / 'other.db'}")
    assert other.import_rows(read_export(tmp_path / "out")) == 4
    copied = other.all()
    assert [(d.label, d.student, d.flag, d.answers) for d in copied] == [(d.label, d.student, d.flag, d.answers) for d in store.all()]
    assert other.png(copied[2].id) == b"png-2"
    other.dispose()


def test_a_broken_export_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text("file,label\nmissing.png,3\n")
    with pytest.raises(ValueError, match="line 2"):
        read_export(tmp_path)
    with pytest.raises(ValueError, match=r"no labels\.csv"):
        read_export(tmp_path / "nowhere")


def test_a_corrupt_file_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "class.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ClassSetError, match="cannot be used"):
        ClassSet(f"sqlite:///{path}").all()


def test_an_unreachable_server_gives_a_clear_error() -> None:
    with pytest.raises(ClassSetError, match="cannot be used"):
        ClassSet("postgresql+psycopg://nobody:x@127.0.0.1:9/none?connect_timeout=2").version()


def test_a_newer_schema_is_refused(db_url: str) -> None:
    first = ClassSet(db_url)
    first.version()
    with first.engine.begin() as connection:
        connection.execute(classset.schema_info.update().values(value="99"))
    first.dispose()
    with pytest.raises(ClassSetError, match="newer mnist_small"):
        ClassSet(db_url).version()


WRITER = """
import sys, numpy as np
from mnist_small.classset import ClassSet
store = ClassSet(sys.argv[1])
for i in range(100000):
    d = store.add(b"x" * 2000, np.full((28, 28), 0.5, np.float32), i % 10, f"s{i}", {"m": i % 10})
    print(d.id, flush=True)  # confirmed: the transaction has committed
"""


def test_a_killed_writer_loses_nothing_it_confirmed(db_url: str) -> None:
    writer = subprocess.Popen([sys.executable, "-c", WRITER, db_url], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent)
    confirmed = []
    deadline = time.monotonic() + 60
    while len(confirmed) < 40 and time.monotonic() < deadline:
        confirmed.append(int(writer.stdout.readline()))
    os.kill(writer.pid, signal.SIGKILL)  # in the middle of a burst: a transaction may be open
    writer.wait()
    assert len(confirmed) == 40
    store = ClassSet(db_url)
    stored = {d.id for d in store.all()}
    store.dispose()
    assert set(confirmed) <= stored
    if db_url.startswith("sqlite"):
        path = db_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)

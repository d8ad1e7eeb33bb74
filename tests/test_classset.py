"""The class set's store, on SQLite and PostgreSQL: keeping, reading, deleting, the rate limit,
export/import, a corrupt file, and a writer killed mid-burst losing nothing it confirmed."""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from mnist_small.classset import store as classset
from mnist_small.classset.store import ClassSet, ClassSetError, TooSoon


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


def test_a_corrupt_file_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "class.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ClassSetError, match="cannot be used"):
        ClassSet(f"sqlite:///{path}").all()


def test_an_unreachable_server_gives_a_clear_error() -> None:
    with pytest.raises(ClassSetError, match="cannot be used"):
        ClassSet("postgresql+psycopg://nobody:x@127.0.0.1:9/none?connect_timeout=2").version()


@pytest.mark.parametrize("stored, message", [("99", "newer mnist_small"), ("garbage", "unreadable schema version"), ("-1", "unreadable")])
def test_a_newer_or_unreadable_schema_is_a_class_set_error(db_url: str, stored: str, message: str) -> None:
    first = ClassSet(db_url)
    first.version()
    with first.engine.begin() as connection:
        connection.execute(classset.schema_info.update().values(value=stored))
    first.dispose()
    with pytest.raises(ClassSetError, match=message):
        ClassSet(db_url).version()


def make_schema_1(url: str, rows: list[dict]) -> None:
    """A class set as mnist_small wrote it before schema 2: drawings without a digest, no limits table."""
    old = sa.MetaData()
    sa.Table("schema_info", old, sa.Column("key", sa.String(32), primary_key=True), sa.Column("value", sa.String(64), nullable=False))
    table = sa.Table(
        "drawings",
        old,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("student", sa.String(32), nullable=False, index=True),
        sa.Column("label", sa.SmallInteger, nullable=False),
        sa.Column("flag", sa.String(16)),
        sa.Column("answers", sa.Text, nullable=False),
        sa.Column("pixels", sa.LargeBinary, nullable=False),
        sa.Column("png", sa.LargeBinary, nullable=False),
    )
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        old.create_all(connection)
        connection.execute(old.tables["schema_info"].insert().values(key="version", value="1"))
        connection.execute(table.insert(), rows)
    engine.dispose()


def test_schema_1_is_migrated_to_2_keeping_every_drawing(db_url: str) -> None:
    def row(i: int, created: float) -> dict:
        pixels = classset.pixels_of(digit_image(i))
        return {
            "created": created,
            "student": f"s{i % 2}",
            "label": i,
            "flag": None,
            "answers": '{"m": 1}',
            "pixels": pixels,
            "png": b"png%d" % i,
        }

    # schema 1 let a folder be imported twice: rows 3 and 4 are the same drawing as 1 and 2
    make_schema_1(db_url, [row(1, 100.0), row(2, 200.0), row(3, 300.0), row(1, 100.0), row(2, 200.0)])
    store = ClassSet(db_url)
    kept = store.all()
    assert [(d.id, d.label, d.created) for d in kept] == [(1, 1, 100.0), (2, 2, 200.0), (3, 3, 300.0)]
    with store.engine.connect() as connection:
        assert connection.scalar(sa.select(classset.schema_info.c.value)) == str(classset.SCHEMA_VERSION)
        digests = connection.scalars(sa.select(classset.drawings.c.digest)).all()
    assert len(set(digests)) == 3 and None not in digests
    # what schema 2 adds works on the migrated set: the rate limit, and a second import adds nothing
    store.add(b"new", digit_image(5), 5, "s0", {})
    with pytest.raises(TooSoon):
        store.add(b"new", digit_image(6), 6, "s0", {})
    again = [{"created": 100.0, "student": "s1", "label": 1, "image": digit_image(1), "png": b"png1"}]
    assert store.import_rows(again) == 0 and store.version()[0] == 4
    store.dispose()


RACER = """
import sys, time, numpy as np
from mnist_small.classset import ClassSet, TooSoon
store = ClassSet(sys.argv[1])
store.version()
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
while time.time() < start + 3:
    try:
        store.add(b"x", np.full((28, 28), 0.5, np.float32), 1, "the-same-browser", {})
    except TooSoon:
        pass
"""


def test_the_rate_limit_holds_across_processes(db_url: str) -> None:
    ClassSet(db_url).version()  # the schema exists before the race
    start = time.time() + 3  # each racer has imported and connected by then
    racers = [subprocess.Popen([sys.executable, "-c", RACER, db_url, str(start)], cwd=Path(__file__).parent.parent) for _ in range(3)]
    assert [r.wait(60) for r in racers] == [0, 0, 0]
    store = ClassSet(db_url)
    times = sorted(d.created for d in store.all())
    store.dispose()
    assert 1 <= len(times) <= 4  # 3 s of three processes hammering: one a second at most
    assert all(b - a >= classset.MIN_INTERVAL - 1e-3 for a, b in itertools.pairwise(times)), times


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

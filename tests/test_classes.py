"""Classes in one class set database, on SQLite and PostgreSQL: each class's drawings, counts,
deletes and imports stay its own; a class takes drawings only while open; a schema-2 set
migrates into the default class."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa

from mnist_small.classset import schema
from mnist_small.classset.store import DEFAULT_CLASS, ClassClosed, ClassSet, normalize_code


def image(seed: int) -> np.ndarray:
    picture = np.zeros((28, 28), np.float32)
    picture[5:23, 10 + seed % 6 : 13 + seed % 6] = 1.0
    return picture


@pytest.fixture
def school(db_url: str):
    default = ClassSet(db_url)
    yield default
    default.dispose()


@pytest.mark.parametrize("text, code", [("7B", "7b"), ("  math-2 ", "math-2"), ("0", "0")])
def test_codes_are_normalized(text: str, code: str) -> None:
    assert normalize_code(text) == code


@pytest.mark.parametrize("text", ["", "-7b", "7b/../x", "a" * 17, "7 b", "<script>", "ü"])
def test_bad_codes_are_refused_with_what_a_code_may_be(text: str) -> None:
    with pytest.raises(ValueError, match="letters, digits or dashes"):
        normalize_code(text)


def test_two_classes_keep_their_drawings_apart(school: ClassSet) -> None:
    a, b = school.in_class("7a"), school.in_class("7B")
    a.open_class()
    b.open_class()
    assert b.code == "7b" and b.engine is school.engine  # the same connections
    kept_a = [a.add(b"a%d" % i, image(i), i, f"sa{i}", {"m": i}) for i in range(3)]
    kept_b = b.add(b"b0", image(9), 9, "sb", {"m": 9})
    school.add(b"d0", image(4), 4, "sd", {})
    assert [d.label for d in a.all()] == [0, 1, 2]
    assert [d.label for d in b.all()] == [9]
    assert [d.label for d in school.all()] == [4]
    assert a.version()[0] == 3 and b.version() == (1, kept_b.id)
    assert list(b.ids()[0]) == [kept_b.id] and [i for i, _ in a.pngs()] == [d.id for d in kept_a]
    assert b.images([d.id for d in kept_a]) == {} and b.png(kept_a[0].id) is None  # another class's drawing is not there
    assert not b.delete(kept_a[0].id) and a.version()[0] == 3
    assert list(b.rows_after(0)["label"]) == [9]
    assert b.clear() == 1 and a.version()[0] == 3 and school.version()[0] == 1
    counts = {c.code: c.drawings for c in school.classes()}
    assert counts == {DEFAULT_CLASS: 1, "7a": 3, "7b": 0}
    assert [c.code for c in school.classes()] == [DEFAULT_CLASS, "7a", "7b"]


def test_a_class_takes_drawings_only_while_open(school: ClassSet) -> None:
    late = school.in_class("late")
    with pytest.raises(ClassClosed, match="not open"):  # never opened
        late.add(b"x", image(1), 1, "s1", {})
    late.open_class()
    late.add(b"x", image(1), 1, "s1", {})
    late.close_class()
    assert not late.is_open() and school.is_open()
    with pytest.raises(ClassClosed):
        late.add(b"y", image(2), 2, "s2", {})
    assert late.version()[0] == 1  # closing keeps what it has
    late.open_class()  # opening again does not make a second class
    assert [c.code for c in school.classes()].count("late") == 1 and late.is_open()
    with pytest.raises(ValueError, match="always open"):
        school.close_class()


def test_the_same_folder_may_go_to_two_classes_once_each(school: ClassSet) -> None:
    rows = [{"created": 1000.0 + i, "student": "s", "label": i, "image": image(i), "png": b"p%d" % i} for i in range(4)]
    a, b = school.in_class("a"), school.in_class("b")
    assert a.import_rows(rows) == 4 and b.import_rows(rows) == 4
    assert a.import_rows(rows) == 0 and b.import_rows(rows) == 0
    assert school.version()[0] == 0


def test_a_schema_2_set_migrates_into_the_default_class(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    with engine.begin() as connection:  # a class set as schema 2 wrote it
        old = sa.MetaData()
        sa.Table("schema_info", old, sa.Column("key", sa.String(32), primary_key=True), sa.Column("value", sa.String(64)))
        columns = [
            sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
            for c in schema.drawings.columns
            if c.name not in ("class_code", "digest")
        ]
        sa.Table("drawings", old, *columns)
        old.create_all(connection)
        connection.execute(old.tables["schema_info"].insert().values(key="version", value="1"))
        rows = [
            {"created": 10.0 + i, "student": "s", "label": i, "flag": None, "answers": "{}", "pixels": bytes(784), "png": b"%d" % i}
            for i in range(3)
        ]
        connection.execute(old.tables["drawings"].insert(), rows)
        schema._migrate_1_to_2(connection)
        connection.execute(old.tables["schema_info"].update().values(value="2"))
    engine.dispose()
    default = ClassSet(db_url)
    assert [d.label for d in default.all()] == [0, 1, 2]
    assert [(c.code, c.drawings, c.is_open) for c in default.classes()] == [(DEFAULT_CLASS, 3, True)]
    other = default.in_class("new")
    other.open_class()
    again = [{"created": 10.0, "student": "s", "label": 0, "image": np.zeros((28, 28)), "png": b"0"}]
    assert default.import_rows(again) == 0 and other.import_rows(again) == 1  # the digest is unique per class
    default.dispose()

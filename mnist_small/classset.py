"""The class set: the drawings a class keeps, each with its label, in a real database.

One table of drawings through SQLAlchemy: a SQLite file by default (WAL, so readers never block
the writer, and a busy timeout, so two writers wait instead of failing), or PostgreSQL when
``$MNIST_SMALL_DB`` holds a URL (several app processes sharing one class set). Every write is
one transaction, so a drawing the student was told about is on disk, and a killed server loses
at most the one it had not confirmed. The schema is created on first use and versioned.

Stored per drawing: the canvas as a PNG, its 28x28 model input, the label, every model's
answer at that moment, the preprocessing's flag (a dot, a scribble, two digits), an anonymous
per-browser id and the time; nothing else about the student.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import (
    Column,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError

SCHEMA_VERSION = 1
MIN_INTERVAL = 1.0  # seconds between two submissions of one browser: a flood is refused, not stored
FLAGS = ("dot", "scribble", "two digits")  # what preprocess.Prepared.flag can say about a drawing

metadata = MetaData()
schema_info = Table("schema_info", metadata, Column("key", String(32), primary_key=True), Column("value", String(64), nullable=False))
drawings = Table(
    "drawings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created", Float, nullable=False),  # Unix seconds: the same on every database
    Column("student", String(32), nullable=False, index=True),  # an anonymous per-browser id
    Column("label", SmallInteger, nullable=False),
    Column("flag", String(16)),  # None, or one of FLAGS
    Column("answers", Text, nullable=False),  # JSON {model name: digit} at the moment it was added
    Column("pixels", LargeBinary, nullable=False),  # the 28x28 model input, uint8
    Column("png", LargeBinary, nullable=False),  # the canvas as drawn
)


class ClassSetError(RuntimeError):
    """The class set cannot be read or written: unreachable, corrupt, or from a newer version."""


class TooSoon(ClassSetError):
    """A browser submitted again within ``MIN_INTERVAL`` seconds."""


@dataclass(frozen=True)
class Drawing:
    """One kept drawing. ``image`` is the 28x28 model input in [0, 1]."""

    id: int
    created: float
    student: str
    label: int
    flag: str | None
    answers: dict[str, int]
    image: np.ndarray = field(repr=False)


def pixels_of(image: np.ndarray) -> bytes:
    """A 28x28 float image in [0, 1] as 784 bytes."""
    if image.shape != (28, 28):
        raise ValueError(f"expected a 28x28 image, got shape {image.shape}")
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8).tobytes()


def image_of(pixels: bytes) -> np.ndarray:
    return np.frombuffer(pixels, dtype=np.uint8).reshape(28, 28).astype(np.float32) / 255


class ClassSet:
    """The drawings of one class, in the database at ``url``. Safe to share between threads."""

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as err:
            raise ClassSetError(f"MNIST_SMALL_DB is not a database URL ({err})") from err
        self.where = parsed.render_as_string(hide_password=True)
        self.sqlite = parsed.get_backend_name() == "sqlite"
        if self.sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = create_engine(parsed, pool_pre_ping=not self.sqlite)
        except (SQLAlchemyError, ImportError) as err:
            raise ClassSetError(f"cannot use the class set database {self.where}: {err}") from err
        if self.sqlite:
            event.listen(self.engine, "connect", _sqlite_settings)
        self._ready = False

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One transaction on a database whose schema is known to be there; any database error
        becomes a ClassSetError that says where the class set is."""
        try:
            if not self._ready:
                self._create_schema()
            with self.engine.begin() as connection:
                yield connection
        except ClassSetError:
            raise
        except (SQLAlchemyError, OSError) as err:
            reason = getattr(err, "orig", None) or err
            raise ClassSetError(f"the class set at {self.where} cannot be used: {reason}") from err

    def _create_schema(self) -> None:
        for attempt in range(2):  # two sessions or processes creating it at once: the loser finds it made
            try:
                with self.engine.begin() as connection:
                    metadata.create_all(connection)
                    version = connection.scalar(select(schema_info.c.value).where(schema_info.c.key == "version"))
                    if version is None:
                        connection.execute(insert(schema_info).values(key="version", value=str(SCHEMA_VERSION)))
                    elif int(version) > SCHEMA_VERSION:
                        raise ClassSetError(
                            f"the class set at {self.where} was made by a newer mnist_small (schema {version}); upgrade to use it"
                        )
                break
            except (IntegrityError, OperationalError, ProgrammingError):  # "already exists", a version row clash
                if attempt:
                    raise
        self._ready = True

    def add(self, png: bytes, image: np.ndarray, label: int, student: str, answers: dict[str, int], flag: str | None = None) -> Drawing:
        """Keep a drawing; returns it once committed. Raises TooSoon if ``student`` added one
        less than MIN_INTERVAL seconds ago, ValueError for a label or flag that cannot be."""
        if not 0 <= int(label) <= 9:
            raise ValueError(f"a label is a digit 0-9, not {label!r}")
        if flag is not None and flag not in FLAGS:
            raise ValueError(f"unknown flag {flag!r}; known: {', '.join(FLAGS)}")
        answers = {name: int(digit) for name, digit in answers.items()}
        pixels = pixels_of(image)
        with self._transaction() as connection:
            now = time.time()
            last = connection.scalar(select(func.max(drawings.c.created)).where(drawings.c.student == student))
            if last is not None and now - last < MIN_INTERVAL:
                raise TooSoon(f"one drawing per second: wait {MIN_INTERVAL - (now - last):.1f} s")
            row = {
                "created": now,
                "student": student,
                "label": int(label),
                "flag": flag,
                "answers": json.dumps(answers),
                "pixels": pixels,
                "png": png,
            }
            new_id = connection.execute(insert(drawings).values(**row).returning(drawings.c.id)).scalar_one()
        return Drawing(new_id, now, student, int(label), flag, answers, image_of(pixels))

    def all(self) -> list[Drawing]:
        """Every drawing, oldest first (without the PNGs: the models read the 28x28 inputs)."""
        columns = [c for c in drawings.c if c.name != "png"]
        with self._transaction() as connection:
            rows = connection.execute(select(*columns).order_by(drawings.c.id)).all()
        return [Drawing(r.id, r.created, r.student, r.label, r.flag, json.loads(r.answers), image_of(r.pixels)) for r in rows]

    def version(self) -> tuple[int, int]:
        """(number of drawings, highest id): changes whenever a drawing is added or removed."""
        with self._transaction() as connection:
            count, top = connection.execute(select(func.count(), func.max(drawings.c.id)).select_from(drawings)).one()
        return int(count), int(top or 0)

    def png(self, drawing_id: int) -> bytes | None:
        with self._transaction() as connection:
            return connection.scalar(select(drawings.c.png).where(drawings.c.id == drawing_id))

    def pngs(self) -> Iterator[tuple[int, bytes]]:
        """(id, PNG) of every drawing, one at a time: an export never holds them all."""
        with self._transaction() as connection:
            for row in connection.execute(select(drawings.c.id, drawings.c.png).order_by(drawings.c.id)):
                yield row.id, row.png

    def delete(self, drawing_id: int) -> bool:
        """Remove one drawing; False if there was none with that id."""
        with self._transaction() as connection:
            return connection.execute(delete(drawings).where(drawings.c.id == drawing_id)).rowcount > 0

    def clear(self) -> int:
        """Remove every drawing; returns how many there were."""
        with self._transaction() as connection:
            return connection.execute(delete(drawings)).rowcount

    def import_rows(self, rows: list[dict]) -> int:
        """Add exported drawings (created, student, label, flag, answers, image, png) in one
        transaction: all of them or none. No rate limit: they were drawn before."""
        values = [
            {
                "created": float(r["created"]),
                "student": str(r["student"])[:32],
                "label": int(r["label"]),
                "flag": r.get("flag") or None,
                "answers": json.dumps(r.get("answers", {})),
                "pixels": pixels_of(r["image"]),
                "png": r["png"],
            }
            for r in rows
        ]
        if any(not 0 <= v["label"] <= 9 for v in values):
            raise ValueError("a label is a digit 0-9")
        with self._transaction() as connection:
            if values:
                connection.execute(insert(drawings), values)
        return len(values)

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_settings(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (the Class view) never block a submission
    cursor.execute("PRAGMA busy_timeout=10000")  # a second writer waits its turn instead of failing
    cursor.execute("PRAGMA synchronous=FULL")  # a confirmed drawing survives a power cut, not only a killed server
    cursor.close()


# ---- export and import: a folder anyone can read, or train on --------------------------------

LABELS = "labels.csv"
INPUTS = "inputs.npz"
COLUMNS = ("file", "label", "student", "created", "flag", "answers")


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
    with open(out / LABELS, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for d in kept:
            writer.writerow([f"drawings/{d.id}.png", d.label, d.student, f"{d.created:.3f}", d.flag or "", json.dumps(d.answers)])
    images = np.stack([np.round(d.image * 255).astype(np.uint8) for d in kept]) if kept else np.zeros((0, 28, 28), np.uint8)
    np.savez_compressed(
        out / INPUTS, images=images, labels=np.array([d.label for d in kept], np.int64), ids=np.array([d.id for d in kept], np.int64)
    )
    return len(kept)


def read_export(in_dir: Path | str) -> list[dict]:
    """The drawings of an exported folder, checked: a clear ValueError names what is wrong."""
    folder = Path(in_dir)
    labels = folder / LABELS
    if not labels.is_file():
        raise ValueError(f"{folder}: no {LABELS} in it (make one with: python -m mnist_small class export {folder})")
    inputs = folder / INPUTS
    stored = np.load(inputs) if inputs.is_file() else None
    images = dict(zip(stored["ids"].tolist(), stored["images"], strict=True)) if stored is not None else {}
    rows = []
    with open(labels, newline="") as f:
        reader = csv.DictReader(f)
        if not {"file", "label"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{labels}: needs a header row with at least the columns file and label")
        for line, record in enumerate(reader, start=2):
            path = folder / record["file"]
            try:
                label = int(record["label"])
                png = path.read_bytes()
                drawing_id = int(Path(record["file"]).stem) if Path(record["file"]).stem.isdigit() else None
                image = images[drawing_id].astype(np.float32) / 255 if drawing_id in images else _input_from_png(png)
            except (ValueError, OSError) as err:
                raise ValueError(f"{labels}, line {line}: {err}") from err
            if not 0 <= label <= 9:
                raise ValueError(f"{labels}, line {line}: label {label} is not a digit 0-9")
            rows.append(
                {
                    "created": float(record.get("created") or time.time()),
                    "student": record.get("student") or "imported",
                    "label": label,
                    "flag": record.get("flag") or None,
                    "answers": json.loads(record.get("answers") or "{}"),
                    "image": image,
                    "png": png,
                }
            )
    return rows


def _input_from_png(png: bytes) -> np.ndarray:
    """The model input of a drawing that came without one (a labels.csv made by hand)."""
    from .preprocess import prepare

    with Image.open(io.BytesIO(png)) as picture:
        prepared = prepare(picture)
    if prepared.image is None:
        raise ValueError("the picture holds no digit")
    return prepared.image

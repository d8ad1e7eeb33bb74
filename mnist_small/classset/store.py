"""The class set: the drawings a class keeps, each with its label, in a real database.

One table of drawings through SQLAlchemy: a SQLite file by default (WAL, so readers never block
the writer, and a busy timeout, so two writers wait instead of failing), or PostgreSQL when
``$MNIST_SMALL_DB`` holds a URL (several app processes sharing one class set). Every write is
one transaction, so a drawing the student was told about is on disk, and a killed server loses
at most the one it had not confirmed. The schema is created on first use and versioned.

Stored per drawing: the canvas as a PNG, its 28x28 model input, the label, the models' answers
the student saw (``answers.py`` computes every model's for the Class view), the preprocessing's flag (a dot, a scribble, two digits), an anonymous
per-browser id and the time; nothing else about the student. A digest of those makes the same
drawing imported twice one row. The folder format (export and import) is ``folder``.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, delete, event, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError

from .rows import checked_row, digest_of, image_of, pixels_of
from .schema import DEFAULT_CLASS, SCHEMA_VERSION, SchemaError, bring_up_to_date, classes, drawings, limits, normalize_code, schema_info

__all__ = ["DEFAULT_CLASS", "SCHEMA_VERSION", "ClassClosed", "ClassInfo", "ClassSet", "ClassSetError", "Drawing", "TooSoon"]
__all__ += ["drawings", "normalize_code", "schema_info"]

MIN_INTERVAL = 1.0  # seconds between two submissions of one browser: a flood is refused, not stored
DIALECTS = {"sqlite": sqlite, "postgresql": postgresql}  # the two databases whose upsert the rate limit uses

log = logging.getLogger(__name__)


class ClassSetError(RuntimeError):
    """The class set cannot be read or written: unreachable, corrupt, or from a newer version."""


class TooSoon(ClassSetError):
    """A browser submitted again within ``MIN_INTERVAL`` seconds."""


class ClassClosed(ClassSetError):
    """The class takes no drawings: the teacher has not opened it, or has closed it."""


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


@dataclass(frozen=True)
class ClassInfo:
    """One class of the database: its code, when it was opened first, whether it takes drawings, how many it has."""

    code: str
    created: float
    is_open: bool
    drawings: int


class ClassSet:
    """The drawings of one class (``code``) in the database at ``url``. Safe to share between
    threads; ``in_class`` gives another class of the same database on the same connections."""

    def __init__(self, url: str, code: str = DEFAULT_CLASS) -> None:
        self.code = normalize_code(code)
        try:
            parsed = make_url(url)
        except ArgumentError as err:
            raise ClassSetError(f"MNIST_SMALL_DB is not a database URL ({err})") from err
        self.where = parsed.render_as_string(hide_password=True)
        self.sqlite = parsed.get_backend_name() == "sqlite"
        if parsed.get_backend_name() not in DIALECTS:
            raise ClassSetError(f"the class set needs SQLite or PostgreSQL, not {parsed.get_backend_name()} ({self.where})")
        if self.sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = create_engine(parsed, pool_pre_ping=not self.sqlite)
        except (SQLAlchemyError, ImportError) as err:
            raise ClassSetError(f"cannot use the class set database {self.where}: {err}") from err
        if self.sqlite:
            event.listen(self.engine, "connect", _sqlite_settings)
        self._schema = _SchemaState()

    def in_class(self, code: str) -> ClassSet:
        """The class ``code`` of the same database, sharing this one's connections (ValueError for a bad code)."""
        other = copy.copy(self)  # the engine and the schema state are shared, not copied
        other.code = normalize_code(code)
        return other

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One transaction on a database whose schema is known to be there; any database error
        becomes a ClassSetError that says where the class set is."""
        try:
            if not self._schema.ready:
                self._create_schema()
            with self.engine.begin() as connection:
                yield connection
        except ClassSetError:
            raise
        except SchemaError as err:
            raise ClassSetError(str(err)) from err
        except (SQLAlchemyError, OSError) as err:
            reason = getattr(err, "orig", None) or err
            raise ClassSetError(f"the class set at {self.where} cannot be used: {reason}") from err

    def _create_schema(self) -> None:
        for attempt in range(2):  # two sessions or processes creating it at once: the loser finds it made
            try:
                with self.engine.begin() as connection:
                    bring_up_to_date(connection, self.where)
                break
            except (IntegrityError, OperationalError, ProgrammingError):  # "already exists", a version row clash
                if attempt:
                    raise
        self._schema.ready = True

    @property
    def _mine(self):
        return drawings.c.class_code == self.code

    # ---- the classes of the database ---------------------------------------------------------

    def classes(self) -> list[ClassInfo]:
        """Every class of the database, the default first, then by code."""
        counts = select(drawings.c.class_code, func.count().label("n")).group_by(drawings.c.class_code).subquery()
        query = select(classes, func.coalesce(counts.c.n, 0)).outerjoin(counts, counts.c.class_code == classes.c.code)
        with self._transaction() as connection:
            rows = connection.execute(query).all()
        found = [ClassInfo(r.code, r.created, bool(r.is_open), int(r[-1])) for r in rows]
        return sorted(found, key=lambda c: (c.code != DEFAULT_CLASS, c.code))

    def is_open(self) -> bool:
        """True if this class takes drawings (the default class always does)."""
        with self._transaction() as connection:
            return self._open_in(connection)

    def _open_in(self, connection: Connection) -> bool:
        """Whether this class takes drawings, read in the caller's transaction."""
        return self.code == DEFAULT_CLASS or bool(connection.scalar(select(classes.c.is_open).where(classes.c.code == self.code)))

    def open_class(self) -> None:
        """Open this class for drawings, creating it if it is new."""
        with self._transaction() as connection:
            if connection.execute(update(classes).where(classes.c.code == self.code).values(is_open=True)).rowcount == 0:
                connection.execute(insert(classes).values(code=self.code, created=time.time(), is_open=True))

    def close_class(self) -> None:
        """This class takes no more drawings; it keeps the ones it has. The default class cannot be closed."""
        if self.code == DEFAULT_CLASS:
            raise ValueError("the default class is always open: it is the class of every page without a class code")
        with self._transaction() as connection:
            connection.execute(update(classes).where(classes.c.code == self.code).values(is_open=False))

    # ---- the drawings of this class ----------------------------------------------------------

    def add(self, png: bytes, image: np.ndarray, label: int, student: str, answers: dict[str, int], flag: str | None = None) -> Drawing:
        """Keep a drawing; returns it once committed. Raises TooSoon if ``student`` added one
        less than MIN_INTERVAL seconds ago, ClassClosed if the class takes no drawings,
        ValueError for a field that cannot be."""
        now = time.time()
        row = checked_row(label, student, flag, answers, now) | {"pixels": pixels_of(image), "png": png}
        with self._transaction() as connection:
            if not self._open_in(connection):
                raise ClassClosed(f"class {self.code} is not open: ask your teacher to open it")
            # the rate limit and the insert in one transaction: the row lock (PostgreSQL) or the
            # write lock (SQLite) makes a second process wait, then see this one's time
            dialect = DIALECTS[connection.dialect.name]
            stamp = dialect.insert(limits).values(student=row["student"], last_added=now)
            stamp = stamp.on_conflict_do_update(
                index_elements=[limits.c.student],
                set_={"last_added": stamp.excluded.last_added},
                where=limits.c.last_added <= stamp.excluded.last_added - MIN_INTERVAL,
            ).returning(limits.c.student)
            if connection.execute(stamp).first() is None:
                last = connection.scalar(select(limits.c.last_added).where(limits.c.student == row["student"])) or now
                raise TooSoon(f"one drawing per second: wait {max(MIN_INTERVAL - (now - last), 0.1):.1f} s")
            stored = row | {"answers": json.dumps(row["answers"]), "digest": digest_of(row), "class_code": self.code}
            new_id = connection.execute(insert(drawings).values(**stored).returning(drawings.c.id)).scalar_one()
        return Drawing(new_id, now, row["student"], row["label"], row["flag"], row["answers"], image_of(row["pixels"]))

    def version(self) -> tuple[int, int]:
        """(number of drawings, highest id): changes whenever a drawing is added or removed."""
        with self._transaction() as connection:
            count, top = connection.execute(select(func.count(), func.max(drawings.c.id)).where(self._mine)).one()
        return int(count), int(top or 0)

    # ---- reads for the Class view's incremental answers (answers.py): columns, never the PNGs ----

    def rows_after(self, after_id: int, limit: int = 1000) -> dict[str, np.ndarray]:
        """The first ``limit`` drawings with an id above ``after_id``, oldest first, as columns:
        ``id``, ``created``, ``label``, ``flag`` (str or None), ``student`` and ``pixels`` (N x 28 x 28 uint8)."""
        columns = (drawings.c.id, drawings.c.created, drawings.c.label, drawings.c.flag, drawings.c.student, drawings.c.pixels)
        query = select(*columns).where(self._mine, drawings.c.id > int(after_id)).order_by(drawings.c.id).limit(limit)
        with self._transaction() as connection:
            rows = connection.execute(query).all()
        return {
            "id": np.array([r.id for r in rows], np.int64),
            "created": np.array([r.created for r in rows], np.float64),
            "label": np.array([r.label for r in rows], np.int64),
            "flag": np.array([r.flag for r in rows], object),
            "student": np.array([r.student for r in rows], object),
            "pixels": np.frombuffer(b"".join(r.pixels for r in rows), np.uint8).reshape(-1, 28, 28),
        }

    def ids(self) -> tuple[np.ndarray, np.ndarray]:
        """The id and the time of every drawing, oldest first: the time tells a drawing from a
        later one that got its id (SQLite gives the id of a deleted newest drawing to the next)."""
        with self._transaction() as connection:
            rows = connection.execute(select(drawings.c.id, drawings.c.created).where(self._mine).order_by(drawings.c.id)).all()
        return np.array([r.id for r in rows], np.int64), np.array([r.created for r in rows], np.float64)

    def images(self, ids: list[int] | np.ndarray) -> dict[int, np.ndarray]:
        """The 28x28 model inputs in [0, 1] of the drawings ``ids``, by id; a deleted one (or another class's) is missing."""
        wanted = [int(i) for i in ids]
        found = {}
        with self._transaction() as connection:
            for start in range(0, len(wanted), 500):  # bounded IN lists
                chunk = select(drawings.c.id, drawings.c.pixels).where(self._mine, drawings.c.id.in_(wanted[start : start + 500]))
                found.update({r.id: image_of(r.pixels) for r in connection.execute(chunk)})
        return found

    def all(self) -> list[Drawing]:
        """Every drawing, oldest first (without the PNGs: the models read the 28x28 inputs)."""
        columns = [c for c in drawings.c if c.name not in ("png", "class_code", "digest")]
        with self._transaction() as connection:
            rows = connection.execute(select(*columns).where(self._mine).order_by(drawings.c.id)).all()
        return [Drawing(r.id, r.created, r.student, r.label, r.flag, json.loads(r.answers), image_of(r.pixels)) for r in rows]

    def png(self, drawing_id: int) -> bytes | None:
        with self._transaction() as connection:
            return connection.scalar(select(drawings.c.png).where(self._mine, drawings.c.id == drawing_id))

    def pngs(self) -> Iterator[tuple[int, bytes]]:
        """(id, PNG) of every drawing, one at a time: an export never holds them all."""
        with self._transaction() as connection:
            for row in connection.execute(select(drawings.c.id, drawings.c.png).where(self._mine).order_by(drawings.c.id)):
                yield row.id, row.png

    def delete(self, drawing_id: int) -> bool:
        """Remove one drawing of this class; False if it has none with that id."""
        with self._transaction() as connection:
            return connection.execute(delete(drawings).where(self._mine, drawings.c.id == drawing_id)).rowcount > 0

    def clear(self) -> int:
        """Remove every drawing of this class; returns how many there were."""
        with self._transaction() as connection:
            return connection.execute(delete(drawings).where(self._mine)).rowcount

    def import_rows(self, rows: list[dict]) -> int:
        """Add drawings made elsewhere (created, student, label, flag, answers, image, png) in
        one transaction: all of them or none, each checked as ``add`` checks it. A drawing the
        class already holds (the same digest) is skipped, so importing a folder twice adds it once.
        No rate limit: they were drawn before; a closed class takes them too (the teacher imports).
        Returns how many were added."""
        values, seen = [], set()
        for number, r in enumerate(rows, start=1):
            try:
                row = checked_row(r["label"], r.get("student") or "imported", r.get("flag") or None, r.get("answers") or {}, r["created"])
                row |= {"pixels": pixels_of(np.asarray(r["image"])), "png": bytes(r["png"])}
            except (KeyError, TypeError, ValueError) as err:
                raise ValueError(f"drawing {number}: {err}") from err
            digest = digest_of(row)
            if digest not in seen:
                seen.add(digest)
                values.append(row | {"answers": json.dumps(row["answers"]), "digest": digest, "class_code": self.code})
        with self._transaction() as connection:
            known = set()
            for start in range(0, len(values), 500):  # bounded IN lists
                chunk = [v["digest"] for v in values[start : start + 500]]
                known.update(connection.scalars(select(drawings.c.digest).where(self._mine, drawings.c.digest.in_(chunk))))
            new = [v for v in values if v["digest"] not in known]
            if new:
                connection.execute(insert(drawings), new)
        return len(new)

    def dispose(self) -> None:
        self.engine.dispose()


@dataclass
class _SchemaState:
    """Shared by the classes of one database: the schema is checked once per engine."""

    ready: bool = False


def _sqlite_settings(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (the Class view) never block a submission
    cursor.execute("PRAGMA busy_timeout=10000")  # a second writer waits its turn instead of failing
    cursor.execute("PRAGMA synchronous=FULL")  # a confirmed drawing survives a power cut, not only a killed server
    cursor.close()

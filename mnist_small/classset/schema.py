"""The class set's tables, their version, and the migrations from every older version.

Schema 3: ``classes`` (a code per class, open or closed) and a class code on every drawing, so one
database holds the classes of a whole school; the drawings of an older set are the default class's.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection

from .rows import MAX_STUDENT, digest_of

SCHEMA_VERSION = 3  # 1: drawings; 2: a digest per drawing and the rate-limit table; 3: classes
DEFAULT_CLASS = "default"  # the class of a page without a code, and of every drawing kept before classes
MAX_CODE = 16
CODE = re.compile(r"[a-z0-9][a-z0-9-]{0,15}")

log = logging.getLogger(__name__)

metadata = MetaData()
schema_info = Table("schema_info", metadata, Column("key", String(32), primary_key=True), Column("value", String(64), nullable=False))
classes = Table(
    "classes",
    metadata,
    Column("code", String(MAX_CODE), primary_key=True),
    Column("created", Float, nullable=False),
    Column("is_open", Boolean, nullable=False),  # a closed class keeps its drawings and takes no new ones
)
drawings = Table(
    "drawings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("class_code", String(MAX_CODE), nullable=False, server_default=DEFAULT_CLASS),
    Column("created", Float, nullable=False),  # Unix seconds: the same on every database
    Column("student", String(32), nullable=False, index=True),  # an anonymous per-browser id
    Column("label", SmallInteger, nullable=False),
    Column("flag", String(16)),  # None, or one of rows.FLAGS
    Column("answers", Text, nullable=False),  # JSON {model name: digit}: the answers the student saw when adding it
    Column("pixels", LargeBinary, nullable=False),  # the 28x28 model input, uint8
    Column("png", LargeBinary, nullable=False),  # the canvas as drawn
    Column("digest", String(64)),  # of the fields above but id: the same drawing imported twice is one row
    Index("drawings_class_digest", "class_code", "digest", unique=True),  # per class: a folder may go to two classes
    Index("drawings_class_id", "class_code", "id"),  # every read is one class's, in id order
)
# When each browser last added a drawing: one row per student, updated only if a second has
# passed, in the insert's own transaction, so the limit holds across processes and replicas.
limits = Table("limits", metadata, Column("student", String(MAX_STUDENT), primary_key=True), Column("last_added", Float, nullable=False))


def normalize_code(code: str) -> str:
    """A class code as stored: lower case, 1-16 letters, digits or dashes, starting with a letter
    or a digit (it goes into links, ``/?class=7b``); ValueError says what a code may be."""
    cleaned = str(code).strip().lower()
    if not CODE.fullmatch(cleaned):
        raise ValueError(f"{str(code)[:40]!r} is not a class code: 1-{MAX_CODE} letters, digits or dashes, starting with a letter or digit")
    return cleaned


class SchemaError(RuntimeError):
    """The database holds a class set this version cannot read."""


def bring_up_to_date(connection: Connection, where: str) -> None:
    """Create the schema, or migrate an older one step by step, in the caller's transaction."""
    if not inspect(connection).has_table("schema_info"):
        metadata.create_all(connection)
        connection.execute(insert(schema_info).values(key="version", value=str(SCHEMA_VERSION)))
        _add_default_class(connection)
        return
    stored = connection.scalar(select(schema_info.c.value).where(schema_info.c.key == "version"))
    try:
        version = int(stored)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        version = -1
    if version > SCHEMA_VERSION:
        raise SchemaError(f"the class set at {where} was made by a newer mnist_small (schema {version}); upgrade to use it")
    if version not in MIGRATIONS and version != SCHEMA_VERSION:
        raise SchemaError(f"the class set at {where} has an unreadable schema version ({stored!r}): not a class set of mnist_small")
    while version < SCHEMA_VERSION:
        MIGRATIONS[version](connection)
        version += 1
        log.info("class set at %s migrated to schema %d", where, version)
    connection.execute(update(schema_info).where(schema_info.c.key == "version").values(value=str(version)))
    metadata.create_all(connection)  # tables a migration did not need to touch


def _add_default_class(connection: Connection) -> None:
    if connection.scalar(select(classes.c.code).where(classes.c.code == DEFAULT_CLASS)) is None:
        connection.execute(insert(classes).values(code=DEFAULT_CLASS, created=time.time(), is_open=True))


def _migrate_1_to_2(connection: Connection) -> None:
    """Schema 2: a digest per drawing (computed for the drawings already kept) and the rate-limit table."""
    connection.execute(text("ALTER TABLE drawings ADD COLUMN digest VARCHAR(64)"))
    ids = list(connection.scalars(text("SELECT id FROM drawings ORDER BY id")))
    seen, copies = set(), []
    for start in range(0, len(ids), 500):  # a few hundred PNGs in memory at a time
        chunk = select(drawings.c.id, drawings.c.created, drawings.c.student, drawings.c.label, drawings.c.pixels, drawings.c.png)
        rows = connection.execute(chunk.where(drawings.c.id.in_(ids[start : start + 500])).order_by(drawings.c.id)).all()
        digests = []
        for r in rows:
            digest = digest_of(r._asdict())
            if digest in seen:  # schema 1 let a folder be imported twice: the later copy goes
                copies.append(r.id)
            else:
                seen.add(digest)
                digests.append({"key": r.id, "value": digest})
        if digests:
            connection.execute(update(drawings).where(drawings.c.id == bindparam("key")).values(digest=bindparam("value")), digests)
    if copies:
        connection.execute(delete(drawings).where(drawings.c.id.in_(copies)))
        log.warning("schema 2: removed %d drawings that were exact copies of others (imported twice)", len(copies))
    connection.execute(text("CREATE UNIQUE INDEX drawings_digest ON drawings (digest)"))
    limits.create(connection, checkfirst=True)


def _migrate_2_to_3(connection: Connection) -> None:
    """Schema 3: classes. Every drawing kept so far is the default class's; a digest is unique per class."""
    connection.execute(text(f"ALTER TABLE drawings ADD COLUMN class_code VARCHAR({MAX_CODE}) NOT NULL DEFAULT '{DEFAULT_CLASS}'"))
    connection.execute(text("DROP INDEX drawings_digest"))
    for index in drawings.indexes:
        if index.name.startswith("drawings_class_"):
            index.create(connection)
    classes.create(connection, checkfirst=True)
    _add_default_class(connection)


MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _migrate_1_to_2, 2: _migrate_2_to_3}  # from schema N to N + 1

"""The fine-tune's two tables, in the class set's own database, so that every app replica (on any
machine) sees the same jobs and the same models: ``finetune_jobs`` (one row per class: the last
or running job, its progress and heartbeat) and ``finetuned_models`` (one row per class and
model: the weights as safetensors bytes and the run record). Created on first use, beside the
class set's tables and apart from their schema version."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Column, Float, Integer, LargeBinary, MetaData, String, Table, Text, cast, extract, func, literal
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from ..classset.store import ClassSet, ClassSetError

metadata = MetaData()
jobs = Table(
    "finetune_jobs",
    metadata,
    Column("code", String(16), primary_key=True),  # the class: one job at a time each
    Column("token", String(32), nullable=False),  # the claim: only the job holding it writes the row
    Column("state", String(16), nullable=False),  # starting, running, done, failed
    Column("model", String(64), nullable=False),  # the zoo model being taught
    Column("step", Integer, nullable=False),
    Column("steps", Integer, nullable=False),
    Column("points", Text, nullable=False),  # JSON list of the progress points (the curves)
    Column("started", Float, nullable=False),  # the database's clock, in Unix seconds, as is heartbeat
    Column("heartbeat", Float, nullable=False),
    Column("host", String(255)),  # where the job runs, for the server log's reader
    Column("pid", Integer),
    Column("message", Text),  # why it failed
    Column("class_data", Text),  # JSON: the run's class figures (before/after), once done
    Column("seconds", Float),  # how long it took, once done
)
models = Table(
    "finetuned_models",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("name", String(64), primary_key=True),  # <model>+class
    Column("weights", LargeBinary, nullable=False),  # safetensors.torch.save of the state dict
    Column("run", Text, nullable=False),  # the RunRecord as JSON, as a checkpoint's .json holds it
    Column("stamp", String(32), nullable=False),  # new for every save: a replica reloads when it changes
    Column("created", Float, nullable=False),
)

_ready: weakref.WeakSet[Engine] = weakref.WeakSet()  # engines whose database is known to have the tables


def db_now(dialect: str) -> ColumnElement[float]:
    """The database's clock in Unix seconds: heartbeats written on one machine and judged on another
    compare times of one clock, whatever the machines' own clocks say."""
    if dialect == "postgresql":
        return cast(extract("epoch", func.clock_timestamp()), Float)  # numeric otherwise: a Decimal in Python
    return (func.julianday(literal("now")) - 2440587.5) * 86400.0  # SQLite: days since the Julian epoch


def _create(engine: Engine) -> None:
    for attempt in range(2):  # two processes creating them at once: the loser finds them made
        try:
            metadata.create_all(engine, checkfirst=True)
            break
        except (IntegrityError, OperationalError, ProgrammingError):
            if attempt:
                raise
    _ready.add(engine)


@contextmanager
def transaction(store: ClassSet) -> Iterator[Connection]:
    """One transaction on the class set's database, the tables created if missing; a database
    error becomes a ClassSetError that says where."""
    try:
        if store.engine not in _ready:
            _create(store.engine)
        with store.engine.begin() as connection:
            yield connection
    except (SQLAlchemyError, OSError) as err:
        reason = getattr(err, "orig", None) or err
        raise ClassSetError(f"the fine-tunes at {store.where} cannot be used: {reason}") from err

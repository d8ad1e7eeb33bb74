"""The database fixtures of conftest.py: each test gets a database that it can reach and that is empty."""

from __future__ import annotations

import sqlalchemy as sa


def test_database_takes_writes(db_url: str):
    # runs before the test below: had the fixture handed out one database twice, this table would still be there
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE drawing (id INTEGER PRIMARY KEY, label INTEGER)"))
            connection.execute(sa.text("INSERT INTO drawing (id, label) VALUES (1, 7)"))
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT label FROM drawing")).scalar_one() == 7
    finally:
        engine.dispose()


def test_database_is_reachable_and_empty(db_url: str):
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT 1")).scalar_one() == 1
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_session_database_is_postgresql_and_reachable(pg_url: str):
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT current_database()")).scalar_one() == sa.make_url(pg_url).database
        assert engine.dialect.name == "postgresql"
    finally:
        engine.dispose()

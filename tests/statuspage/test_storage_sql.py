"""The storage seam (statuspage.storage.sql): named parameters, dict rows, row counts, write transactions."""

from __future__ import annotations

import pytest

from statuspage.db import connect
from statuspage.storage import sql


@pytest.fixture
def db(tmp_path):
    handle = connect(tmp_path / "seam.db")
    handle.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, n INTEGER)")
    return handle


def test_insert_returning_and_read_back_as_dicts(db):
    first = sql.insert_returning_id(
        db, "INSERT INTO items (name, n) VALUES (:name, :n) RETURNING id", {"name": "a", "n": 1}
    )
    sql.run_many(
        db, "INSERT INTO items (name, n) VALUES (:name, :n)", [{"name": "b", "n": 2}, {"name": "c", "n": 3}]
    )
    assert first == 1
    assert sql.rows(db, "SELECT name, n FROM items WHERE n >= :low ORDER BY n", {"low": 2}) == [
        {"name": "b", "n": 2},
        {"name": "c", "n": 3},
    ]
    assert sql.one(db, "SELECT name FROM items WHERE id = :id", {"id": first}) == {"name": "a"}
    assert sql.one(db, "SELECT name FROM items WHERE id = :id", {"id": 99}) is None
    assert sql.scalar(db, "SELECT count(*) FROM items") == 3


def test_conditional_update_reports_its_row_count(db):
    sql.run(db, "INSERT INTO items (name, n) VALUES (:name, 0)", {"name": "job"})
    claim = "UPDATE items SET n = 1 WHERE name = :name AND n = 0"
    assert sql.run(db, claim, {"name": "job"}) == 1
    assert sql.run(db, claim, {"name": "job"}) == 0


def test_on_conflict_do_nothing_is_a_no_op(db):
    statement = "INSERT INTO items (name, n) VALUES (:name, :n) ON CONFLICT (name) DO NOTHING"
    assert sql.run(db, statement, {"name": "x", "n": 1}) == 1
    assert sql.run(db, statement, {"name": "x", "n": 2}) == 0
    assert sql.scalar(db, "SELECT n FROM items WHERE name = 'x'") == 1


def test_write_rolls_back_on_error(db):
    with pytest.raises(RuntimeError), sql.write(db):
        sql.run(db, "INSERT INTO items (name) VALUES (:name)", {"name": "lost"})
        raise RuntimeError("boom")
    assert sql.scalar(db, "SELECT count(*) FROM items") == 0
    assert sql.engine_name(db) == "sqlite"

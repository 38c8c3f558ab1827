"""The storage seam (statuspage.storage.sql) on both engines: named parameters, dict rows,
row counts, write transactions, the PostgreSQL claims and task locks."""

from __future__ import annotations

import threading

import pytest

from statuspage.storage import sql
from statuspage.storage.postgres_schema import postgres_ddl

pytestmark = pytest.mark.engines("sqlite", "postgresql")

ITEMS = "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, n INTEGER, x REAL)"


@pytest.fixture
def db(database_location, engine):
    handle = sql.open_store(database_location)
    sql.run(handle, postgres_ddl(ITEMS) if engine == "postgresql" else ITEMS)
    yield handle
    sql.close(handle)


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


def test_engine_name(db, engine):
    assert sql.engine_name(db) == engine


def test_aggregates_come_back_as_python_numbers(db):
    sql.run_many(
        db,
        "INSERT INTO items (name, n, x) VALUES (:name, :n, :x)",
        [{"name": "a", "n": 2, "x": 0.1}, {"name": "b", "n": 5, "x": 0.2}],
    )
    assert sql.one(db, "SELECT SUM(n) AS total, MAX(n) AS top, SUM(x) AS xs FROM items") == {
        "total": 7,
        "top": 5,
        "xs": pytest.approx(0.3),
    }
    assert type(sql.scalar(db, "SELECT SUM(n) FROM items")) is int
    assert sql.scalar(db, "SELECT AVG(n) FROM items") == 3.5
    big = 1 << 40  # 64-bit integers survive on both engines
    sql.run(db, "UPDATE items SET n = :n WHERE name = 'a'", {"n": big})
    assert sql.scalar(db, "SELECT n FROM items WHERE name = 'a'") == big


def test_nested_write_joins_the_outer_transaction(db):
    with pytest.raises(RuntimeError), sql.write(db):
        with sql.write(db):
            sql.run(db, "INSERT INTO items (name) VALUES (:name)", {"name": "inner"})
        raise RuntimeError("outer fails")
    assert sql.scalar(db, "SELECT count(*) FROM items") == 0


def test_statements_outside_write_commit_on_their_own(db, database_location):
    sql.run(db, "INSERT INTO items (name) VALUES (:name)", {"name": "seen"})
    other = sql.open_store(database_location)
    try:
        assert sql.scalar(other, "SELECT count(*) FROM items") == 1
    finally:
        sql.close(other)


def test_skip_locked_claims_give_each_row_to_one_claimer(db, database_location, engine):
    if engine != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises claims with BEGIN IMMEDIATE")
    sql.run_many(db, "INSERT INTO items (name, n) VALUES (:name, 0)", [{"name": f"job{i}"} for i in range(4)])
    other = sql.open_store(database_location)
    claim = "SELECT id FROM items WHERE n = 0 ORDER BY id LIMIT 2" + sql.skip_locked(db)
    try:
        with sql.transaction(db):
            mine = [row["id"] for row in sql.rows(db, claim)]
            with sql.transaction(other):
                theirs = [row["id"] for row in sql.rows(other, claim)]
        assert len(mine) == 2 and len(theirs) == 2 and not set(mine) & set(theirs)
    finally:
        sql.close(other)


def test_task_lock_lets_exactly_one_process_run_a_task(db, database_location, engine):
    other = sql.open_store(database_location)
    try:
        with sql.transaction(db):
            assert sql.try_task_lock(db, 42)
            if engine == "postgresql":
                with sql.transaction(other):
                    assert not sql.try_task_lock(other, 42)
                    assert sql.try_task_lock(other, 43)
        with sql.transaction(other):
            assert sql.try_task_lock(other, 42)  # released when the first transaction ended
    finally:
        sql.close(other)


def test_write_transactions_of_two_connections_serialise(db, database_location, engine):
    """Read-then-write under write() never interleaves: the counter ends at exactly 2 x 25."""
    sql.run(db, "INSERT INTO items (name, n) VALUES ('counter', 0)")

    def bump(times: int) -> None:
        handle = sql.open_store(database_location)
        try:
            for _ in range(times):
                with sql.write(handle):
                    value = sql.scalar(handle, "SELECT n FROM items WHERE name = 'counter'")
                    sql.run(handle, "UPDATE items SET n = :n WHERE name = 'counter'", {"n": value + 1})
        finally:
            sql.close(handle)

    threads = [threading.Thread(target=bump, args=(25,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sql.scalar(db, "SELECT n FROM items WHERE name = 'counter'") == 50


def test_run_many_counts_and_tuples(db):
    changed = sql.run_many(
        db, "INSERT INTO items (name, n) VALUES (:name, :n)", [{"name": "a", "n": 1}, {"name": "b", "n": 2}]
    )
    assert changed == 2
    assert (
        sql.run_many(db, "UPDATE items SET n = n + 1 WHERE name = :name", [{"name": "a"}, {"name": "b"}]) == 2
    )
    assert sql.tuples(db, "SELECT name, n FROM items ORDER BY name") == [("a", 2), ("b", 3)]
    names, params = sql.in_list("n", ["a", "b"])
    assert sql.scalar(db, f"SELECT count(*) FROM items WHERE name IN ({names})", params) == 2


def test_a_broken_constraint_raises_the_seams_integrity_error(db):
    sql.run(db, "INSERT INTO items (name) VALUES ('once')")
    with pytest.raises(sql.IntegrityError):
        sql.run(db, "INSERT INTO items (name) VALUES ('once')")
    assert sql.arrival_column(db) in ("rowid", "seq")


def test_an_unreachable_server_is_a_storage_error(postgres):
    from tests.helpers import free_port

    store = sql.open_store(f"postgresql://upwatch@127.0.0.1:{free_port()}/nowhere")
    with pytest.raises(sql.Error):
        sql.scalar(store, "SELECT 1")
    sql.close(store)

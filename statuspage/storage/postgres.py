"""The PostgreSQL engine under the storage seam: SQLAlchemy 2 Core over psycopg 3.

`PostgresStore` is what `sql.Store` is on PostgreSQL: one connection from a
process-wide pool (SQLAlchemy's QueuePool, `pool_pre_ping` so a restarted or
failed-over server costs one failed check, not a failed request), checked out
when the store is first used and returned by `close()`. The connection runs in
autocommit, as the SQLite connections do (`isolation_level=None`): a statement
outside `write()` commits on its own. `write()` opens one transaction on the
psycopg connection (`Connection.transaction()` issues BEGIN even in autocommit)
and takes `WRITE_LOCK` with `pg_advisory_xact_lock` first, so read-then-write
code written for SQLite's single writer (BEGIN IMMEDIATE) keeps its guarantee
across every collector and worker process; the lock ends with the transaction.

Statements are `sqlalchemy.text()` with `:name` parameters, compiled once per
SQL string. NUMERIC results (`SUM` over BIGINT, `AVG`) load as int when whole
and float otherwise, the types the same SQL returns on SQLite.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.adapt import Loader
from sqlalchemy import Connection, CursorResult, Engine, TextClause, create_engine, event, exc, text

from statuspage.storage.locations import redacted

# pg_advisory_xact_lock keys (64-bit): one per task that exactly one process may run at a time.
WRITE_LOCK = 0x75707761_00000001  # every write() transaction: SQLite's single-writer guarantee
# Held shared by every ingest transaction and exclusive by `committed_arrival_horizon`: the
# rollup's "every row up to here has committed" point (see ingest_transaction).
INGEST_BARRIER = 0x75707761_00000002
# pg_advisory_xact_lock(int4, int4) keys (a key space apart from the bigint ones): one agent's
# ingest writes (its results, its agent row, its check states), (AGENT_LOCKS, agent id).
AGENT_LOCKS = 0x7570

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


class _WholeOrFloat(Loader):
    """NUMERIC -> int when integral, else float (what SQLite returns for the same aggregate)."""

    def load(self, data: Any) -> int | float:
        value = Decimal(bytes(data).decode())
        return int(value) if value == value.to_integral_value() else float(value)


def engine_for(url: str) -> Engine:
    """The process-wide engine (and pool) for a URL; created on first use."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _new_engine(url)
            _engines[url] = engine
        return engine


def _new_engine(url: str) -> Engine:
    driver_url = "postgresql+psycopg://" + url.split("://", 1)[1]
    engine = create_engine(
        driver_url,
        pool_size=5,
        max_overflow=20,
        pool_pre_ping=True,
        pool_recycle=3600,
        isolation_level="AUTOCOMMIT",
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: psycopg.Connection[Any], _record: Any) -> None:
        dbapi_connection.adapters.register_loader("numeric", _WholeOrFloat)

    return engine


def _forget_engines_after_fork() -> None:
    # A forked child (gunicorn workers after the master migrated, multiprocessing)
    # must not use the parent's pooled sockets: two processes on one connection
    # corrupt the protocol. dispose(close=False) drops them without closing the
    # parent's; the child opens its own on first use.
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()


os.register_at_fork(after_in_child=_forget_engines_after_fork)


def dispose_all() -> None:
    """Close every pooled connection (tests, and a process about to fork)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def dispose_url(url: str) -> None:
    """Close the pooled connections of one database URL (a test about to drop or copy it)."""
    with _engines_lock:
        engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


@lru_cache(maxsize=2048)
def statement(sql: str) -> TextClause:
    """The compiled `text()` of a SQL string (parsed once per distinct string)."""
    return text(sql)


@contextmanager
def translated_errors() -> Iterator[None]:
    """Raise the driver's errors as the sqlite3 classes the storage code already catches.

    A broken constraint becomes `sqlite3.IntegrityError` (`sql.IntegrityError`);
    an unreachable, restarting or failed-over server, a lock timeout or any
    other database error becomes `sqlite3.OperationalError` (a `sql.Error`),
    so ingest answers 503 and the worker's loop logs and retries, on both engines.
    """
    try:
        yield
    except (exc.IntegrityError, psycopg.IntegrityError) as error:
        raise sqlite3.IntegrityError(str(getattr(error, "orig", error))) from error
    except (exc.DBAPIError, psycopg.Error) as error:
        first = str(getattr(error, "orig", error)).splitlines()
        raise sqlite3.OperationalError(first[0] if first else type(error).__name__) from error


class PostgresStore:
    """One PostgreSQL connection for one request or one worker; see the module docstring."""

    def __init__(self, url: str):
        self.url = url
        self.engine = engine_for(url)
        self._connection: Connection | None = None
        self._depth = 0
        self._holds_write_lock = False

    def connection(self) -> Connection:
        """The store's connection, checked out of the pool on first use (again after a disconnect)."""
        connection = self._connection
        if connection is not None and (connection.closed or connection.invalidated) and not self._depth:
            connection.close()
            connection = None
        if connection is None:
            with translated_errors():
                connection = self.engine.connect()
            self._connection = connection
        return connection

    def execute(
        self, sql: str, params: Mapping[str, Any] | list[dict[str, Any]] | None = None
    ) -> CursorResult[Any]:
        """Run one statement. Errors come as SQLite's classes (`sql.IntegrityError`, `sql.Error`)."""
        with translated_errors():
            return self.connection().execute(statement(sql), params)

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    @contextmanager
    def transaction(self, lock: int | None = WRITE_LOCK) -> Iterator[PostgresStore]:
        """One transaction holding advisory lock `lock` from its start; nested use joins the outer one.

        A nested `write()` (lock WRITE_LOCK) inside a transaction that does not hold the
        write lock yet (an agent's ingest transaction) takes it there, so code written for
        the single writer keeps its guarantee wherever it is called from.
        """
        if self._depth:
            if lock == WRITE_LOCK and not self._holds_write_lock:
                self.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")
                self._holds_write_lock = True
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        begin = "BEGIN" if lock is None else f"BEGIN; SELECT pg_advisory_xact_lock({int(lock)})"
        with self._transaction(begin, holds_write_lock=lock == WRITE_LOCK):
            yield self

    @contextmanager
    def ingest_transaction(self, agent_id: int) -> Iterator[PostgresStore]:
        """One agent's ingest transaction: the lock of that agent only, so agents write in parallel.

        Holds (AGENT_LOCKS, agent_id) (one report of an agent at a time, across every
        collector: the dedupe read of its result ids, its agent row, its check states
        and flips) and INGEST_BARRIER shared (see `committed_arrival_horizon`); not the
        global write lock. Anything shared between agents (component status, incidents)
        is decided in a `write()` under the global lock: nested inside this transaction
        that takes WRITE_LOCK here, but ingest evaluates after committing instead, so it
        never holds an agent's rows while it waits for the global lock.
        """
        if self._depth:
            raise RuntimeError("an ingest transaction cannot nest in another transaction")
        agent_key = int(agent_id) % 2**31
        begin = (
            f"BEGIN; SELECT pg_advisory_xact_lock_shared({INGEST_BARRIER});"
            f" SELECT pg_advisory_xact_lock({AGENT_LOCKS}, {agent_key})"
        )
        with self._transaction(begin, holds_write_lock=False):
            yield self

    @contextmanager
    def _transaction(self, begin: str, holds_write_lock: bool) -> Iterator[None]:
        driver = self.connection().connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        # BEGIN and the locks in one round trip (a parameterless simple query may hold
        # several statements); the connection is in autocommit, so psycopg passes
        # BEGIN/COMMIT through and every statement in between is in the transaction.
        self._depth = 1
        self._holds_write_lock = holds_write_lock
        try:
            with translated_errors():
                driver.execute(begin.encode())
            try:
                yield
            except BaseException:
                if not driver.closed:
                    with translated_errors():
                        driver.execute(b"ROLLBACK")
                raise
            with translated_errors():
                driver.execute(b"COMMIT")
        finally:
            self._depth = 0
            self._holds_write_lock = False

    def close(self) -> None:
        """Return the connection to the pool."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __repr__(self) -> str:
        return f"PostgresStore({redacted(self.url)})"


def committed_arrival_horizon(store: PostgresStore) -> int:
    """The highest results `seq` below which every row has committed, and above which every
    later insert lands; 0 when there are no results.

    With per-agent ingest locks, `seq` numbers are drawn by concurrent transactions and
    commit out of order: a plain max(seq) can pass a smaller number still in flight, and a
    rollup watermark moved to it would skip that row forever. Taking INGEST_BARRIER
    exclusive (every ingest transaction holds it shared) and WRITE_LOCK (every other
    writer, e.g. heartbeats' results) waits for the writers in flight, and no new one
    starts until this short transaction commits, so max(seq) read here is such a point.
    """
    if store.in_transaction:
        # Inside a write() it would take the barrier after WRITE_LOCK: the reverse of ingest's order.
        raise RuntimeError("committed_arrival_horizon must be called outside a transaction")
    with store.transaction(lock=None):
        # In this order: the barrier first, as ingest takes it before anything else.
        store.execute(f"SELECT pg_advisory_xact_lock({INGEST_BARRIER})")
        store.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")
        return int(store.execute("SELECT COALESCE(max(seq), 0) FROM results").scalar_one())


MINIMUM_SERVER_VERSION = 130000  # PostgreSQL 13: identity columns, SKIP LOCKED, transactional DDL we use


def server_version(store: PostgresStore) -> tuple[int, str]:
    """(server_version_num, the server's version string), e.g. (150018, 'PostgreSQL 15.18 ...')."""
    number = int(store.execute("SELECT current_setting('server_version_num')").scalar_one())
    return number, str(store.execute("SELECT version()").scalar_one())

"""Write transactions that take SQLite's write lock up front, and ingest's write queue.

A read-then-write under a plain (deferred) BEGIN can fail with SQLITE_BUSY
when another connection writes in between: the upgrade to a write lock does
not wait on the busy timeout in WAL mode (sqlite.org/lang_transaction.html).
BEGIN IMMEDIATE waits for the lock first, so evaluation in the web process and
in the worker serialise instead of failing or deciding on stale reads.

Both are named SQLite-specific pieces (issue 13): code above storage opens
transactions with `sql.write` (and ingest with `ingest_write`), never with
BEGIN of its own.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlite_utils import Database

if TYPE_CHECKING:
    from statuspage.storage.sql import Store

from statuspage.storage.sqlite_file import BUSY_TIMEOUT_MS, connect, set_autocheckpoint

# One ingest writer at a time per process, queued on a Python lock: SQLite's own busy
# handler polls with sleeps of 1, 2, 5, 10 ... ms, so threads of one process
# contending through it leave the write lock idle between polls. Processes
# still meet at SQLite's lock (BEGIN IMMEDIATE with the busy timeout).
_write_lock = threading.Lock()
# Across processes (gunicorn workers) the same problem: a writer that finds SQLite's
# lock taken sleeps 1, 2, 5 ... ms. A flock on a file beside the database queues the
# processes' ingest writers instead (waiting is polled every LOCK_POLL_S, bounded by
# the busy timeout). One descriptor per process, opened after gunicorn forks.
_process_locks: dict[str, int] = {}
# The connection this process's ingest writes go through, (database, store): one for all
# of gunicorn's threads, used only under `_write_lock`. SQLite empties a connection's page
# cache whenever another connection wrote since its last transaction; with each thread
# writing through its own, every report read again every page it touches (its agent row,
# its check states, the edges of the results' indexes), and now only a write by another
# process makes it do so (about a quarter fewer reads per report of one result,
# bench/ingest.py, issue 18). One slot: a process ingests into one database (tests
# into many in turn, so the previous one is closed rather than kept).
_writer: list[tuple[str, Database]] = []
# Connections inherited across a fork, kept referenced and never closed in the child: a
# SQLite connection must not be used, or closed, in a process it was not opened in.
_inherited: list[Database] = []


def _forget_inherited() -> None:
    # A forked child (gunicorn's workers) opens its own descriptors: a flock belongs to the
    # open file description, which parent and child would share. Closing the child's copies
    # leaves the parent's lock alone. Done at fork time, not by keying on os.getpid(): that
    # is a system call per report. The parent's writer connection is set aside likewise.
    for fd in _process_locks.values():
        os.close(fd)
    _process_locks.clear()
    _inherited.extend(store for _database, store in _writer)
    _writer.clear()


os.register_at_fork(after_in_child=_forget_inherited)

# The lock passes between the two gunicorn workers on most reports (a holder almost never
# finds another report of its own process queued), so the gap between a release and the
# waiter's next try is idle lock time: at one result per report, 1 ms polls cost a quarter
# of the throughput and 0.05 ms (about 0.1 ms once Linux's timer slack is added) gave
# 3-5 % more than 0.2 ms, for one polling thread per process (bench/ingest.py, issue 18).
LOCK_POLL_S = 0.00005


class immediate:  # noqa: N801 - used as `with immediate(db):`, like the function it was
    """Run the block in one BEGIN IMMEDIATE transaction; nested use joins the outer one.

    A class rather than @contextmanager: ingest enters one per report, and a generator-based
    context manager costs a few microseconds more to enter and leave.
    """

    def __init__(self, db: Database):
        self.db = db
        self.joined = False

    def __enter__(self) -> Database:
        self.joined = self.db.conn.in_transaction
        if not self.joined:
            self.db.conn.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: type[BaseException] | None, *_exc: object) -> None:
        if self.joined:
            return
        self.db.conn.execute("ROLLBACK" if exc_type is not None else "COMMIT")


@contextmanager
def ingest_write(db: Store, database: str, agent_id: int | None = None) -> Iterator[Store]:
    """Ingest's write transaction for one agent's report.

    Yields the store to write with. SQLite: queue on this process's lock and the
    cross-process flock beside `database`, then BEGIN IMMEDIATE on the process's
    ingest connection to `database` (`_writer`; `db` is only told apart from a
    PostgreSQL store), the file's one writer. PostgreSQL: `db` itself; with
    `agent_id`, that agent's advisory lock only (`PostgresStore.ingest_transaction`),
    so reports of different agents are written in parallel by every collector;
    without it, `sql.write` (the global write lock).

    Raises sqlite3.OperationalError when the flock is not free within the busy timeout
    (answered 503 like a busy database).
    """
    if not isinstance(db, Database):
        if agent_id is None:
            from statuspage.storage import sql

            with sql.write(db) as store:
                yield store
        else:
            with db.ingest_transaction(agent_id) as store:
                yield store
        return
    # The thread lock and the flock in this one generator, not two more context managers:
    # each costs a few microseconds per report of one result.
    with _write_lock:
        fd = _take_process_lock(database)
        try:
            with immediate(_ingest_connection(database)) as writer:
                yield writer
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)


def evaluates_inside_ingest_write(db: Store) -> bool:
    """Whether ingest runs evaluation inside its write transaction (SQLite) or after it commits.

    SQLite holds the one write lock already, so evaluating in the same transaction
    costs nothing more. On PostgreSQL the ingest transaction holds only its agent's
    lock; evaluation (component status, quorum across agents, incidents) runs after
    it commits, in its own `sql.write` under the global lock, so that it sees every
    agent's committed states and never holds an agent's rows while it waits.
    """
    return isinstance(db, Database)


def _ingest_connection(database: str) -> Database:
    """This process's ingest connection to `database` (call holding `_write_lock`)."""
    if _writer and _writer[0][0] == database:
        return _writer[0][1]
    for _old, store in _writer:
        store.conn.close()
    _writer.clear()
    store = connect(database)
    # Fewer, larger checkpoints: pages rewritten by consecutive reports (the index's
    # right edge, check states) are copied back once, not every time.
    set_autocheckpoint(store.conn, 10000)
    _writer.append((database, store))
    return store


def _take_process_lock(database: str) -> int | None:
    """Take this database's cross-process flock (call holding `_write_lock`); its descriptor,
    or None when the lock file cannot be opened. Raises sqlite3.OperationalError past the
    busy timeout."""
    fd = _process_lock_fd(database)
    if fd is None:
        return None
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise sqlite3.OperationalError("ingest lock busy") from None
            time.sleep(LOCK_POLL_S)


def _process_lock_fd(database: str) -> int | None:
    fd = _process_locks.get(database)
    if fd is None:
        try:
            fd = os.open(database + ".ingest-lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return None  # e.g. a read-only folder: SQLite's own locking still holds
        _process_locks[database] = fd
    return fd

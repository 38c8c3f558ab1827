"""Ingest's cross-process write queue: a flock beside the SQLite file, one descriptor per process."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from statuspage.db import connect
from statuspage.storage import transaction


def _child_can_take_lock(database: str) -> bool:
    """Fork; the child tries the ingest flock once, without waiting. Returns what it found."""
    pid = os.fork()
    if pid == 0:  # the child: its own descriptor, never the parent's (a shared one would "succeed")
        code = 3
        try:
            fd = transaction._process_lock_fd(database)
            assert fd is not None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                code = 0
            except BlockingIOError:
                code = 1
        finally:
            os._exit(code)
    _pid, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    assert code in (0, 1), f"the child failed: exit {code}"
    return code == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_process_queues_behind_the_parents_ingest_write(tmp_path: Path) -> None:
    database = str(tmp_path / "upwatch.db")
    db = connect(database)
    try:
        with transaction.ingest_write(db, database):
            assert not _child_can_take_lock(database)
        assert _child_can_take_lock(database)
        # The parent's own descriptor survived the forks, and the lock is free again.
        with transaction.ingest_write(db, database):
            pass
    finally:
        db.conn.close()


def test_every_thread_writes_through_the_processs_one_ingest_connection(tmp_path: Path) -> None:
    """One connection for all threads, so SQLite keeps its page cache between their reports."""
    database = str(tmp_path / "upwatch.db")
    db = connect(database)
    seen: list[object] = []

    def write() -> None:
        with transaction.ingest_write(db, database) as writer:
            writer.conn.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
            writer.conn.execute("INSERT INTO t VALUES (1)")
            seen.append(writer.conn)

    try:
        threads = [threading.Thread(target=write) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(seen) == 3 and len({id(conn) for conn in seen}) == 1
        assert seen[0] is not db.conn
        assert db.conn.execute("SELECT count(*) FROM t").fetchone()[0] == 3  # committed
    finally:
        db.conn.close()


def test_ingest_into_another_database_closes_the_previous_connection(tmp_path: Path) -> None:
    first, second = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    db = connect(first)
    try:
        with transaction.ingest_write(db, first) as writer:
            previous = writer.conn
        with transaction.ingest_write(db, second) as writer:
            writer.conn.execute("CREATE TABLE t (n INTEGER)")
        with pytest.raises(sqlite3.ProgrammingError):  # closed: no descriptors pile up
            previous.execute("SELECT 1")
        assert (tmp_path / "b.db").exists()
    finally:
        db.conn.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_process_opens_its_own_ingest_connection(tmp_path: Path) -> None:
    database = str(tmp_path / "upwatch.db")
    db = connect(database)
    try:
        with transaction.ingest_write(db, database) as writer:
            writer.conn.execute("CREATE TABLE t (n INTEGER)")
            parents = id(writer.conn)
        pid = os.fork()
        if pid == 0:
            code = 3
            try:
                with transaction.ingest_write(db, database) as writer:
                    writer.conn.execute("INSERT INTO t VALUES (1)")
                    code = 0 if id(writer.conn) != parents else 1
            finally:
                os._exit(code)
        _pid, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        with transaction.ingest_write(db, database) as writer:  # the parent's still works
            assert writer.conn.execute("SELECT count(*) FROM t").fetchone()[0] == 1
    finally:
        db.conn.close()

"""Ingest's cross-process write queue: a flock beside the SQLite file, one descriptor per process."""

from __future__ import annotations

import fcntl
import os
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

"""Write transactions that take SQLite's write lock up front.

A read-then-write under a plain (deferred) BEGIN can fail with SQLITE_BUSY
when another connection writes in between: the upgrade to a write lock does
not wait on the busy timeout in WAL mode (sqlite.org/lang_transaction.html).
BEGIN IMMEDIATE waits for the lock first, so evaluation in the web process and
in the worker serialise instead of failing or deciding on stale reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlite_utils import Database


@contextmanager
def immediate(db: Database) -> Iterator[Database]:
    """Run the block in one BEGIN IMMEDIATE transaction; nested use joins the outer one."""
    if db.conn.in_transaction:
        yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")

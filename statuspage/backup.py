"""Online backup and restore of the SQLite database (`upwatch-statuspage backup|restore`).

Backup uses SQLite's online backup API in one step: it reads one snapshot
inside a single read transaction, so the copy is consistent even while ingest
keeps writing (in WAL mode writers are not blocked; they simply are not part
of the snapshot). Everything committed before the backup started is in it.
The copy is written next to its destination, checked with `PRAGMA
integrity_check`, switched to a self-contained rollback journal, made
readable by its owner only (it holds token hashes) and renamed into place, so
a crash never leaves a half-written file under the final name.

Restore writes through the backup API as well, into the target database
under SQLite's locks, then applies migrations (an older backup is upgraded;
one from a newer upwatch is refused before anything is touched). Replacing an
existing database needs `force=True`: it discards everything written since
the backup, so the operator must say so (and should stop web and worker first).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from statuspage.db import applied_migrations, check_not_newer, connect, migrate
from statuspage.storage.sqlite_file import integrity_problems, make_self_contained, open_file, results_count


class BackupError(Exception):
    """The backup or restore was not done; str(error) says why and what to do."""


@dataclass(frozen=True)
class CopyInfo:
    """What a backup or restore produced."""

    path: Path
    size_bytes: int
    migrations: list[str]
    results: int


def backup_database(database: Path, destination: Path, *, overwrite: bool = False) -> CopyInfo:
    """Copy the live `database` to `destination` consistently; return what was written.

    Raises BackupError when the database is missing or damaged, the destination
    is the database itself, or the destination exists and `overwrite` is False.
    """
    if not database.is_file():
        raise BackupError(f"database {database} does not exist (check UPWATCH_DATABASE)")
    if destination.exists() and destination.resolve() == database.resolve():
        raise BackupError("the backup file must not be the database itself")
    if destination.exists() and not overwrite:
        raise BackupError(f"{destination} exists; choose a new name or pass --force to replace it")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.partial-{os.getpid()}")
    _create_private(partial)
    try:
        source = _open(database)
        try:
            target = sqlite3.connect(str(partial), isolation_level=None)
            try:
                # pages=-1: the whole database in one step, i.e. one snapshot.
                source.backup(target, pages=-1)
                # A backup is one self-contained file, not a WAL database.
                make_self_contained(target)
                _require_intact(target, str(destination))
            finally:
                target.close()
        finally:
            source.close()
        _fsync(partial)
        os.replace(partial, destination)
        _fsync(destination.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    return describe(destination)


def restore_database(backup: Path, database: Path, *, force: bool = False) -> CopyInfo:
    """Replace the contents of `database` with `backup`, then migrate it; return what it holds.

    Raises BackupError when the backup is missing, damaged or not an upwatch
    database, when `database` exists and `force` is False; DatabaseTooNew (from
    statuspage.db) when the backup was written by a newer upwatch. In every
    refusal the target is left untouched.
    """
    if not backup.is_file():
        raise BackupError(f"backup {backup} does not exist")
    if database.exists() and backup.resolve() == database.resolve():
        raise BackupError("the backup file is the database itself")
    _check_backup(backup)
    if database.exists() and database.stat().st_size > 0 and not force:
        raise BackupError(
            f"refusing to overwrite the existing database {database}: it may be live, and everything "
            "written since the backup would be lost. Stop upwatch-web and upwatch-worker, then run "
            "the restore again with --force."
        )
    source = _open(backup)
    try:
        target = connect(database)
        try:
            # Into the target through SQLite's own locking: a process that still
            # has it open sees either the old or the restored database, never a mix.
            source.backup(target.conn, pages=-1, sleep=0.05)
            migrate(target)
            _require_intact(target.conn, str(database))
        finally:
            target.conn.close()
    finally:
        source.close()
    return describe(database)


def describe(path: Path) -> CopyInfo:
    """Size, applied migrations and number of stored results of an upwatch database file."""
    conn = _open(path)
    try:
        db = sqlite_utils.Database(conn)
        return CopyInfo(path, path.stat().st_size, applied_migrations(db), results_count(conn))
    finally:
        conn.close()


def _check_backup(backup: Path) -> None:
    conn = _open(backup, read_only=True)
    try:
        try:
            _require_intact(conn, str(backup))
            db = sqlite_utils.Database(conn)
            if not applied_migrations(db):
                raise BackupError(f"{backup} is not an upwatch database (no upwatch migrations recorded)")
        except sqlite3.DatabaseError as error:
            raise BackupError(f"{backup} is not a readable SQLite database: {error}") from None
        check_not_newer(db)
    finally:
        conn.close()


def _open(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    return open_file(path, read_only=read_only)


def _require_intact(conn: sqlite3.Connection, label: str) -> None:
    problems = integrity_problems(conn)
    if problems != ["ok"]:
        raise BackupError(f"{label}: integrity check failed: {'; '.join(problems[:5])}")


def _create_private(path: Path) -> None:
    # Created 0600 before SQLite opens it (an empty file is a valid empty database).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

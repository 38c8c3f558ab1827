"""Backup and restore: a consistent copy while a real collector ingests, restore refusals,
and the collector's JSON logs carrying the request ids the load sent."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.timeutil import to_iso
from statuspage.backup import BackupError, backup_database, restore_database
from statuspage.db import DatabaseTooNew, connect, known_migrations, migrate
from statuspage.storage.agents import create_agent
from tests.helpers import BIN, free_port, http_get, start, stop, wait_for

ROOT = Path(__file__).resolve().parents[2]


def result_ids(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT id FROM results")}
    finally:
        conn.close()


def seeded_database(path: Path, results: int = 20) -> None:
    db = connect(path)
    migrate(db)
    if not db.execute("SELECT 1 FROM agents WHERE name = 'edge-1'").fetchone():
        create_agent(db, "edge-1", ["eu"], datetime(2026, 1, 1, tzinfo=UTC))
    with db.atomic():
        for _index in range(results):
            db.execute(
                "INSERT INTO results (id, check_id, agent, started_at, received_at, latency_ms, status)"
                " VALUES (?, 'api', 'edge-1', '2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z', 1.0, 'up')",
                [str(uuid.uuid4())],
            )
    db.conn.close()


def test_backup_is_a_private_self_contained_copy(tmp_path: Path) -> None:
    database = tmp_path / "upwatch.db"
    seeded_database(database)
    copy = tmp_path / "backups" / "upwatch-1.db"

    info = backup_database(database, copy)

    assert info.results == 20 and info.migrations == known_migrations()
    assert result_ids(copy) == result_ids(database)
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600  # it holds token hashes
    conn = sqlite3.connect(copy)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()
    assert not [p for p in copy.parent.iterdir() if p.name.startswith(".")]  # no partial left
    with pytest.raises(BackupError, match="exists"):
        backup_database(database, copy)
    backup_database(database, copy, overwrite=True)
    with pytest.raises(BackupError, match="itself"):
        backup_database(database, database, overwrite=True)
    with pytest.raises(BackupError, match="does not exist"):
        backup_database(tmp_path / "missing.db", tmp_path / "x.db")


def test_restore_refuses_a_live_database_without_force(tmp_path: Path) -> None:
    database = tmp_path / "upwatch.db"
    seeded_database(database, results=5)
    copy = tmp_path / "backup.db"
    backup_database(database, copy)
    seeded_database(database, results=7)  # written after the backup
    live = result_ids(database)

    with pytest.raises(BackupError, match="--force"):
        restore_database(copy, database)
    assert result_ids(database) == live

    info = restore_database(copy, database, force=True)
    assert info.results == 5 and result_ids(database) == result_ids(copy)

    fresh = tmp_path / "new" / "upwatch.db"
    restore_database(copy, fresh)  # nothing there yet: no --force needed
    assert result_ids(fresh) == result_ids(copy)


def test_restore_refuses_bad_and_newer_backups(tmp_path: Path) -> None:
    database = tmp_path / "upwatch.db"
    seeded_database(database, results=3)
    before = result_ids(database)

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(BackupError, match="not a readable SQLite database"):
        restore_database(junk, database, force=True)

    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(BackupError, match="not an upwatch database"):
        restore_database(other, database, force=True)

    newer = tmp_path / "newer.db"
    backup_database(database, newer)
    conn = sqlite3.connect(newer)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('upwatch', '9999_x', '')"
    )
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseTooNew, match="9999_x"):
        restore_database(newer, database, force=True)
    assert result_ids(database) == before


@dataclass
class Load:
    """Reports posted in a loop (bounded in count and time) and what the collector acknowledged."""

    url: str
    token: str
    max_reports: int = 5000
    max_seconds: float = 60.0
    acked: list[tuple[float, list[str]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        for number in range(self.max_reports):
            if self.stop.is_set() or time.monotonic() > deadline:
                return
            ids = [str(uuid.uuid4()) for _ in range(5)]
            now = to_iso(datetime.now(UTC))
            body = {
                "agent": "loader",
                "agent_version": "test",
                "sent_at": now,
                "results": [
                    {"id": i, "check_id": "load", "started_at": now, "latency_ms": 1.5, "status": "up"}
                    for i in ids
                ],
            }
            request = urllib.request.Request(
                self.url,
                data=json.dumps(body).encode(),
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {self.token}",
                    "X-Request-ID": f"load-{number}",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    ack = json.loads(response.read())
                    echoed = response.headers["X-Request-ID"]
            except (urllib.error.URLError, TimeoutError) as error:
                self.errors.append(repr(error))
                continue
            if echoed != f"load-{number}":
                self.errors.append(f"request id not echoed: {echoed!r}")
            # Acknowledged = safely stored, as far as the agent is concerned.
            with self.lock:
                self.acked.append((time.monotonic(), [str(i) for i in ack["acknowledged"]]))

    def acked_before(self, moment: float) -> set[str]:
        with self.lock:
            return {i for at, ids in self.acked if at < moment for i in ids}

    def count(self) -> int:
        with self.lock:
            return len(self.acked)


def test_backup_during_ingest_restores_every_acknowledged_result(tmp_path: Path) -> None:
    database = tmp_path / "upwatch.db"
    db = connect(database)
    migrate(db)
    _agent, token = create_agent(db, "loader", [], datetime.now(UTC))
    db.conn.close()
    port = free_port()
    env = {
        "UPWATCH_DATABASE": str(database),
        "UPWATCH_LOG_FORMAT": "json",
        "UPWATCH_WEB_BIND": f"127.0.0.1:{port}",
        "UPWATCH_WEB_WORKERS": "2",
    }
    # The production path: gunicorn with the shipped config file.
    collector = start(
        [str(BIN / "gunicorn"), "--config", str(ROOT / "deploy" / "gunicorn.conf.py")],
        env,
        tmp_path / "collector.log",
    )
    load = Load(f"http://127.0.0.1:{port}/api/v1/agent/reports", token)
    loader = threading.Thread(target=load.run, daemon=True)
    try:
        wait_for(lambda: http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200, timeout_s=30)
        loader.start()
        wait_for(lambda: load.count() >= 30, timeout_s=30)

        backup_started = time.monotonic()
        acked_before = load.acked_before(backup_started)
        copy = tmp_path / "backup.db"
        taken = subprocess.run(  # noqa: S603
            [str(BIN / "upwatch-statuspage"), "backup", str(copy)],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        backup_finished = time.monotonic()
        assert taken.returncode == 0, taken.stderr
        assert "backup written" in taken.stdout
        # Keep ingesting a little after the backup, then stop the load.
        assert loader.is_alive(), "the load ended before the backup finished; raise its bounds"
        target = load.count() + 10
        wait_for(lambda: load.count() >= target, timeout_s=30)
    finally:
        load.stop.set()
        loader.join(timeout=30)
        stop(collector)

    assert not load.errors, load.errors[:5]
    during = [at for at, _ids in load.acked if backup_started <= at <= backup_finished]
    restored = tmp_path / "restored" / "upwatch.db"
    done = subprocess.run(  # noqa: S603
        [str(BIN / "upwatch-statuspage"), "restore", str(copy)],
        env={**os.environ, **env, "UPWATCH_DATABASE": str(restored)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    in_restore = result_ids(restored)
    missing = acked_before - in_restore
    assert not missing, f"{len(missing)} acknowledged results missing from the restore"
    assert len(acked_before) >= 150
    assert during, "the backup should have run while reports were being acknowledged"
    # A snapshot: only results the load sent, and not those written after the backup.
    assert in_restore <= load.acked_before(time.monotonic())
    assert len(result_ids(database)) > len(in_restore)

    # Restoring over the (now stopped, but existing) live database needs --force.
    refused = subprocess.run(  # noqa: S603
        [str(BIN / "upwatch-statuspage"), "restore", str(copy)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1 and "--force" in refused.stderr

    # JSON logs: every line parses; access lines carry the ids the load sent.
    lines = (tmp_path / "collector.log").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    access = [r for r in records if r["logger"] == "gunicorn.access" and r["path"] == "/api/v1/agent/reports"]
    assert len(access) >= 30
    assert all(r["request_id"].startswith("load-") and r["status"] == 200 for r in access)
    assert {r["level"] for r in records} <= {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}

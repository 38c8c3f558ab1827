"""Online backup while ingest writes: how long `backup_database` takes on a database of N
results, how fast it copies, and how many writes the concurrent writer still commits meanwhile
(WAL: the backup's one read snapshot does not block writers). Then restore into a new file.

    .venv/bin/python bench/backup.py [--results 500000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from statuspage.backup import backup_database, restore_database  # noqa: E402
from statuspage.db import connect, migrate  # noqa: E402

ROW = (
    "INSERT INTO results (id, check_id, agent, started_at, received_at, latency_ms, status, metrics)"
    " VALUES (?, 'api', 'edge-1', '2026-11-27T12:00:00.000000Z', '2026-11-27T12:00:01.000000Z', 12.5, 'up',"
    ' \'{"http_status": 200, "bytes": 512}\')'
)


def fill(path: Path, count: int) -> None:
    db = connect(path)
    migrate(db)
    for start in range(0, count, 10_000):
        with db.atomic():
            db.conn.executemany(ROW, [(str(uuid.uuid4()),) for _ in range(min(10_000, count - start))])
    db.conn.close()


def writer(path: Path, stop: threading.Event, commits: list[float]) -> None:
    """Ingest-like load: a transaction of 5 results every ~2 ms until stopped."""
    db = connect(path)
    while not stop.is_set():
        with db.atomic():
            db.conn.executemany(ROW, [(str(uuid.uuid4()),) for _ in range(5)])
        commits.append(time.monotonic())
        time.sleep(0.002)
    db.conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", type=int, default=500_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "upwatch.db"
        started = time.perf_counter()
        fill(database, args.results)
        print(f"filled {args.results} results in {time.perf_counter() - started:.1f} s")

        stop = threading.Event()
        commits: list[float] = []
        thread = threading.Thread(target=writer, args=(database, stop, commits))
        thread.start()
        time.sleep(0.5)
        began = time.monotonic()
        info = backup_database(database, Path(folder) / "backup.db")
        ended = time.monotonic()
        time.sleep(0.5)
        stop.set()
        thread.join()

        seconds = ended - began
        during = sum(1 for at in commits if began <= at <= ended)
        before = sum(1 for at in commits if at < began) / 0.5
        mib = info.size_bytes / 2**20
        print(f"backup: {mib:.0f} MiB, {info.results} results in {seconds:.2f} s ({mib / seconds:.0f} MiB/s)")
        print(
            f"writer during the backup: {during} commits ({during / seconds:.0f}/s; "
            f"{before:.0f}/s before it) - writers are not blocked"
        )
        started = time.perf_counter()
        restored = restore_database(Path(folder) / "backup.db", Path(folder) / "restored.db")
        print(f"restore: {restored.results} results in {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()

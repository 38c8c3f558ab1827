"""The storage seam on both engines: results rows/s written through `sql.write` + `sql.run_many`
at batch 1 and 100, by 1 and 2 writer processes, on a SQLite file and on a throwaway PostgreSQL
server (tests/pg.py), beside copy-database's rows/s.

This is the layer under ingest (no HTTP, no evaluation): it shows what each engine costs per
write transaction and what a second writer process adds. Bounded: each phase runs SECONDS.

    .venv/bin/python bench/storage_engines.py [--seconds 3]

Prints figures and the load average; it is not a test.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.ids import new_result_id  # noqa: E402
from statuspage.db import migrate  # noqa: E402
from statuspage.storage import sql  # noqa: E402
from tests.pg import PostgresServer  # noqa: E402

INSERT = (
    "INSERT INTO results (id, check_id, agent, started_at, received_at, latency_ms, status)"
    " VALUES (:id, :check_id, 'bench', :at, :at, 1.5, 'up') ON CONFLICT (id) DO NOTHING"
)


def writer(location: str, batch: int, seconds: float, counts: mp.Queue) -> None:  # type: ignore[type-arg]
    store = sql.open_store(location)
    done = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rows = [
            {"id": str(new_result_id()), "check_id": f"c{i % 20}", "at": "2026-12-01T00:00:00.000+00:00"}
            for i in range(batch)
        ]
        with sql.write(store):
            sql.run_many(store, INSERT, rows)
        done += batch
    sql.close(store)
    counts.put(done)


def phase(location: str, batch: int, writers: int, seconds: float) -> float:
    counts: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    processes = [mp.Process(target=writer, args=(location, batch, seconds, counts)) for _ in range(writers)]
    for process in processes:
        process.start()
    total = sum(counts.get() for _ in processes)
    for process in processes:
        process.join()
    return total / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, cpus: {os.cpu_count()}")
    root = Path(tempfile.mkdtemp(prefix="upwatch-bench-pg-"))
    server = PostgresServer(root)  # the server runs as nobody: it owns the folder
    server.start()
    try:
        locations = {"sqlite": str(root / "bench.db"), "postgresql": server.new_database()}
        for location in locations.values():
            store = sql.open_store(location)
            migrate(store)
            sql.close(store)
        print(f"{'engine':<12}{'batch':>6}{'writers':>8}{'rows/s':>12}")
        for name, location in locations.items():
            for batch in (1, 100):
                for writers in (1, 2):
                    rate = phase(location, batch, writers, args.seconds)
                    print(f"{name:<12}{batch:>6}{writers:>8}{rate:>12,.0f}")
        from statuspage.copy_database import copy_database

        started = time.monotonic()
        summary = copy_database(locations["sqlite"], server.new_database())
        rows = sum(summary.rows.values())
        print(f"copy-database sqlite -> postgresql: {rows:,} rows in {time.monotonic() - started:.1f} s")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

"""Result keys as 36-character text (today) or as 16-byte blobs, side by side (issue 18).

Two SQLite files with the results table and indexes as the migrations make them
(the key's type swapped in the second), each filled with the same number of
rows of UUIDv7 ids (what agents send: time-ordered, so the key index grows at
its right edge). Then reports of 500 results are inserted
into each in turn, the ids taken from the parsed report's UUID objects as
ingest has them: text through the same pydantic dump ingest uses, blobs as
`UUID.bytes`. Prints the median insert per report and each file's size.

    .venv/bin/python bench/result_keys.py [--rows 1000000] [--reports 200]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from pydantic import TypeAdapter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.ids import new_result_id  # noqa: E402
from statuspage.db import migrate  # noqa: E402
from statuspage.storage.sqlite_file import connect  # noqa: E402

KEY_TYPES = ("TEXT", "BLOB")
ID_TEXTS = TypeAdapter(list[uuid.UUID])
INSERT = (
    "INSERT INTO results (id, check_id, agent, started_at, received_at, latency_ms, status)"
    " VALUES (?, 'api', 'edge-1', '2026-12-04T01:00:00.000000Z', '2026-12-04T01:00:01.000000Z', 12.5, 'up')"
)


def results_schema(folder: Path) -> list[str]:
    """The results table and its indexes as the migrations make them today."""
    store = connect(Path(folder) / "schema.db")
    migrate(store)
    rows = store.conn.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'results' AND sql IS NOT NULL ORDER BY type DESC"
    ).fetchall()  # 'table' sorts after 'index': DESC creates the table first
    store.conn.close()
    return [str(row[0]) for row in rows]


def create(path: Path, schema: list[str], key_type: str) -> sqlite3.Connection:
    conn = connect(path).conn
    for statement in schema:
        conn.execute(statement.replace("id TEXT PRIMARY KEY", f"id {key_type} PRIMARY KEY"))
    return conn


def keys(ids: list[uuid.UUID], key_type: str) -> list[tuple[object]]:
    if key_type == "TEXT":
        return [(text,) for text in ID_TEXTS.dump_python(ids, mode="json")]
    return [(key.bytes,) for key in ids]


def insert(conn: sqlite3.Connection, ids: list[uuid.UUID], key_type: str) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(INSERT, keys(ids, key_type))
    conn.execute("COMMIT")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in each table before timing")
    parser.add_argument("--reports", type=int, default=200, help="reports of 500 results timed per key type")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        paths = {key_type: Path(folder) / f"{key_type.lower()}.db" for key_type in KEY_TYPES}
        schema = results_schema(Path(folder))
        if not any("id TEXT PRIMARY KEY" in statement for statement in schema):
            raise SystemExit("results' key is no longer `id TEXT PRIMARY KEY`: update this bench")
        conns = {key_type: create(path, schema, key_type) for key_type, path in paths.items()}
        for start in range(0, args.rows, 10_000):
            batch = [new_result_id() for _ in range(min(10_000, args.rows - start))]
            for key_type, conn in conns.items():
                insert(conn, batch, key_type)
        print(f"filled {args.rows:,} rows per table")
        timings: dict[str, list[float]] = {key_type: [] for key_type in KEY_TYPES}
        for _ in range(args.reports):
            ids = [new_result_id() for _ in range(500)]
            for key_type, conn in conns.items():  # interleaved: both see the same machine load
                started = time.perf_counter()
                insert(conn, ids, key_type)
                timings[key_type].append(time.perf_counter() - started)
        for key_type, conn in conns.items():
            conn.close()  # the last connection's close checkpoints the WAL into the file
            size = paths[key_type].stat().st_size
            median_ms = statistics.median(timings[key_type]) * 1000
            print(
                f"{key_type:4} keys: {median_ms:.2f} ms per report of 500 "
                f"(median of {args.reports}), file {size / 2**20:.0f} MiB"
            )
        ratio = statistics.median(timings["BLOB"]) / statistics.median(timings["TEXT"])
        print(f"16-byte keys take {ratio:.2f}x the time of text keys")


if __name__ == "__main__":
    main()

"""CPU seconds of the processes a benchmark started (Linux /proc), so a figure can say whose CPU it is."""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stats() -> list[list[str]]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # Fields after the command name (which may hold spaces): state is [0], ppid [1], pgrp [2].
            found.append([stat.parent.name, *stat.read_text().rsplit(")", 1)[1].split()])
        except OSError:
            continue
    return found


def group_cpu_s(pgid: int) -> float:
    """User + system CPU seconds of the live processes of process group `pgid`, children reaped included."""
    total = 0.0
    for fields in _stats():
        if int(fields[3]) == pgid:
            total += sum(int(value) for value in fields[12:16]) / TICK
    return total


def postgres_cpu_s(url: str) -> float | None:
    """CPU seconds of a PostgreSQL server on this machine: the postmaster, its live backends
    and the ones that ended (counted in the postmaster's reaped-children time). None when the
    server is not local or not readable (a `--database` elsewhere)."""
    if not url.startswith("postgresql"):
        return None
    try:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            data = conn.execute("SHOW data_directory").fetchone()[0]  # type: ignore[index]
        postmaster = int((Path(data) / "postmaster.pid").read_text().split()[0])
    except Exception:  # noqa: BLE001 - not local, not ours to read: the figure is just absent
        return None
    total = 0.0
    for fields in _stats():
        pid, ppid = int(fields[0]), int(fields[2])
        if pid == postmaster:
            total += sum(int(value) for value in fields[12:16]) / TICK
        elif ppid == postmaster:
            total += sum(int(value) for value in fields[12:14]) / TICK
    return total

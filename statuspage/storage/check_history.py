"""What one check's page reads: latency rollups per location, recent results and state flips."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.timeutil import from_iso, to_iso
from statuspage.storage import sql

# Rollup table -> length of its ISO bucket prefix (minute "2026-11-27T12:05", hour, day).
ROLLUPS = {"minute": ("rollups_minute", 16), "hour": ("rollups_hour", 13), "day": ("rollups_day", 10)}


@dataclass(frozen=True)
class Bucket:
    agent: str
    bucket: str  # ISO prefix of the period's start
    count: int
    down: int
    avg_ms: float
    max_ms: float


@dataclass(frozen=True)
class RecentResult:
    agent: str
    started_at: datetime
    status: str
    latency_ms: float
    error: str | None
    metrics: dict[str, float]
    status_code: int | None


@dataclass(frozen=True)
class Flip:
    agent: str
    at: datetime
    old_status: str
    new_status: str


def latency_buckets(db: sql.Store, check_id: str, granularity: str, since: datetime) -> list[Bucket]:
    """Rollup buckets of a check from `since` on, per location, oldest first.

    `granularity` is "minute", "hour" or "day" (raises KeyError otherwise).
    """
    table, length = ROLLUPS[granularity]
    found = sql.rows(
        db,
        f"SELECT agent, bucket, count, down, latency_sum_ms, latency_max_ms FROM {table}"  # noqa: S608 - allow-listed
        " WHERE check_id = :check_id AND bucket >= :since ORDER BY agent, bucket",
        {"check_id": check_id, "since": to_iso(since)[:length]},
    )
    return [
        Bucket(
            r["agent"],
            r["bucket"],
            r["count"],
            r["down"],
            r["latency_sum_ms"] / max(r["count"], 1),
            r["latency_max_ms"],
        )  # fmt: skip
        for r in found
    ]


def recent_results(db: sql.Store, check_id: str, limit: int = 50) -> list[RecentResult]:
    """The newest results of a check from every location, newest first."""
    found = sql.rows(
        db,
        "SELECT agent, started_at, status, latency_ms, error, metrics, detail FROM results"
        " WHERE check_id = :check_id ORDER BY started_at DESC LIMIT :limit",
        {"check_id": check_id, "limit": limit},
    )
    return [_result(r) for r in found]


def _result(row: dict[str, Any]) -> RecentResult:
    metrics = json.loads(row["metrics"] or "{}")
    detail = json.loads(row["detail"] or "{}")
    code = detail.get("status_code")
    return RecentResult(
        row["agent"], from_iso(row["started_at"]), row["status"], row["latency_ms"], row["error"],
        {k: float(v) for k, v in metrics.items() if isinstance(v, int | float)},
        code if isinstance(code, int) else None,
    )  # fmt: skip


def recent_flips(db: sql.Store, check_id: str, limit: int = 30) -> list[Flip]:
    """The newest state changes of a check at every location, newest first."""
    found = sql.rows(
        db,
        "SELECT agent, at, old_status, new_status FROM flips WHERE check_id = :check_id"
        " ORDER BY at DESC, id DESC LIMIT :limit",
        {"check_id": check_id, "limit": limit},
    )
    return [Flip(r["agent"], from_iso(r["at"]), r["old_status"], r["new_status"]) for r in found]

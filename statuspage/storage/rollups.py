"""Rollups maintained incrementally by the worker, so pages never scan raw results.

- Results -> per-minute, hourly and daily rollups per (check, agent), plus
  lifetime counters, by an arrival-order watermark (`sql.arrival_column`: the
  rowid on SQLite): each pass aggregates only the rows that arrived since the
  last one, by their own `started_at` (a late result, an agent's spool
  draining, lands in its old bucket). One grouped read per span, outside the
  write lock; the upserts and the watermark move under it, after checking that
  no other worker moved the watermark meanwhile.
- Component status intervals -> `component_days`: seconds of each status per
  UTC day. Maintenance windows are carved out first, so uptime excludes them.
- Pruning: raw results after `raw_retention` (never rows not yet rolled up),
  minute rollups after `minute_rollup_retention`, hourly/daily after `rollup_retention`.

Uptime follows Atlassian Statuspage's weighting: a major outage counts fully as
downtime, a partial outage 30%, degraded performance counts as up; time without
data and time in maintenance count on neither side.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.timeutil import from_iso, to_iso
from statuspage.engine.sla import PARTIAL_OUTAGE_WEIGHT
from statuspage.settings import Settings
from statuspage.storage import sql
from statuspage.storage.sql import Store

WATERMARK = "results_rowid"  # the stored name predates the second engine; its value is an arrival number
RESULTS_BATCH = 20_000
MAX_BATCHES_PER_PASS = 10
DAYS_EVERY = timedelta(seconds=60)
PRUNE_EVERY = timedelta(minutes=10)
PRUNE_BATCH = 5_000

# Bucket = the ISO text of the period start, cut to its length (times are stored by to_iso).
GRANULARITIES = {"rollups_minute": 16, "rollups_hour": 13, "rollups_day": 10}
STATUS_COLUMNS = {
    "operational": "operational_s",
    "degraded_performance": "degraded_s",
    "partial_outage": "partial_s",
    "major_outage": "major_s",
    "under_maintenance": "maintenance_s",
}


@dataclass(frozen=True)
class DayFigures:
    """Seconds of each status in one UTC day (maintenance carved out)."""

    operational_s: float = 0.0
    degraded_s: float = 0.0
    partial_s: float = 0.0
    major_s: float = 0.0
    maintenance_s: float = 0.0
    unknown_s: float = 0.0

    @property
    def counted_s(self) -> float:
        return self.operational_s + self.degraded_s + self.partial_s + self.major_s

    @property
    def uptime(self) -> float | None:
        """Uptime ratio 0..1, or None when the day has no counted time."""
        if self.counted_s <= 0:
            return None
        down = self.major_s + PARTIAL_OUTAGE_WEIGHT * self.partial_s
        return max(0.0, 1.0 - down / self.counted_s)

    def __add__(self, other: DayFigures) -> DayFigures:
        return DayFigures(
            self.operational_s + other.operational_s,
            self.degraded_s + other.degraded_s,
            self.partial_s + other.partial_s,
            self.major_s + other.major_s,
            self.maintenance_s + other.maintenance_s,
            self.unknown_s + other.unknown_s,
        )


def get_watermark(db: Store, name: str) -> str | None:
    found = sql.scalar(db, "SELECT value FROM rollup_watermarks WHERE name = :name", {"name": name})
    return None if found is None else str(found)


def _set_watermark(db: Store, name: str, value: str) -> None:
    sql.run(
        db,
        "INSERT INTO rollup_watermarks (name, value) VALUES (:name, :value)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        {"name": name, "value": value},
    )


def maintain(db: Store, settings: Settings, now: datetime) -> dict[str, int]:
    """The worker's rollup pass: results since the watermark, component days when due, pruning.

    Returns counts of what it did (for logs and tests).
    """
    done = {"results": roll_up_results(db)}
    if _due(db, "component_days_at", now, DAYS_EVERY) or _history_changed(db):
        done["days"] = refresh_component_days(db, now)
    if _due(db, "pruned_at", now, PRUNE_EVERY):
        done["pruned"] = prune(db, settings, now)
    return done


def _due(db: Store, name: str, now: datetime, every: timedelta) -> bool:
    last = get_watermark(db, name)
    return last is None or now - from_iso(last) >= every or now < from_iso(last)


def _history_stamp(db: Store) -> str:
    row = sql.tuples(db, "SELECT max(id), max(ended_at) FROM component_status_history")[0]
    return f"{row[0]}|{row[1]}"


def _history_changed(db: Store) -> bool:
    return _history_stamp(db) != get_watermark(db, "history_stamp")


def roll_up_results(db: Store) -> int:
    """Fold results that arrived since the last pass into every rollup; return how many.

    Each span is read and aggregated outside the write lock (`read_results_span`) and
    written under it only if no other worker moved the watermark meanwhile
    (`apply_results_span`); a span another worker took is read again from its new start.
    """
    done = 0
    # PostgreSQL: no further than every row has committed (ingest runs per agent in parallel).
    horizon = sql.committed_arrival_horizon(db)
    for _ in range(MAX_BATCHES_PER_PASS):
        span = read_results_span(db, horizon)
        if span is None:
            break
        if apply_results_span(db, span):
            done += span.results
    return done


@dataclass(frozen=True)
class ResultsSpan:
    """Raw results with arrival numbers in (start, end], aggregated and ready to upsert.

    `rollups` maps each rollup table to its rows (check_id, agent, bucket, count, up,
    degraded, down, latency_sum_ms, latency_max_ms); `counters` holds (check_id, agent,
    status, total) with totals above zero.
    """

    start: int
    end: int
    results: int
    rollups: dict[str, list[dict[str, Any]]]
    counters: list[dict[str, Any]]


_ROLLUP_COLUMNS = (
    "check_id", "agent", "bucket", "count", "up", "degraded", "down", "latency_sum_ms", "latency_max_ms",
)  # fmt: skip
# results.status is one of these (a CHECK constraint), in the order of the up, degraded, down columns.
_COUNTED_STATUSES = ("up", "degraded", "down")


def read_results_span(db: Store, horizon: int | None) -> ResultsSpan | None:
    """The next span of results after the watermark, aggregated; None when nothing new arrived.

    Call outside a transaction: it takes no lock. Raw results are immutable once
    committed (ingest only inserts; prune deletes only rows at or below the watermark,
    which this span is above), and every row up to `top` has committed (SQLite has one
    writer; on PostgreSQL `horizon` is `sql.committed_arrival_horizon`), so a plain read
    sees the span whole. `apply_results_span` re-checks the watermark under the lock.
    """
    arrival = sql.arrival_column(db)
    start = int(get_watermark(db, WATERMARK) or 0)
    top = int(sql.scalar(db, f"SELECT max({arrival}) FROM results") or 0)  # noqa: S608 - a column
    if horizon is not None:
        top = min(top, horizon)
    if top <= start:
        return None
    end = min(top, start + RESULTS_BATCH)
    # One scan of the span grouped by minute (a row per check, agent and minute, in
    # _ROLLUP_COLUMNS order); hours, days and counters are folded from it below. The pass
    # used to run five scans of the same rows (one per granularity, the counters, a count)
    # inside the write lock, and on SQLite that lock is the one every agent report queues
    # for: ingest's bottleneck (issue 18).
    minutes = sql.tuples(
        db,
        f"SELECT check_id, agent, substr(started_at, 1, {GRANULARITIES['rollups_minute']}), count(*),"  # noqa: S608
        " sum(CASE WHEN status = 'up' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 'degraded' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 'down' THEN 1 ELSE 0 END), sum(latency_ms), max(latency_ms)"
        f" FROM results WHERE {arrival} > :start AND {arrival} <= :end GROUP BY 1, 2, 3",
        {"start": start, "end": end},
    )
    hours = _sum_by_bucket(minutes, GRANULARITIES["rollups_hour"])
    days = _sum_by_bucket(hours, GRANULARITIES["rollups_day"])
    counters: dict[tuple[str, str, str], int] = defaultdict(int)
    for check_id, agent, _day, _count, *by_status, _sum, _max in days:
        for status, total in zip(_COUNTED_STATUSES, by_status, strict=True):
            counters[(check_id, agent, status)] += total
    return ResultsSpan(
        start=start,
        end=end,
        results=sum(group[3] for group in days),
        rollups={
            table: [dict(zip(_ROLLUP_COLUMNS, group, strict=True)) for group in groups]
            for table, groups in (("rollups_minute", minutes), ("rollups_hour", hours), ("rollups_day", days))
        },
        # Only statuses present in the span, as the SQL GROUP BY status over raw rows produced them.
        counters=[
            {"check_id": check_id, "agent": agent, "status": status, "total": total}
            for (check_id, agent, status), total in counters.items()
            if total
        ],
    )


def _sum_by_bucket(groups: list[tuple[Any, ...]], length: int) -> list[tuple[Any, ...]]:
    """Rollup groups (`_ROLLUP_COLUMNS` order) summed into the coarser buckets cut to `length`.

    An hour is the sum of its minutes and a day of its hours, so each level reads the
    one below, not the raw rows. (Latency sums are then added in another order than one
    SQL sum over raw rows would: equal up to float rounding.)
    """
    found: dict[tuple[str, str, str], list[Any]] = {}
    for check_id, agent, bucket, count, up, degraded, down, latency_sum_ms, latency_max_ms in groups:
        key = (check_id, agent, bucket[:length])
        group = found.get(key)
        if group is None:
            found[key] = [count, up, degraded, down, latency_sum_ms, latency_max_ms]
            continue
        group[0] += count
        group[1] += up
        group[2] += degraded
        group[3] += down
        group[4] += latency_sum_ms
        group[5] = max(group[5], latency_max_ms)
    return [(*key, *figures) for key, figures in found.items()]


def apply_results_span(db: Store, span: ResultsSpan) -> bool:
    """Add a span's figures to the rollups and move the watermark past it, under the write lock.

    Returns False, writing nothing, when the watermark is no longer the span's start:
    another worker (two in the HA setup) folded those results since the span was read,
    and adding them again would count them twice. The watermark only grows, so an
    unchanged value means nobody wrote in between (an optimistic check, instead of
    holding the lock across the read).
    """
    with sql.write(db):
        if int(get_watermark(db, WATERMARK) or 0) != span.start:
            return False
        for table, found in span.rollups.items():
            sql.run_many(db, _UPSERT_ROLLUP[table], found)
        sql.run_many(db, _UPSERT_COUNTERS, span.counters)
        _set_watermark(db, WATERMARK, str(span.end))
    return True


# Counts and sums add to what earlier spans stored in the bucket (a late result lands in an
# old one), the maximum takes the larger.
_UPSERT_ROLLUP = {
    table: f"INSERT INTO {table} ({', '.join(_ROLLUP_COLUMNS)})"  # noqa: S608 - names are ours
    f" VALUES ({', '.join(':' + c for c in _ROLLUP_COLUMNS)})"
    f" ON CONFLICT (check_id, agent, bucket) DO UPDATE SET count = {table}.count + excluded.count,"
    f" up = {table}.up + excluded.up, degraded = {table}.degraded + excluded.degraded,"
    f" down = {table}.down + excluded.down,"
    f" latency_sum_ms = {table}.latency_sum_ms + excluded.latency_sum_ms,"
    f" latency_max_ms = CASE WHEN excluded.latency_max_ms > {table}.latency_max_ms"
    f" THEN excluded.latency_max_ms ELSE {table}.latency_max_ms END"
    for table in GRANULARITIES
}
_UPSERT_COUNTERS = (
    "INSERT INTO result_counters (check_id, agent, status, total) VALUES (:check_id, :agent, :status, :total)"
    " ON CONFLICT (check_id, agent, status) DO UPDATE SET total = result_counters.total + excluded.total"
)


def refresh_component_days(db: Store, now: datetime) -> int:
    """Recompute `component_days` from the last computed day through today; return rows written.

    Days before the watermark are final (their intervals are closed), except
    when a maintenance window recorded since then reaches back into them.
    """
    today = now.astimezone(UTC).date()
    last = get_watermark(db, "component_days_day")
    if last is None:
        first_at = sql.scalar(db, "SELECT min(started_at) FROM component_status_history")
        first = from_iso(first_at).date() if first_at else today
    else:
        first = min(date.fromisoformat(last), today)
    since = get_watermark(db, "maintenance_stamp") or ""
    reach = sql.tuples(
        db,
        "SELECT min(coalesce(started_at, scheduled_for)), max(updated_at) FROM maintenances"
        " WHERE updated_at > :since",
        {"since": since},
    )[0]
    if reach[0]:
        first = min(first, from_iso(reach[0]).date())
    written = 0
    with sql.write(db):
        day = first
        while day <= today:
            written += _write_day(db, day, now)
            day += timedelta(days=1)
        if first < today:
            # Pages keep the rendered past days until this changes (statuspage.public.snapshot).
            _set_watermark(db, "component_days_past_version", to_iso(now))
        _set_watermark(db, "component_days_day", today.isoformat())
        _set_watermark(db, "component_days_at", to_iso(now))
        if reach[1]:
            _set_watermark(db, "maintenance_stamp", reach[1])
        _set_watermark(db, "history_stamp", _history_stamp(db))
    return written


def _write_day(db: Store, day: date, now: datetime) -> int:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = min(start + timedelta(days=1), now)
    if end <= start:
        return 0
    rows = sql.tuples(
        db,
        "SELECT component_id, status, started_at, ended_at FROM component_status_history"
        " WHERE started_at < :end AND (ended_at IS NULL OR ended_at > :start)",
        {"end": to_iso(end), "start": to_iso(start)},
    )
    windows = _maintenance_windows(db, start, end, now)
    seconds: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for component_id, status, started_at, ended_at in rows:
        a = max(from_iso(started_at), start)
        b = min(from_iso(ended_at) if ended_at else now, end)
        if b <= a:
            continue
        carved = _overlap_s(a, b, windows.get(component_id, []))
        column = "maintenance_s" if status == "under_maintenance" else STATUS_COLUMNS.get(status, "unknown_s")
        seconds[component_id][column] += (b - a).total_seconds() - carved
        seconds[component_id]["maintenance_s"] += carved
    sql.run_many(
        db,
        _WRITE_DAY,
        (
            {
                "component_id": component_id,
                "day": day.isoformat(),
                **{c: round(figures[c], 3) for c in DAY_COLUMNS},
            }
            for component_id, figures in seconds.items()
        ),
    )
    return len(seconds)


DAY_COLUMNS = ("operational_s", "degraded_s", "partial_s", "major_s", "maintenance_s", "unknown_s")
_WRITE_DAY = (
    f"INSERT INTO component_days (component_id, day, {', '.join(DAY_COLUMNS)})"  # noqa: S608 - ours
    f" VALUES (:component_id, :day, {', '.join(':' + c for c in DAY_COLUMNS)})"
    " ON CONFLICT (component_id, day) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in DAY_COLUMNS)
)


def _maintenance_windows(
    db: Store, start: datetime, end: datetime, now: datetime
) -> dict[str, list[tuple[datetime, datetime]]]:
    """Merged maintenance windows per component that overlap [start, end): the actual
    start/end when recorded, else the schedule; only windows that started count."""
    rows = sql.tuples(
        db,
        "SELECT mc.component_id, m.status, m.scheduled_for, m.scheduled_until, m.started_at, m.completed_at"
        " FROM maintenances m JOIN maintenance_components mc ON mc.maintenance_id = m.id"
        " WHERE m.status IN ('in_progress', 'completed')"
        " AND coalesce(m.started_at, m.scheduled_for) < :end"
        " AND coalesce(m.completed_at, m.scheduled_until) > :start",
        {"end": to_iso(end), "start": to_iso(start)},
    )
    windows: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for component_id, status, scheduled_for, scheduled_until, started_at, completed_at in rows:
        a = from_iso(started_at or scheduled_for)
        if completed_at:
            b = from_iso(completed_at)
        elif status == "in_progress":
            b = max(now, from_iso(scheduled_until))
        else:
            b = from_iso(scheduled_until)
        windows[component_id].append((a, b))
    return {cid: _merge(spans) for cid, spans in windows.items()}


def _merge(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _overlap_s(a: datetime, b: datetime, windows: list[tuple[datetime, datetime]]) -> float:
    return sum(max(0.0, (min(b, wb) - max(a, wa)).total_seconds()) for wa, wb in windows)


def prune(db: Store, settings: Settings, now: datetime) -> int:
    """Delete raw results and rollups past their retention, in short batches; return rows deleted.

    Raw results not yet rolled up are kept, and so is the newest row, so the
    arrival watermark never meets a reused number (SQLite reuses the top rowid).
    """
    deleted = 0
    arrival = sql.arrival_column(db)
    rolled = int(get_watermark(db, WATERMARK) or 0)
    raw_cutoff = to_iso(now - settings.raw_retention)
    # Every rolled-up series has counters: a small table, where DISTINCT over results or the
    # rollups would scan millions of index entries.
    series = sql.tuples(db, "SELECT DISTINCT check_id, agent FROM result_counters")
    delete_batch = (
        f"DELETE FROM results WHERE {arrival} IN (SELECT {arrival} FROM results"  # noqa: S608 - a column name
        f" WHERE check_id = :check_id AND started_at < :cutoff AND {arrival} <= :rolled"
        f" AND {arrival} < (SELECT max({arrival}) FROM results) LIMIT :batch)"
    )
    for check_id in sorted({row[0] for row in series}):
        while True:
            params = {"check_id": check_id, "cutoff": raw_cutoff, "rolled": rolled, "batch": PRUNE_BATCH}
            with sql.write(db):
                count = sql.run(db, delete_batch, params)
            deleted += count
            if count < PRUNE_BATCH:
                break
    cutoffs = {
        "rollups_minute": now - settings.minute_rollup_retention,
        "rollups_hour": now - settings.rollup_retention,
        "rollups_day": now - settings.rollup_retention,
    }
    for table, cutoff in cutoffs.items():
        bucket = to_iso(cutoff)[: GRANULARITIES[table]]
        with sql.write(db):
            for check_id, agent in series:
                deleted += sql.run(
                    db,
                    f"DELETE FROM {table} WHERE check_id = :check_id AND agent = :agent AND bucket < :bucket",  # noqa: S608
                    {"check_id": check_id, "agent": agent, "bucket": bucket},
                )
    day_cutoff = to_iso(now - settings.rollup_retention)[:10]
    with sql.write(db):
        deleted += sql.run(db, "DELETE FROM component_days WHERE day < :day", {"day": day_cutoff})
        deleted += sql.run(
            db,
            "DELETE FROM component_status_history WHERE ended_at IS NOT NULL AND ended_at < :cutoff",
            {"cutoff": to_iso(now - settings.rollup_retention)},
        )
        _set_watermark(db, "pruned_at", to_iso(now))
    return deleted


def load_component_days(db: Store, first_day: date, last_day: date) -> dict[str, dict[str, DayFigures]]:
    """component id -> day (ISO) -> figures, for days in [first_day, last_day]."""
    rows = sql.tuples(
        db,
        "SELECT component_id, day, operational_s, degraded_s, partial_s, major_s, maintenance_s, unknown_s"
        " FROM component_days WHERE day >= :first AND day <= :last",
        {"first": first_day.isoformat(), "last": last_day.isoformat()},
    )
    found: dict[str, dict[str, DayFigures]] = defaultdict(dict)
    for component_id, day, *figures in rows:
        found[component_id][day] = DayFigures(*figures)
    return found


def component_uptime(db: Store, component_id: str, first_day: date, last_day: date) -> float | None:
    """Uptime ratio of one component over [first_day, last_day], or None without data."""
    row = sql.tuples(
        db,
        "SELECT sum(operational_s), sum(degraded_s), sum(partial_s), sum(major_s), sum(maintenance_s),"
        " sum(unknown_s) FROM component_days WHERE component_id = :id AND day >= :first AND day <= :last",
        {"id": component_id, "first": first_day.isoformat(), "last": last_day.isoformat()},
    )[0]
    if row[0] is None:
        return None
    return DayFigures(*row).uptime

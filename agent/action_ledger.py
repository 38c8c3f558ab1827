"""The agent's durable memory of remediation orders and circuit breakers.

Lives in the spool's SQLite file (its own tables, its own connection; WAL lets
both connections work side by side), so it survives restarts and `kill -9`:

- `action_orders`: every order id this agent has claimed, with its result once
  known and whether the collector has acknowledged that result. An order is
  claimed (committed) before its command starts, so a second delivery of the
  same order id, before or after a restart, never runs it again.
- `action_runs`: when each action ran, for the breaker's "N runs within a window".
- `action_breakers`: actions whose breaker tripped; they stay refused until a
  person resets them (`upwatch-agent actions reset ID`), whatever time passes.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path

from shared.schema import ActionResult

_SCHEMA = """
CREATE TABLE IF NOT EXISTS action_orders (
    order_id TEXT PRIMARY KEY,
    action_id TEXT NOT NULL,
    claimed_at REAL NOT NULL,          -- unix time
    result TEXT,                       -- ActionResult JSON once known
    acknowledged INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS action_runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    action_id TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS action_runs_by_action ON action_runs(action_id, at);
CREATE TABLE IF NOT EXISTS action_breakers (
    action_id TEXT PRIMARY KEY,
    tripped_at REAL NOT NULL,
    reason TEXT NOT NULL
);
"""
# Acknowledged orders are kept this long (seconds) so a late re-delivery is still recognised.
KEEP_ACKNOWLEDGED_S = 30 * 86_400


@dataclass(frozen=True)
class Breaker:
    action_id: str
    tripped_at: float
    reason: str


class ActionLedger:
    """Claims, results and breakers in one SQLite file. Synchronous: every call is one short commit."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=10)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        self._conn.close()

    def claim(self, order_id: uuid.UUID, action_id: str, now: float) -> bool:
        """Record the order as taken; False when this order id was claimed before (never run it twice)."""
        cursor = self._conn.execute(
            "INSERT INTO action_orders (order_id, action_id, claimed_at) VALUES (?, ?, ?)"
            " ON CONFLICT (order_id) DO NOTHING",
            (str(order_id), action_id, now),
        )
        return cursor.rowcount == 1

    def admit_run(self, action_id: str, max_runs: int, window_s: float, now: float) -> Breaker | None:
        """Count a run of `action_id` now, or refuse it: the breaker (tripped now or before) when refused.

        The breaker trips when `max_runs` runs already happened within `window_s`;
        from then on every run is refused until `reset`.
        """
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            breaker = self.breaker(action_id)
            if breaker is None:
                recent = self._conn.execute(
                    "SELECT count(*) FROM action_runs WHERE action_id = ? AND at > ?",
                    (action_id, now - window_s),
                ).fetchone()[0]
                if recent >= max_runs:
                    reason = f"{recent} runs within {_span(window_s)}"
                    self._conn.execute(
                        "INSERT INTO action_breakers (action_id, tripped_at, reason) VALUES (?, ?, ?)",
                        (action_id, now, reason),
                    )
                    breaker = Breaker(action_id, now, reason)
                else:
                    self._conn.execute(
                        "INSERT INTO action_runs (action_id, at) VALUES (?, ?)", (action_id, now)
                    )
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return breaker

    def breaker(self, action_id: str) -> Breaker | None:
        row = self._conn.execute(
            "SELECT action_id, tripped_at, reason FROM action_breakers WHERE action_id = ?", (action_id,)
        ).fetchone()
        return Breaker(row[0], float(row[1]), row[2]) if row else None

    def breakers(self) -> list[Breaker]:
        rows = self._conn.execute(
            "SELECT action_id, tripped_at, reason FROM action_breakers ORDER BY action_id"
        )
        return [Breaker(r[0], float(r[1]), r[2]) for r in rows]

    def reset(self, action_id: str) -> bool:
        """Close the breaker and forget the runs that tripped it; False when it was not tripped."""
        with self._conn:
            tripped = self._conn.execute(
                "DELETE FROM action_breakers WHERE action_id = ?", (action_id,)
            ).rowcount
            self._conn.execute("DELETE FROM action_runs WHERE action_id = ?", (action_id,))
        return tripped == 1

    def runs_since(self, action_id: str, since: float) -> int:
        row = self._conn.execute(
            "SELECT count(*) FROM action_runs WHERE action_id = ? AND at > ?", (action_id, since)
        ).fetchone()
        return int(row[0])

    def record_result(self, result: ActionResult) -> None:
        """Store the result of a claimed order (it waits there until the collector acknowledges it)."""
        self._conn.execute(
            "UPDATE action_orders SET result = ? WHERE order_id = ?",
            (result.model_dump_json(), str(result.order_id)),
        )

    def unacknowledged(self) -> list[ActionResult]:
        """Results the collector has not acknowledged yet, oldest claim first."""
        rows = self._conn.execute(
            "SELECT result FROM action_orders WHERE result IS NOT NULL AND acknowledged = 0"
            " ORDER BY claimed_at"
        )
        return [ActionResult.model_validate_json(row[0]) for row in rows]

    def acknowledge(self, order_id: uuid.UUID, now: float) -> None:
        with self._conn:
            self._conn.execute(
                "UPDATE action_orders SET acknowledged = 1 WHERE order_id = ?", (str(order_id),)
            )
            self._conn.execute(
                "DELETE FROM action_orders WHERE acknowledged = 1 AND claimed_at < ?",
                (now - KEEP_ACKNOWLEDGED_S,),
            )

    def resend(self, order_id: uuid.UUID) -> None:
        """Queue a known result for delivery again (its order was sent to us once more)."""
        self._conn.execute(
            "UPDATE action_orders SET acknowledged = 0 WHERE order_id = ? AND result IS NOT NULL",
            (str(order_id),),
        )

    def claimed_without_result(self) -> list[tuple[uuid.UUID, str]]:
        """Orders claimed by an agent process that stopped before their result was stored."""
        rows = self._conn.execute("SELECT order_id, action_id FROM action_orders WHERE result IS NULL")
        return [(uuid.UUID(r[0]), r[1]) for r in rows]


def _span(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"

"""Problem records (the cause behind recurring incidents) and location problems
(one location failing alone: operators see it, the public does not)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from shared.timeutil import from_iso, to_iso


@dataclass(frozen=True)
class Problem:
    id: int
    title: str
    description: str
    created_at: datetime
    created_by: str
    closed_at: datetime | None
    incident_ids: list[int]


@dataclass(frozen=True)
class LocationProblem:
    id: int
    check_id: str
    agent: str
    opened_at: datetime
    closed_at: datetime | None
    last_error: str | None


def insert_problem(db: Database, title: str, description: str, actor: str, now: datetime) -> int:
    cursor = db.execute(
        "INSERT INTO problems (title, description, created_at, updated_at, created_by)"
        " VALUES (?, ?, ?, ?, ?)",
        [title, description, to_iso(now), to_iso(now), actor],
    )
    return int(cursor.lastrowid or 0)


def update_problem(
    db: Database,
    problem_id: int,
    now: datetime,
    *,
    description: str | None = None,
    closed: bool | None = None,
) -> bool:
    """Change a problem's description and/or close (or reopen) it; False when it does not exist."""
    row = db.execute("SELECT closed_at FROM problems WHERE id = ?", [problem_id]).fetchone()
    if row is None:
        return False
    if description is not None:
        db.execute(
            "UPDATE problems SET description = ?, updated_at = ? WHERE id = ?",
            [description, to_iso(now), problem_id],
        )
    if closed is not None:
        db.execute(
            "UPDATE problems SET closed_at = ?, updated_at = ? WHERE id = ?",
            [to_iso(now) if closed else None, to_iso(now), problem_id],
        )
    return True


def get_problem(db: Database, problem_id: int) -> Problem | None:
    found = list_problems(db, problem_id=problem_id)
    return found[0] if found else None


def list_problems(db: Database, *, problem_id: int | None = None, limit: int = 200) -> list[Problem]:
    """Problems newest first, each with the ids of its incidents."""
    where, params = ("WHERE id = ?", [problem_id]) if problem_id is not None else ("", [])
    rows = db.execute(
        f"SELECT id, title, description, created_at, created_by, closed_at FROM problems {where}"  # noqa: S608
        " ORDER BY id DESC LIMIT ?",
        [*params, limit],
    ).fetchall()
    problems = []
    for r in rows:
        ids = [
            int(i) for (i,) in db.execute("SELECT id FROM incidents WHERE problem_id = ? ORDER BY id", [r[0]])
        ]
        problems.append(
            Problem(int(r[0]), r[1], r[2], from_iso(r[3]), r[4], from_iso(r[5]) if r[5] else None, ids)
        )
    return problems


def open_location_problems(db: Database) -> list[LocationProblem]:
    return _location_problems(db, "WHERE closed_at IS NULL ORDER BY opened_at", [])


def recent_location_problems(db: Database, limit: int = 200) -> list[LocationProblem]:
    """Open and closed location problems, newest first (for the operators' view)."""
    return _location_problems(db, "ORDER BY opened_at DESC, id DESC LIMIT ?", [limit])


def sync_location_problems(
    db: Database, failing: dict[tuple[str, str], str | None], now: datetime
) -> tuple[int, int]:
    """Make the open location problems exactly the (check, agent) keys of `failing` (-> last error).

    Opens the new ones, closes the ones no longer failing; returns (opened, closed).
    """
    current = {(p.check_id, p.agent): p for p in open_location_problems(db)}
    opened = closed = 0
    for key, error in failing.items():
        if key in current:
            if current[key].last_error != error:
                db.execute(
                    "UPDATE location_problems SET last_error = ? WHERE id = ?", [error, current[key].id]
                )
            continue
        db.execute(
            "INSERT INTO location_problems (check_id, agent, opened_at, last_error) VALUES (?, ?, ?, ?)",
            [key[0], key[1], to_iso(now), error],
        )
        opened += 1
    for key, problem in current.items():
        if key not in failing:
            db.execute("UPDATE location_problems SET closed_at = ? WHERE id = ?", [to_iso(now), problem.id])
            closed += 1
    return opened, closed


def _location_problems(db: Database, clause: str, params: list[object]) -> list[LocationProblem]:
    rows = db.execute(
        f"SELECT id, check_id, agent, opened_at, closed_at, last_error FROM location_problems {clause}",  # noqa: S608
        params,
    ).fetchall()
    return [
        LocationProblem(int(r[0]), r[1], r[2], from_iso(r[3]), from_iso(r[4]) if r[4] else None, r[5])
        for r in rows
    ]

"""Problem records (the cause behind recurring incidents) and location problems
(one location failing alone: operators see it, the public does not)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.timeutil import from_iso, to_iso
from statuspage.storage import sql
from statuspage.storage.sql import Store


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


def insert_problem(db: Store, title: str, description: str, actor: str, now: datetime) -> int:
    return sql.insert_returning_id(
        db,
        "INSERT INTO problems (title, description, created_at, updated_at, created_by)"
        " VALUES (:title, :description, :created_at, :updated_at, :created_by) RETURNING id",
        {
            "title": title,
            "description": description,
            "created_at": to_iso(now),
            "updated_at": to_iso(now),
            "created_by": actor,
        },
    )


def update_problem(
    db: Store,
    problem_id: int,
    now: datetime,
    *,
    description: str | None = None,
    closed: bool | None = None,
) -> bool:
    """Change a problem's description and/or close (or reopen) it; False when it does not exist."""
    row = sql.one(db, "SELECT closed_at FROM problems WHERE id = :id", {"id": problem_id})
    if row is None:
        return False
    if description is not None:
        sql.run(
            db,
            "UPDATE problems SET description = :description, updated_at = :updated_at WHERE id = :id",
            {"description": description, "updated_at": to_iso(now), "id": problem_id},
        )
    if closed is not None:
        sql.run(
            db,
            "UPDATE problems SET closed_at = :closed_at, updated_at = :updated_at WHERE id = :id",
            {"closed_at": to_iso(now) if closed else None, "updated_at": to_iso(now), "id": problem_id},
        )
    return True


def get_problem(db: Store, problem_id: int) -> Problem | None:
    found = list_problems(db, problem_id=problem_id)
    return found[0] if found else None


def list_problems(db: Store, *, problem_id: int | None = None, limit: int = 200) -> list[Problem]:
    """Problems newest first, each with the ids of its incidents."""
    where = "WHERE id = :id" if problem_id is not None else ""
    rows = sql.tuples(
        db,
        "SELECT id, title, description, created_at, created_by, closed_at FROM problems"  # noqa: S608
        f" {where}"
        " ORDER BY id DESC LIMIT :limit",
        {"id": problem_id, "limit": limit},
    )
    problems = []
    for r in rows:
        ids = [
            int(i)
            for (i,) in sql.tuples(
                db,
                "SELECT id FROM incidents WHERE problem_id = :problem_id ORDER BY id",
                {"problem_id": r[0]},
            )
        ]
        problems.append(
            Problem(int(r[0]), r[1], r[2], from_iso(r[3]), r[4], from_iso(r[5]) if r[5] else None, ids)
        )
    return problems


def open_location_problems(db: Store) -> list[LocationProblem]:
    return _location_problems(db, "WHERE closed_at IS NULL ORDER BY opened_at", {})


def recent_location_problems(db: Store, limit: int = 200) -> list[LocationProblem]:
    """Open and closed location problems, newest first (for the operators' view)."""
    return _location_problems(db, "ORDER BY opened_at DESC, id DESC LIMIT :limit", {"limit": limit})


def sync_location_problems(
    db: Store, failing: dict[tuple[str, str], str | None], now: datetime
) -> tuple[int, int]:
    """Make the open location problems exactly the (check, agent) keys of `failing` (-> last error).

    Opens the new ones, closes the ones no longer failing; returns (opened, closed).
    """
    current = {(p.check_id, p.agent): p for p in open_location_problems(db)}
    opened = closed = 0
    for key, error in failing.items():
        if key in current:
            if current[key].last_error != error:
                sql.run(
                    db,
                    "UPDATE location_problems SET last_error = :last_error WHERE id = :id",
                    {"last_error": error, "id": current[key].id},
                )
            continue
        sql.run(
            db,
            "INSERT INTO location_problems (check_id, agent, opened_at, last_error) VALUES (:check_id,"
            " :agent, :opened_at, :last_error)",
            {"check_id": key[0], "agent": key[1], "opened_at": to_iso(now), "last_error": error},
        )
        opened += 1
    for key, problem in current.items():
        if key not in failing:
            sql.run(
                db,
                "UPDATE location_problems SET closed_at = :closed_at WHERE id = :id",
                {"closed_at": to_iso(now), "id": problem.id},
            )
            closed += 1
    return opened, closed


def _location_problems(db: Store, clause: str, params: dict[str, object]) -> list[LocationProblem]:
    rows = sql.tuples(
        db,
        f"SELECT id, check_id, agent, opened_at, closed_at, last_error FROM location_problems {clause}",  # noqa: S608
        params,
    )
    return [
        LocationProblem(int(r[0]), r[1], r[2], from_iso(r[3]), from_iso(r[4]) if r[4] else None, r[5])
        for r in rows
    ]

"""Agents and their tokens. Only a SHA-256 of each token is stored.

Tokens are 256-bit random strings, so a fast hash is enough (no dictionary to
guess from); the lookup is by hash and then confirmed with compare_digest.

Labels: `labels` are the operator's (given at token creation or approved in the
admin UI/API) and are the only ones that authorise anything; `declared_labels`
are what the agent last said about itself (`UPWATCH_AGENT_LABELS`). Declared
labels may narrow the operator's set; those outside it are pending until an
operator approves them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.timeutil import from_iso, to_iso
from statuspage.storage import sql
from statuspage.storage.sql import Store

TOKEN_PREFIX = "uwa_"


class AgentExists(Exception):
    """An agent with this name already has a live token."""


@dataclass(frozen=True)
class Agent:
    id: int
    name: str
    labels: list[str]
    declared_labels: list[str]
    created_at: datetime
    revoked_at: datetime | None
    last_seen_at: datetime | None
    agent_version: str | None
    clock_skew_s: float | None
    dropped_results: int = 0  # results the agent's spool dropped under its size cap (total known)
    duplicate_results: int = 0  # replayed results ingest ignored
    offline_since: datetime | None = None  # set by the liveness rule while the agent is silent
    spool_backlog: int = 0  # results still in its spool after its last report

    @property
    def authorized_labels(self) -> set[str]:
        """The labels `run_on` selectors match and reports are judged by.

        The operator's labels, narrowed to those the agent declares; declared
        labels outside the operator's set are ignored here (see `pending_labels`),
        so a stolen token cannot claim another label's checks and a mistyped
        declaration does not take away what the operator gave.
        """
        granted = set(self.labels)
        narrowed = granted & set(self.declared_labels)
        return narrowed or granted

    @property
    def pending_labels(self) -> list[str]:
        """Labels the agent declares that no operator has given it: shown for approval."""
        return sorted(set(self.declared_labels) - set(self.labels))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_agent(db: Store, name: str, labels: list[str], now: datetime) -> tuple[Agent, str]:
    """Create an agent with a fresh token; return (agent, token). Raises AgentExists."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    try:
        with sql.write(db):
            agent_id = sql.insert_returning_id(
                db,
                "INSERT INTO agents (name, token_hash, labels, created_at)"
                " VALUES (:name, :token_hash, :labels, :created_at) RETURNING id",
                {
                    "name": name,
                    "token_hash": hash_token(token),
                    "labels": json.dumps(sorted(set(labels))),
                    "created_at": to_iso(now),
                },
            )
    except sql.IntegrityError:
        raise AgentExists(name) from None
    agent = get_agent(db, agent_id)
    assert agent is not None
    return agent, token


def get_agent(db: Store, agent_id: int) -> Agent | None:
    found = _select(db, "WHERE id = :id", {"id": agent_id})
    return found[0] if found else None


def authenticate(db: Store, token: str) -> Agent | None:
    """Return the live agent owning `token`, or None (unknown or revoked)."""
    if not token:
        return None
    digest = hash_token(token)
    # One indexed query on the hot path (every report authenticates).
    row = sql.one(
        db,
        "SELECT * FROM agents WHERE token_hash = :token_hash AND revoked_at IS NULL",
        {"token_hash": digest},
    )
    # The index lookup already matched; compare_digest keeps the final check constant-time.
    if row is None:
        return None
    if not hmac.compare_digest(str(row["token_hash"]), digest):
        return None
    return _agent(row)


def list_agents(db: Store, include_revoked: bool = False) -> list[Agent]:
    where = "" if include_revoked else "WHERE revoked_at IS NULL"
    return _select(db, f"{where} ORDER BY name, id", {})


def revoke_agent(db: Store, name: str, now: datetime) -> bool:
    """Revoke the live token of `name`; return False if there was none."""
    with sql.write(db):
        changed = sql.run(
            db,
            "UPDATE agents SET revoked_at = :revoked_at WHERE name = :name AND revoked_at IS NULL",
            {"revoked_at": to_iso(now), "name": name},
        )
    return changed > 0


def record_declared_labels(db: Store, agent_id: int, labels: list[str]) -> bool:
    """Store what the agent declares about itself; True when that changed."""
    encoded = json.dumps(sorted(set(labels)))
    with sql.write(db):
        changed = sql.run(
            db,
            "UPDATE agents SET declared_labels = :labels WHERE id = :id AND declared_labels != :labels",
            {"labels": encoded, "id": agent_id},
        )
    return changed > 0


def grant_labels(db: Store, name: str, labels: list[str]) -> list[str] | None:
    """Add `labels` to the operator-given labels of the live agent `name` (call inside the
    audited transaction); return its labels after, or None when it has no live token."""
    row = sql.one(
        db, "SELECT id, labels FROM agents WHERE name = :name AND revoked_at IS NULL", {"name": name}
    )
    if row is None:
        return None
    granted = sorted(set(json.loads(str(row["labels"]))) | set(labels))
    sql.run(
        db,
        "UPDATE agents SET labels = :labels WHERE id = :id",
        {"labels": json.dumps(granted), "id": row["id"]},
    )
    return granted


# `agents.state_serial` is replaced by a fresh random number in every transaction that writes
# the agent's check states (ingest's record_seen, everyone else's save_states). Random, not a
# counter: no two writes, on any collector or in a restored copy whose history then forks,
# leave the same serial (a repeat is a 1-in-2^62 chance).
SERIAL_BITS = 62

_SEEN = (
    "UPDATE agents SET last_seen_at = :last_seen_at, agent_version = :agent_version,"
    " clock_skew_s = :clock_skew_s, spool_backlog = :backlog,"
    " duplicate_results = duplicate_results + :duplicates,"
    " dropped_results = dropped_results"
    "   + CASE WHEN :dropped >= dropped_reported THEN :dropped - dropped_reported ELSE :dropped END,"
    " dropped_reported = :dropped, state_serial = :serial"
    " WHERE id = :id AND revoked_at IS NULL"
)


@dataclass(frozen=True)
class Seen:
    """What `record_seen` found: the agent's new state serial, and whether the one it replaced
    was the serial the caller expected (nobody else wrote the agent's states since)."""

    serial: int
    as_expected: bool


def record_seen(
    db: Store,
    agent_id: int,
    now: datetime,
    version: str,
    skew_s: float,
    *,
    dropped: int = 0,
    duplicates: int = 0,
    backlog: int = 0,
    expected_serial: int | None = None,
) -> Seen | None:
    """Note the agent's report (call inside the ingest transaction, which then writes the agent's
    check states); None if its token was revoked meanwhile (then nothing may be stored: roll back).

    `dropped` is the agent spool's cumulative drop counter: the increase since the
    last report is added to `dropped_results` (a replayed report adds nothing);
    a smaller value means a new spool, whose whole count is new. `backlog` is what
    its spool still held after the report (kept as the latest figure).
    The same UPDATE replaces the agent's state serial; with `expected_serial` it first
    tries only where the serial is that one, so a match costs no extra statement.
    """
    serial = new_serial()
    params = {
        "last_seen_at": to_iso(now),
        "agent_version": version,
        "clock_skew_s": skew_s,
        "duplicates": duplicates,
        "dropped": dropped,
        "backlog": backlog,
        "serial": serial,
        "id": agent_id,
    }
    if expected_serial is not None:
        expecting = {**params, "expected": expected_serial}
        if sql.run(db, _SEEN + " AND state_serial = :expected", expecting) == 1:
            return Seen(serial, as_expected=True)
    if sql.run(db, _SEEN, params) != 1:
        return None
    return Seen(serial, as_expected=False)


def renew_state_serials(db: Store, names: Iterable[str]) -> None:
    """Renew the state serial of the live agents with these names (their check states are being
    written outside ingest, e.g. heartbeats under the name `collector`)."""
    marks, params = sql.in_list("name", sorted(set(names)))
    if not params:
        return
    sql.run(
        db,
        f"UPDATE agents SET state_serial = :serial WHERE revoked_at IS NULL AND name IN ({marks})",  # noqa: S608 - our marks
        {**params, "serial": new_serial()},
    )


def new_serial() -> int:
    # Not a secret, only unlikely to repeat: the fast generator (re-seeded in each forked worker).
    return random.getrandbits(SERIAL_BITS)  # noqa: S311


def silent_agents(db: Store, cutoff: datetime) -> list[Agent]:
    """Live agents that have reported, but not since `cutoff`, and are not marked offline yet."""
    return _select(
        db,
        "WHERE revoked_at IS NULL AND offline_since IS NULL"
        " AND last_seen_at IS NOT NULL AND last_seen_at < :last_seen_at_before",
        {"last_seen_at_before": to_iso(cutoff)},
    )


def claim_offline(db: Store, agent_id: int, cutoff: datetime, now: datetime) -> bool:
    """Mark the agent offline if it is still silent and unclaimed; True when this caller won."""
    changed = sql.run(
        db,
        "UPDATE agents SET offline_since = :offline_since WHERE id = :id AND offline_since IS NULL"
        " AND revoked_at IS NULL AND last_seen_at < :last_seen_at_before",
        {"offline_since": to_iso(now), "id": agent_id, "last_seen_at_before": to_iso(cutoff)},
    )
    return changed == 1


def set_offline_incident(db: Store, agent_id: int, incident_id: int) -> None:
    sql.run(
        db,
        "UPDATE agents SET offline_incident_id = :offline_incident_id WHERE id = :id",
        {"offline_incident_id": incident_id, "id": agent_id},
    )


def returned_agents(db: Store) -> list[tuple[int, str, int | None, bool]]:
    """(id, name, offline incident id, revoked) of agents marked offline that reported since,
    or whose token was revoked."""
    rows = sql.tuples(
        db,
        "SELECT id, name, offline_incident_id, revoked_at IS NOT NULL FROM agents"
        " WHERE offline_since IS NOT NULL AND (last_seen_at > offline_since OR revoked_at IS NOT NULL)",
    )
    return [(int(r[0]), str(r[1]), int(r[2]) if r[2] is not None else None, bool(r[3])) for r in rows]


def claim_online(db: Store, agent_id: int) -> bool:
    """Clear the offline mark if the agent is back (or revoked); True when this caller won."""
    changed = sql.run(
        db,
        "UPDATE agents SET offline_since = NULL, offline_incident_id = NULL WHERE id = :id"
        " AND offline_since IS NOT NULL AND (last_seen_at > offline_since OR revoked_at IS NOT NULL)",
        {"id": agent_id},
    )
    return changed == 1


def _select(db: Store, clause: str, params: dict[str, object]) -> list[Agent]:
    return [_agent(row) for row in sql.rows(db, f"SELECT * FROM agents {clause}", params)]  # noqa: S608 - clause is ours


def _agent(data: dict[str, Any]) -> Agent:
    return Agent(
        id=int(str(data["id"])),
        name=str(data["name"]),
        labels=json.loads(str(data["labels"])),
        declared_labels=json.loads(str(data["declared_labels"])),
        created_at=from_iso(str(data["created_at"])),
        revoked_at=from_iso(str(data["revoked_at"])) if data["revoked_at"] else None,
        last_seen_at=from_iso(str(data["last_seen_at"])) if data["last_seen_at"] else None,
        agent_version=str(data["agent_version"]) if data["agent_version"] else None,
        clock_skew_s=float(str(data["clock_skew_s"])) if data["clock_skew_s"] is not None else None,
        dropped_results=int(str(data.get("dropped_results") or 0)),
        duplicate_results=int(str(data.get("duplicate_results") or 0)),
        offline_since=from_iso(str(data["offline_since"])) if data.get("offline_since") else None,
        spool_backlog=int(str(data.get("spool_backlog") or 0)),
    )


def recent_clock_skews(db: Store, since: datetime) -> list[tuple[str, float]]:
    """(name, clock skew s) of live agents seen since `since` that reported a skew."""
    return [
        (str(name), float(skew))
        for name, skew in sql.tuples(
            db,
            "SELECT name, clock_skew_s FROM agents WHERE revoked_at IS NULL AND clock_skew_s IS NOT NULL"
            " AND last_seen_at >= :since",
            {"since": to_iso(since)},
        )
    ]


def live_agents_last_seen(db: Store) -> list[tuple[str, str | None]]:
    """(name, last seen ISO time or None) of every agent with a live token, by name."""
    return [
        (str(name), None if seen is None else str(seen))
        for name, seen in sql.tuples(
            db, "SELECT name, last_seen_at FROM agents WHERE revoked_at IS NULL ORDER BY name"
        )
    ]

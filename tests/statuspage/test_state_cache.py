"""Ingest's per-process memory of the check states it stored last for each agent."""

from __future__ import annotations

from datetime import UTC, datetime

from statuspage.engine.check_state import CheckState
from statuspage.ingest.state_cache import StateCache
from statuspage.storage.agents import SerialMove

DB = "/var/lib/upwatch/upwatch.db"
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def state(check_id: str) -> CheckState:
    return CheckState.initial(check_id, "edge-1", T0)


def test_states_are_known_only_while_the_serial_moved_by_this_process_alone() -> None:
    cache = StateCache()
    assert cache.known(DB, 1, SerialMove(0, 5), ["a"]) is None  # nothing stored yet
    cache.remember(DB, 1, SerialMove(0, 5), {"a": state("a")})
    assert cache.known(DB, 1, SerialMove(5, 9), ["a"]) == {"a": state("a")}
    # Someone else moved the serial after this process's write: read the rows.
    assert cache.known(DB, 1, SerialMove(6, 9), ["a"]) is None
    # A check this process never stored for the agent is read too.
    assert cache.known(DB, 1, SerialMove(5, 9), ["a", "b"]) is None


def test_consecutive_writes_add_up_and_a_gap_starts_again() -> None:
    cache = StateCache()
    cache.remember(DB, 1, SerialMove(0, 5), {"a": state("a")})
    cache.remember(DB, 1, SerialMove(5, 9), {"b": state("b")})
    assert cache.known(DB, 1, SerialMove(9, 12), ["a", "b"]) == {"a": state("a"), "b": state("b")}
    # Written after a move this process did not see: only what it stored now is certain.
    cache.remember(DB, 1, SerialMove(20, 30), {"c": state("c")})
    assert cache.known(DB, 1, SerialMove(30, 31), ["a"]) is None
    assert cache.known(DB, 1, SerialMove(30, 31), ["c"]) == {"c": state("c")}


def test_agents_and_databases_are_kept_apart_and_memory_is_bounded() -> None:
    cache = StateCache(max_agents=2)
    cache.remember(DB, 1, SerialMove(0, 5), {"a": state("a")})
    assert cache.known("/tmp/other.db", 1, SerialMove(5, 6), ["a"]) is None
    assert cache.known(DB, 2, SerialMove(5, 6), ["a"]) is None
    cache.remember(DB, 2, SerialMove(0, 7), {"a": state("a")})
    cache.remember(DB, 3, SerialMove(0, 8), {"a": state("a")})  # a third agent: start again
    assert cache.known(DB, 1, SerialMove(5, 6), ["a"]) is None
    assert cache.known(DB, 3, SerialMove(8, 9), ["a"]) == {"a": state("a")}

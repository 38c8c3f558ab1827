"""Ingest's per-process memory of the check states it stored last for each agent."""

from __future__ import annotations

from datetime import UTC, datetime

from statuspage.engine.check_state import CheckState
from statuspage.ingest.state_cache import StateCache
from statuspage.storage.agents import Seen

DB = "/var/lib/upwatch/upwatch.db"
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def state(check_id: str) -> CheckState:
    return CheckState.initial(check_id, "edge-1", T0)


def test_states_are_known_only_while_the_serial_is_the_one_this_process_left() -> None:
    cache = StateCache()
    assert cache.serial(DB, 1) is None  # nothing stored yet
    cache.remember(DB, 1, None, Seen(5, as_expected=False), {"a": state("a")})
    assert cache.serial(DB, 1) == 5
    assert cache.known(DB, 1, 5, Seen(9, as_expected=True), ["a"]) == {"a": state("a")}
    # record_seen found another serial: someone else wrote since; read the rows.
    assert cache.known(DB, 1, 5, Seen(9, as_expected=False), ["a"]) is None
    # A check this process never stored for the agent is read too.
    assert cache.known(DB, 1, 5, Seen(9, as_expected=True), ["a", "b"]) is None


def test_consecutive_writes_add_up_and_a_miss_starts_again() -> None:
    cache = StateCache()
    cache.remember(DB, 1, None, Seen(5, as_expected=False), {"a": state("a")})
    cache.remember(DB, 1, 5, Seen(9, as_expected=True), {"b": state("b")})
    assert cache.serial(DB, 1) == 9
    assert cache.known(DB, 1, 9, Seen(12, as_expected=True), ["a", "b"]) == {"a": state("a"), "b": state("b")}
    # Written after another writer: only what this transaction stored is certain.
    cache.remember(DB, 1, 9, Seen(30, as_expected=False), {"c": state("c")})
    assert cache.known(DB, 1, 30, Seen(31, as_expected=True), ["a"]) is None
    assert cache.known(DB, 1, 30, Seen(31, as_expected=True), ["c"]) == {"c": state("c")}
    # Another thread of this process replaced the entry meanwhile: start again from this write.
    cache.remember(DB, 1, 9, Seen(40, as_expected=True), {"d": state("d")})
    assert cache.serial(DB, 1) == 40
    assert cache.known(DB, 1, 40, Seen(41, as_expected=True), ["c"]) is None


def test_a_late_remember_from_an_earlier_transaction_is_not_trusted() -> None:
    """Thread C committed first but remembers last, after thread B matched the newer serial:
    B must not plan from C's older states."""
    cache = StateCache()
    cache.remember(DB, 1, None, Seen(10, as_expected=False), {"a": state("a")})  # A's commit
    b_expected = cache.serial(DB, 1)  # B, under the lock: its UPDATE finds serial 10
    cache.remember(DB, 1, 3, Seen(7, as_expected=True), {"a": state("old")})  # C, late
    assert cache.known(DB, 1, b_expected, Seen(11, as_expected=True), ["a"]) is None


def test_agents_and_databases_are_kept_apart_and_memory_is_bounded() -> None:
    cache = StateCache(max_agents=2)
    cache.remember(DB, 1, None, Seen(5, as_expected=False), {"a": state("a")})
    assert cache.serial("/tmp/other.db", 1) is None
    assert cache.serial(DB, 2) is None
    cache.remember(DB, 2, None, Seen(7, as_expected=False), {"a": state("a")})
    cache.remember(DB, 3, None, Seen(8, as_expected=False), {"a": state("a")})  # a third: start again
    assert cache.serial(DB, 1) is None
    assert cache.known(DB, 3, 8, Seen(9, as_expected=True), ["a"]) == {"a": state("a")}

"""The check states this process stored last for each agent, so its next report skips reading them.

Reading a report's (check, agent) states back before advancing them cost a report of
one result a few percent of its CPU on the collector (a SELECT and decoding the rows,
about 3 % of its instructions; more for a report of 500, which read them twice). The
row read is almost always the one this same process wrote for the agent's previous
report, because an agent keeps its connection to one gunicorn worker. Reading can be
skipped when it is certain nothing else wrote the agent's states since: every
transaction that writes them replaces the agent's `state_serial` with a fresh random
number (ingest in `record_seen`, everyone else in `save_states`), so when ingest's
UPDATE finds the serial this process left after its own last write
(`Seen.as_expected`), the states remembered are the stored ones. Anything else
(another worker or collector took a report of the agent, a heartbeat wrote under its
name, a transaction rolled back, a restore) is a miss: the rows are read as before.
States are remembered only after the transaction committed.

Keyed by (database, agent id): a token made anew for the same name is another agent row,
and tests run many databases in one process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from statuspage.engine.check_state import CheckState
from statuspage.storage.agents import Seen

# Bounded memory: past this many agents the cache starts again (a miss costs one read each).
MAX_AGENTS = 10_000


@dataclass
class _Entry:
    serial: int
    states: dict[str, CheckState] = field(default_factory=dict)


class StateCache:
    def __init__(self, max_agents: int = MAX_AGENTS) -> None:
        self._max_agents = max_agents
        self._entries: dict[tuple[str, int], _Entry] = {}
        self._lock = threading.Lock()

    def serial(self, database: str, agent_id: int) -> int | None:
        """The agent's state serial this process left with its last write (for `record_seen`)."""
        entry = self._entries.get((database, agent_id))
        return None if entry is None else entry.serial

    def known(
        self, database: str, agent_id: int, expected: int | None, seen: Seen, check_ids: Iterable[str]
    ) -> dict[str, CheckState] | None:
        """The stored states of all `check_ids` when this process is sure of every one, else None.

        Call inside the transaction whose `record_seen` was given `expected` and returned
        `seen`. The entry must still be the one at `expected`: a thread that committed
        earlier may remember its (older) states late, after this transaction read the serial.
        """
        if not seen.as_expected:
            return None
        return self.states_at(database, agent_id, expected, check_ids)

    def states_at(
        self, database: str, agent_id: int, serial: int | None, check_ids: Iterable[str]
    ) -> dict[str, CheckState] | None:
        """The states this process stored for all `check_ids` if its entry is at `serial`, else
        None. Whether the database still is at `serial` is `record_seen`'s to tell."""
        found: dict[str, CheckState] = {}
        with self._lock:
            entry = self._entries.get((database, agent_id))
            if serial is None or entry is None or entry.serial != serial:
                return None
            states = entry.states
            for check_id in check_ids:
                state = states.get(check_id)
                if state is None:
                    return None  # never stored by this process (or no state yet): read it
                found[check_id] = state
        return found

    def remember(
        self, database: str, agent_id: int, expected: int | None, seen: Seen, stored: Mapping[str, CheckState]
    ) -> None:
        """After the commit: the agent's states are `stored` (for those checks) at `seen.serial`.

        `expected` is the serial the transaction gave `record_seen`.
        """
        key = (database, agent_id)
        with self._lock:
            entry = self._entries.get(key)
            if seen.as_expected and entry is not None and entry.serial == expected:
                # Nothing else wrote since this process's last write: its other checks still hold.
                entry.states.update(stored)
                entry.serial = seen.serial
                return
            if len(self._entries) >= self._max_agents:
                self._entries.clear()
            self._entries[key] = _Entry(seen.serial, dict(stored))


STATES = StateCache()

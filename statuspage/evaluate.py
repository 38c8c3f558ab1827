"""Run evaluation against the database: load facts, call the pure engine, store the outcome.

Called right after ingest stores a report (for the checks it touched) and by
the worker every second (for time: silent locations become stale).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlite_utils import Database

from shared.schema import Result
from statuspage.engine.check_state import CheckState, Observation, apply_observation
from statuspage.engine.component_status import CheckVerdict, check_verdict, component_status
from statuspage.settings import Settings
from statuspage.storage.results import load_states, save_state
from statuspage.storage.status import save_component_status


def apply_results(db: Database, settings: Settings, agent: str, results: list[Result]) -> None:
    """Advance the (check, agent) states with new results, in event-time order.

    Call inside the ingest transaction. Results of checks the config does not
    define (an agent's local checks) use the default thresholds.
    """
    by_check: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        by_check[result.check_id].append(result)
    states = {(s.check_id, s.agent): s for s in load_states(db, by_check) if s.agent == agent}
    for check_id, check_results in by_check.items():
        check = settings.check(check_id)
        failure_threshold = check.failure_threshold if check else 2
        success_threshold = check.success_threshold if check else 2
        first_at = min(r.started_at for r in check_results)
        previous = states.get((check_id, agent))
        state = previous or CheckState.initial(check_id, agent, first_at)
        for result in sorted(check_results, key=lambda r: r.started_at):
            seen = Observation(result.started_at, result.status, result.latency_ms, result.error)
            state = apply_observation(state, seen, failure_threshold, success_threshold)
        save_state(db, state, previous.status if previous else None)


def evaluate_components(db: Database, settings: Settings, now: datetime) -> list[str]:
    """Recompute every component's status at `now`; store and return the ids that changed."""
    states_by_check: dict[str, list[CheckState]] = defaultdict(list)
    for state in load_states(db):
        states_by_check[state.check_id].append(state)
    statuses: dict[str, str] = {}
    for component in settings.components:
        verdicts: list[CheckVerdict] = [
            check_verdict(check, states_by_check[check.id], now, settings.stale_after_intervals)
            for check in settings.checks_of(component.id)
        ]
        statuses[component.id] = component_status(verdicts)
    with db.atomic():
        return save_component_status(db, statuses, now)

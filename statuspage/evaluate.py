"""Run evaluation against the database: load facts, call the pure engine, store the outcome.

Called right after ingest stores a report and by the worker every pass (for
time: silent locations go stale, maintenance starts and ends). One pass is
one BEGIN IMMEDIATE transaction, so the web process and the worker never
decide on each other's half-written state:
1. component health from check verdicts (quorum, critical checks);
2. public status (maintenance applied), location problems;
3. the incident rules (`engine.incidents.plan`) and their storage;
4. escalation steps that are due (so level 0 pages in the same moment).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.checks import AnyCheck
from shared.metric_rules import parse_metric_rule
from shared.schema import Result
from statuspage.engine.check_state import NO_RULES, AlertRules, CheckState, Observation, apply_observations
from statuspage.engine.component_status import CheckVerdict, check_verdict, component_status
from statuspage.engine.incidents import ComponentFacts, IncidentFacts, plan
from statuspage.incident_actions import apply_actions, escalate_due
from statuspage.settings import Settings
from statuspage.storage import incidents as incident_store
from statuspage.storage import sql
from statuspage.storage.drills import drilled_components
from statuspage.storage.engine_state import get_time
from statuspage.storage.maintenance import components_in_maintenance
from statuspage.storage.problems import sync_location_problems
from statuspage.storage.results import StateRow, agent_state_rows, load_states, save_states, state_from_row
from statuspage.storage.sql import Store  # noqa: I001
from statuspage.storage.status import load_component_rows, save_component_status

log = logging.getLogger(__name__)
# engine_state key: no new incidents before this time (set after the collector's own downtime).
QUIET_UNTIL = "new_incidents_after"


def alert_rules(check: AnyCheck | None) -> AlertRules:
    """The failure-rate and metric rules of a check (none for an agent's local check)."""
    if check is None:
        return NO_RULES
    rate = check.failure_rate
    return AlertRules(
        rate_failures=rate.failures if rate else 0,
        rate_window=rate.window if rate else 0,
        metric_rules=tuple(parse_metric_rule(text) for text in check.metric_thresholds),
        on_breach=check.on_breach,
    )


@dataclass(frozen=True)
class StatePlan:
    """Where one agent's results take its (check, agent) states, and what that was computed from.

    `rows` are the stored rows read (check id -> row; absent: no state yet; empty when
    the states came from ingest's cache instead), `before` the states they hold,
    `after` the states to store, for every check the results touch.
    """

    agent: str
    results: Sequence[Result]
    rows: dict[str, StateRow]
    before: dict[str, CheckState]
    after: dict[str, CheckState]


# (the Settings they were built from, check id -> (failure threshold, success threshold, rules)).
_RulesCache = tuple[Settings, dict[str, tuple[int, int, AlertRules]]]
_rules_cache: list[_RulesCache] = []


def _thresholds(settings: Settings, check_id: str) -> tuple[int, int, AlertRules]:
    """A check's thresholds and rules, parsed once per configuration (ingest asks per report).

    Results of checks the config does not define (an agent's local checks) use
    the default thresholds and no rules.
    """
    cached = _rules_cache[0] if _rules_cache else None
    if cached is None or cached[0] is not settings:
        cached = (settings, {})
        _rules_cache[:] = [cached]
    found = cached[1].get(check_id)
    if found is None:
        check = settings.check(check_id)
        found = (
            (check.failure_threshold, check.success_threshold, alert_rules(check))
            if check
            else (2, 2, NO_RULES)
        )
        cached[1][check_id] = found
    return found


def plan_from_rows(
    settings: Settings, agent: str, results: Sequence[Result], rows: dict[str, StateRow]
) -> StatePlan:
    """Pure: the states `results` (one agent's) lead to from the stored `rows`, in event-time order."""
    touched = {c: rows[c] for c in {r.check_id for r in results} if c in rows}
    before = {c: state_from_row(row) for c, row in touched.items()}
    return plan_from_states(settings, agent, results, before, touched)


def plan_from_states(
    settings: Settings,
    agent: str,
    results: Sequence[Result],
    before: dict[str, CheckState],
    rows: dict[str, StateRow] | None = None,
) -> StatePlan:
    """Pure: the states `results` lead to from the states `before` (check id -> state; a check
    absent has none yet), in event-time order. `rows`: the stored rows they were read from."""
    by_check: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        by_check[result.check_id].append(result)
    after: dict[str, CheckState] = {}
    for check_id, check_results in by_check.items():
        failure_threshold, success_threshold, rules = _thresholds(settings, check_id)
        check_results.sort(key=lambda r: r.started_at)
        state = before.get(check_id)
        if state is None:
            state = CheckState.initial(check_id, agent, check_results[0].started_at)
        seen = [Observation(r.started_at, r.status, r.latency_ms, r.error, r.metrics) for r in check_results]
        after[check_id] = apply_observations(state, seen, failure_threshold, success_threshold, rules)
    touched = {c: before[c] for c in by_check if c in before}
    return StatePlan(agent, results, rows or {}, touched, after)


def plan_states(db: Store, settings: Settings, agent: str, results: Sequence[Result]) -> StatePlan:
    """Read the agent's states of the checks `results` touch and plan where the results take them.

    Needs no transaction: ingest plans before it takes the write lock, and
    `save_plan` checks under the lock that the rows are still the ones read.
    """
    rows = agent_state_rows(db, agent, {r.check_id for r in results})
    return plan_from_rows(settings, agent, results, rows)


def save_plan(
    db: Store,
    settings: Settings,
    plan: StatePlan,
    new_results: Sequence[Result],
    *,
    serial_renewed: bool = False,
) -> StatePlan:
    """Store the planned states, or re-plan first if the plan no longer holds; return what was stored.

    Call inside the write transaction. `new_results` are the results actually
    inserted (a subset of `plan.results`: duplicates of stored ones drop out).
    The plan holds when every result is new and the agent's stored rows are
    exactly those it was computed from; otherwise another report of the same
    checks and agent committed in between (or some results were replays), and
    the states are computed again from the rows as they are now, so no update
    is lost and no result counts twice. `serial_renewed`: as for `save_states`.
    """
    rows = agent_state_rows(db, plan.agent, plan.after.keys())
    if len(new_results) != len(plan.results) or rows != plan.rows:
        plan = plan_from_rows(settings, plan.agent, new_results, rows)
    _save(db, plan, serial_renewed)
    return plan


def apply_results(
    db: Store,
    settings: Settings,
    agent: str,
    results: Sequence[Result],
    *,
    known: dict[str, CheckState] | None = None,
    serial_renewed: bool = False,
) -> StatePlan:
    """Advance the (check, agent) states with new results, in event-time order; return the plan stored.

    Call inside the write transaction that inserted the results. `known`: the agent's
    states of every check the results touch, as stored now (ingest's cache), so they
    are not read again. `serial_renewed`: as for `save_states`.
    """
    if known is None:
        plan = plan_states(db, settings, agent, results)
    else:
        plan = plan_from_states(settings, agent, results, known)
    _save(db, plan, serial_renewed)
    return plan


def save_planned(db: Store, plan: StatePlan, *, serial_renewed: bool = False) -> None:
    """Store a plan known to hold (made from the states stored now; every result new)."""
    _save(db, plan, serial_renewed)


def _save(db: Store, plan: StatePlan, serial_renewed: bool) -> None:
    changes = ((state, _status(plan.before.get(c))) for c, state in plan.after.items())
    save_states(db, changes, serial_renewed=serial_renewed)


def _status(state: CheckState | None) -> str | None:
    return state.status if state is not None else None


def evaluate_components(db: Store, settings: Settings, now: datetime) -> list[str]:
    """Recompute statuses, location problems and incidents at `now`; return the component ids
    whose public status changed."""
    with sql.write(db):
        states_by_check: dict[str, list[CheckState]] = defaultdict(list)
        for state in load_states(db):
            states_by_check[state.check_id].append(state)
        verdicts = {
            check.id: check_verdict(check, states_by_check[check.id], now, settings.stale_after_intervals)
            for check in settings.checks
        }
        maintenance = components_in_maintenance(db, now)
        health: dict[str, str] = {}
        for component in settings.components:
            checks = settings.checks_of(component.id)
            component_verdicts: list[CheckVerdict] = [verdicts[c.id] for c in checks]
            critical = [c.id in component.critical_checks for c in checks]
            health[component.id] = component_status(component_verdicts, critical)
        statuses = {cid: ("under_maintenance" if cid in maintenance else h) for cid, h in health.items()}
        _freeze_drilled(db, statuses, now)
        changed = save_component_status(db, statuses, now, health)
        sync_location_problems(db, _lone_failures(settings, states_by_check, verdicts, now), now)
        _incidents(db, settings, verdicts, health, maintenance, now)
        escalate_due(db, settings, now)
    return changed


def _freeze_drilled(db: Store, statuses: dict[str, str], now: datetime) -> None:
    """A drill is never public: while one runs (and until its incident closes), the component's
    public status stays what it was; its health, which the engine acts on, moves as usual."""
    drilled = drilled_components(db, now)
    if not drilled:
        return
    rows = load_component_rows(db)
    for component_id in drilled & statuses.keys():
        row = rows.get(component_id)
        statuses[component_id] = row.status if row else "unknown"


def _lone_failures(
    settings: Settings,
    states_by_check: dict[str, list[CheckState]],
    verdicts: dict[str, CheckVerdict],
    now: datetime,
) -> dict[tuple[str, str], str | None]:
    """(check, agent) pairs down at a live location while the check as a whole is not down."""
    failing: dict[tuple[str, str], str | None] = {}
    for check in settings.checks:
        if verdicts[check.id] == "down":
            continue
        horizon = check.interval * settings.stale_after_intervals
        for state in states_by_check[check.id]:
            if state.status == "down" and now - state.last_result_at <= horizon:
                failing[(check.id, state.agent)] = state.last_error
    return failing


def _incidents(
    db: Store,
    settings: Settings,
    verdicts: dict[str, CheckVerdict],
    health: dict[str, str],
    maintenance: set[str],
    now: datetime,
) -> None:
    rows = load_component_rows(db)
    facts: list[ComponentFacts] = []
    wanted: set[int] = {i.id for i in incident_store.list_incidents(db, open_only=True, kind="service")}
    for component in settings.components:
        last = incident_store.latest_incident_for_episode(db, f"component:{component.id}")
        row = rows.get(component.id)
        episode = row.incident_id if row else None
        wanted |= {i for i in (episode, last.id if last else None) if i is not None}
        facts.append(
            ComponentFacts(
                id=component.id,
                name=component.name,
                health=health[component.id],
                in_maintenance=component.id in maintenance,
                episode_incident_id=episode,
                upstream=_upstream(settings, component.id, component.depends_on, verdicts),
                incident_on=component.incident_on,
                auto_publish=component.auto_publish,
                auto_resolve=component.auto_resolve,
                reopen_cooldown=component.reopen_cooldown,
                escalation_policy=component.escalation_policy,
                last_auto_incident_id=last.id if last else None,
            )
        )
    incidents: dict[int, IncidentFacts] = {}
    for incident_id in sorted(wanted):
        incident = incident_store.get_incident(db, incident_id)
        if incident is not None:
            incidents[incident_id] = IncidentFacts(
                id=incident.id,
                status=incident.status,
                auto=incident.auto and incident.kind == "service",
                components=dict(incident.components),
                impact=incident.impact,
                impact_manual=incident.impact_manual,
                resolved_at=incident.resolved_at,
            )
    quiet_until = get_time(db, QUIET_UNTIL)
    actions = plan(facts, incidents, now, suppress_new=quiet_until is not None and now < quiet_until)
    opened = apply_actions(db, settings, actions, now)
    if opened:
        log.info("incidents opened ids=%s", ",".join(map(str, opened)))


def _upstream(
    settings: Settings, component_id: str, depends_on: list[str], verdicts: dict[str, CheckVerdict]
) -> tuple[str, ...]:
    """Declared upstream components plus the components of checks a failing check depends on."""
    upstream = list(depends_on)
    for check in settings.checks_of(component_id):
        if verdicts[check.id] not in ("down", "degraded"):
            continue
        for dependency in check.depends_on:
            owner = settings.check(dependency)
            if (
                owner
                and owner.component
                and owner.component != component_id
                and owner.component not in upstream
            ):
                upstream.append(owner.component)
    return tuple(upstream)

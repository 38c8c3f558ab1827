"""The worker's response pass: rules -> orders, re-checks, expiry. Side effects live in the worker.

Every pass (one write transaction, one clock reading):
1. open orders past their expiry become `expired` (told on the timeline);
2. while responses are switched on, each rule looks at the open incidents of
   its component (or its check's component): `incident_open` acts at once,
   `check_down` once the check has been down at some location for `down_for`;
   it asks each target agent once per incident (a dedupe key per rule,
   incident, agent and attempt makes a second pass, or a second worker, a no-op);
3. an order that must wait for approval pages the incident's responders with
   a signed approve link (`approval.request_approval`); one still waiting when
   the incident resolves is cancelled;
4. a rule with `recheck_after` looks again that long after its last attempt
   finished: still open -> the next attempt, up to `max_attempts`, then it gives up.

Targets: `run_on` selectors when given, else the agents that run the
component's checks (or the rule's check). Maintenance and drills: a rule does
not act on a component in maintenance unless `in_maintenance`, nor on a drill
incident unless `in_drills`; an agent that reported its actions without this
one is not asked. Each such decision is recorded once, in words.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from shared.timeutil import format_duration
from statuspage.assignments import checks_for, selector_matches
from statuspage.responses import approval, service, text
from statuspage.responses.config import ResponseRule
from statuspage.settings import Settings
from statuspage.storage import incidents as incident_store
from statuspage.storage import responses as store
from statuspage.storage import sql
from statuspage.storage.agents import Agent, list_agents
from statuspage.storage.maintenance import components_in_maintenance
from statuspage.storage.results import load_states
from statuspage.storage.sql import Store

log = logging.getLogger(__name__)
FINISHED = ("done", "expired", "cancelled")


def rule_component(settings: Settings, rule: ResponseRule) -> str | None:
    if rule.component is not None:
        return rule.component
    check = settings.check(rule.check or "")
    return check.component if check else None


def rule_targets(settings: Settings, rule: ResponseRule, agents: Iterable[Agent]) -> list[str]:
    """Names of the agents a rule asks: its `run_on`, else those that run the checks it watches."""
    agents = list(agents)
    if rule.run_on:
        return sorted(
            a.name
            for a in agents
            if any(selector_matches(s, a.name, a.authorized_labels) for s in rule.run_on)
        )
    component = rule_component(settings, rule)
    watched = {rule.check} if rule.check else {c.id for c in settings.checks_of(component or "")}
    return sorted(
        agent.name
        for agent in agents
        if any(check.id in watched for check in checks_for(list(settings.checks), agent))
    )


def run_responses(db: Store, settings: Settings, now: datetime) -> int:
    """One pass; return how many orders it placed."""
    if not settings.responses.rules and not store.has_open_orders(db):
        return 0
    placed = 0
    with sql.write(db):
        for order in store.expire_due(db, now):
            store.withdraw_approval_pages(db, order, "the order expired", now)
            service.note(db, order.incident_id, service.ENGINE, now, text.expired(order), order)
        for order in store.cancel_awaiting_of_closed(db, now):
            store.withdraw_approval_pages(db, order, "the incident was resolved", now)
            service.note(db, order.incident_id, service.ENGINE, now, text.resolved_first(order), order)
        if not service.active(db, settings) or not settings.responses.rules:
            return 0
        incidents = incident_store.list_incidents(db, open_only=True, limit=1000)
        agents = list_agents(db)
        offered = store.offered_actions(db)
        in_maintenance = components_in_maintenance(db, now)
        down_since = _down_since(db, settings)
        for rule in settings.responses.rules:
            component = rule_component(settings, rule)
            for incident in incidents:
                if component not in incident.components:
                    continue
                if rule.on == "check_down":
                    since = down_since.get(rule.check or "")
                    if since is None or now - since < rule.down_for:
                        continue
                context = _Context(rule, incident, component or "", agents, offered, in_maintenance, now)
                placed += _act(db, settings, context)
    if placed:
        log.info("response orders placed=%d", placed)
    return placed


class _Context:
    def __init__(
        self,
        rule: ResponseRule,
        incident: incident_store.Incident,
        component: str,
        agents: list[Agent],
        offered: dict[str, list[str]],
        in_maintenance: set[str],
        now: datetime,
    ):
        self.rule, self.incident, self.component = rule, incident, component
        self.agents, self.offered, self.in_maintenance, self.now = agents, offered, in_maintenance, now


def _act(db: Store, settings: Settings, ctx: _Context) -> int:
    rule, incident, now = ctx.rule, ctx.incident, ctx.now
    base_key = f"rule:{rule.id}:incident:{incident.id}"
    if incident.drill and not rule.in_drills:
        service.record_skip(
            db,
            incident_id=incident.id,
            rule_id=rule.id,
            agent_name="",
            action_id=rule.action,
            why="this is a drill and the rule does not run in drills (in_drills = false)",
            key=f"{base_key}:skip:drill",
            now=now,
        )
        return 0
    if ctx.component in ctx.in_maintenance and not rule.in_maintenance:
        service.record_skip(
            db,
            incident_id=incident.id,
            rule_id=rule.id,
            agent_name="",
            action_id=rule.action,
            why=f"{ctx.component} is in maintenance and the rule does not run then (in_maintenance = false)",
            key=f"{base_key}:skip:maintenance",
            now=now,
        )
        return 0
    previous = [o for o in store.rule_orders(db, rule.id, incident.id) if o.status != "skipped"]
    if not previous:
        return _ask(db, settings, ctx, attempt=1)
    last_attempt = max(o.attempt for o in previous)
    latest = [o for o in previous if o.attempt == last_attempt]
    if rule.recheck_after is None or any(o.status not in FINISHED for o in latest):
        return 0
    finished_at = max(o.finished_at or o.created_at for o in latest)
    if now - finished_at < rule.recheck_after or any(o.rechecked for o in latest):
        return 0
    for order in latest:
        store.mark_rechecked(db, order.id)
    waited = format_duration(rule.recheck_after)
    if last_attempt >= rule.max_attempts:
        service.note(
            db,
            incident.id,
            service.ENGINE,
            now,
            text.gave_up(rule.action, waited, last_attempt),
            rule=rule.id,
        )
        return 0
    words = text.retry(rule.action, waited, last_attempt + 1, rule.max_attempts)
    service.note(db, incident.id, service.ENGINE, now, words, rule=rule.id)
    return _ask(db, settings, ctx, attempt=last_attempt + 1)


def _ask(db: Store, settings: Settings, ctx: _Context, attempt: int) -> int:
    rule, incident, now = ctx.rule, ctx.incident, ctx.now
    base_key = f"rule:{rule.id}:incident:{incident.id}"
    targets = rule_targets(settings, rule, ctx.agents)
    if not targets:
        service.record_skip(
            db,
            incident_id=incident.id,
            rule_id=rule.id,
            agent_name="",
            action_id=rule.action,
            why="no agent matches the rule's targets",
            key=f"{base_key}:skip:no-agent",
            now=now,
        )
        return 0
    placed = 0
    for name in targets:
        offers = ctx.offered.get(name)
        if offers is not None and rule.action not in offers:
            service.record_skip(
                db,
                incident_id=incident.id,
                rule_id=rule.id,
                agent_name=name,
                action_id=rule.action,
                why=f"{name} does not declare it (it offers: {', '.join(offers) or 'nothing'})",
                key=f"{base_key}:agent:{name}:skip:not-offered",
                now=now,
            )
            continue
        order = service.place_order(
            db,
            incident_id=incident.id,
            agent_name=name,
            action_id=rule.action,
            requested_by=service.ENGINE,
            now=now,
            expires_after=rule.expires_after,
            rule_id=rule.id,
            attempt=attempt,
            dedupe_key=f"{base_key}:agent:{name}:attempt:{attempt}",
            require_approval=rule.require_approval,
            approve_within=rule.approve_within,
        )
        if order is not None and order.status == "awaiting_approval":
            approval.request_approval(db, settings, order, now)
        placed += order is not None
    return placed


def _down_since(db: Store, settings: Settings) -> dict[str, datetime]:
    """Check id -> since when it has been down at its earliest-failing location (check_down rules only)."""
    watched = {rule.check for rule in settings.responses.rules if rule.on == "check_down" and rule.check}
    if not watched:
        return {}
    found: dict[str, datetime] = {}
    for state in load_states(db, watched):
        if state.status == "down" and (state.check_id not in found or state.since < found[state.check_id]):
            found[state.check_id] = state.since
    return found

"""Which checks an agent runs: `run_on` selectors matched against its name and labels."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime

from shared.checks import COLLECTOR_KINDS, AnyCheck
from shared.schema import ActionOrder, Assignments, DrillOrder
from shared.timeutil import utcnow
from statuspage.storage.agents import Agent


def selector_matches(selector: str, agent_name: str, labels: set[str]) -> bool:
    """`*` matches every agent, `agent:NAME` one agent, `label:L` every agent carrying L."""
    if selector == "*":
        return True
    kind, _, value = selector.partition(":")
    if kind == "agent":
        return value == agent_name
    if kind == "label":
        return value in labels
    return False


def assignments_json(body: Assignments) -> str:
    """The document as sent: `actions` left out when empty, so agents older than remediation
    actions (which refuse unknown keys) keep working."""
    return body.model_dump_json(exclude=None if body.actions else {"actions"})


def checks_for(checks: list[AnyCheck], agent: Agent) -> list[AnyCheck]:
    """The checks this agent runs. Heartbeats are evaluated by the collector and never assigned."""
    labels = agent.authorized_labels
    return [
        check
        for check in checks
        if check.kind not in COLLECTOR_KINDS
        and any(selector_matches(s, agent.name, labels) for s in check.run_on)
    ]


def build_assignments(
    checks: list[AnyCheck],
    agent: Agent,
    drills: Mapping[str, tuple[int, datetime]] | None = None,
    actions: list[ActionOrder] | None = None,
) -> tuple[Assignments, str]:
    """Return the assignments document and its ETag (a hash of checks, drills and action
    orders, not the time).

    `drills` maps a drilled component id to (drill id, end): the agent fails its
    checks of that component on purpose until then. `actions` are the remediation
    orders waiting for this agent.
    """
    assigned = checks_for(checks, agent)
    drills = drills or {}
    orders = [
        DrillOrder(check_id=check.id, drill_id=drills[component][0], until=drills[component][1])
        for check in assigned
        if (component := check.component) is not None and component in drills
    ]
    body = Assignments(
        agent=agent.name, generated_at=utcnow(), checks=assigned, drills=orders, actions=actions or []
    )
    digest = hashlib.sha256(body.model_dump_json(exclude={"generated_at"}).encode()).hexdigest()[:32]
    return body, f'"{digest}"'

"""Incident rules: component health + open incidents + `now` in, incident actions out.

One incident per failure episode of a component. An episode starts when the
component's health reaches its `incident_on` level and ends when it is back
(below it; "no data" ends nothing). For a new episode, in this order:
- an upstream (`depends_on`, or the component of a check a failing check
  depends on) that has its own episode open: join that incident;
- an upstream under maintenance: the failure is explained; open nothing;
- the component's last automatic incident resolved within `reopen_cooldown`
  (a flap): reopen it;
- otherwise open a new one (unless new incidents are suppressed: collector
  downtime grace). A component under maintenance starts no episode.
An automatic incident whose components have all recovered is resolved, or,
if any of them has `auto_resolve = false`, moved to `monitoring` to wait for
a person; a failure while it is in `monitoring` sends it back to `investigating`.
Manual incidents (auto = False) are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from statuspage.engine.component_status import SEVERITY

IMPACT_OF = {"degraded_performance": "minor", "partial_outage": "major", "major_outage": "critical"}
PHRASES = {
    "degraded_performance": "degraded performance",
    "partial_outage": "a partial outage",
    "major_outage": "a major outage",
}
IMPACT_RANK = {"none": 0, "minor": 1, "major": 2, "critical": 3}
WORDS = {
    "operational": "operational",
    "degraded_performance": "degraded performance",
    "partial_outage": "partial outage",
    "major_outage": "major outage",
    "under_maintenance": "under maintenance",
    "unknown": "no data",
}


@dataclass(frozen=True)
class ComponentFacts:
    """What the rules know about one component at `now`."""

    id: str
    name: str
    health: str  # operational / degraded_performance / partial_outage / major_outage / unknown
    in_maintenance: bool = False
    episode_incident_id: int | None = None  # the incident of its current episode, if any
    upstream: tuple[str, ...] = ()
    incident_on: str = "partial_outage"
    auto_publish: bool = True
    auto_resolve: bool = True
    reopen_cooldown: timedelta = timedelta(minutes=15)
    escalation_policy: str | None = None
    last_auto_incident_id: int | None = None  # newest automatic incident of its episode key

    @property
    def bad(self) -> bool:
        return SEVERITY.get(self.health, 0) >= SEVERITY[self.incident_on]


@dataclass(frozen=True)
class IncidentFacts:
    id: int
    status: str
    auto: bool
    components: dict[str, str]
    impact: str = "none"
    impact_manual: bool = False
    resolved_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status not in ("resolved", "postmortem")


ActionKind = Literal["open", "join", "reopen", "component", "status", "impact", "episode"]


@dataclass(frozen=True)
class Action:
    """One change to store. `incident_id` < 0 refers to an incident opened earlier in the same plan."""

    kind: ActionKind
    incident_id: int
    component_id: str | None = None
    status: str | None = None  # component status (open/join/reopen/component) or incident status
    body: str = ""
    title: str = ""
    impact: str = ""
    public: bool = True
    escalation_policy: str | None = None
    affected: dict[str, str] = field(default_factory=dict)  # component -> old status, for updates


def impact_for(status: str) -> str:
    return IMPACT_OF.get(status, "none")


def plan(
    components: list[ComponentFacts],
    incidents: dict[int, IncidentFacts],
    now: datetime,
    suppress_new: bool = False,
) -> list[Action]:
    """Decide the incident actions for this moment. Pure: no I/O, `now` is the only clock."""
    by_id = {c.id: c for c in components}
    view = {i: dict(f.components) for i, f in incidents.items()}  # incident -> component statuses
    episode: dict[str, int | None] = {c.id: c.episode_incident_id for c in components}
    actions: list[Action] = []
    next_new_id = -1
    for facts in _upstream_first(components):
        current = episode[facts.id]
        if not facts.bad:
            if current is not None and facts.health != "unknown":
                incident = incidents.get(current)
                if incident and incident.auto and incident.is_open and facts.id in view.get(current, {}):
                    old = view[current][facts.id]
                    if old != "operational":
                        view[current][facts.id] = "operational"
                        actions.append(_component(current, facts, old, "operational"))
                actions.append(Action("episode", 0, facts.id))
                episode[facts.id] = None
            continue
        if current is not None:
            incident = incidents.get(current)
            if current < 0 or (incident and incident.auto and incident.is_open):
                _attach(actions, view, current, facts)
            continue  # an operator closed it while still failing: no new incident this episode
        if facts.in_maintenance:
            continue  # planned work: no incident, nobody paged
        joined = _upstream_incident(facts, episode, by_id)
        if joined is not None:
            view.setdefault(joined, {})[facts.id] = facts.health
            episode[facts.id] = joined
            body = f"{facts.name} is also affected ({WORDS[facts.health]})."
            actions.append(
                Action("join", joined, facts.id, facts.health, body, affected={facts.id: "operational"})
            )
            continue
        if any(by_id[u].in_maintenance for u in facts.upstream if u in by_id):
            continue  # explained by the upstream's maintenance
        last = incidents.get(facts.last_auto_incident_id or 0)
        if last and last.auto and last.is_open:
            episode[facts.id] = last.id  # e.g. waiting in monitoring: the same incident carries on
            _attach(actions, view, last.id, facts)
            continue
        if suppress_new:
            continue
        if (
            last
            and last.auto
            and last.resolved_at is not None
            and now - last.resolved_at <= facts.reopen_cooldown
        ):
            view[last.id] = {**view[last.id], facts.id: facts.health}
            episode[facts.id] = last.id
            body = f"The problem has returned: {facts.name} shows {WORDS[facts.health]}."
            actions.append(
                Action("reopen", last.id, facts.id, facts.health, body, affected={facts.id: "operational"})
            )
            continue
        new_id, next_new_id = next_new_id, next_new_id - 1
        view[new_id] = {facts.id: facts.health}
        episode[facts.id] = new_id
        actions.append(
            Action(
                "open",
                new_id,
                facts.id,
                facts.health,
                body=f"We are investigating {PHRASES[facts.health]} of {facts.name}.",
                title=f"{facts.name}: {WORDS[facts.health]}",
                impact=impact_for(facts.health),
                public=facts.auto_publish,
                escalation_policy=facts.escalation_policy,
            )
        )
    closing = _incident_statuses(components, incidents, view, episode, actions)
    recovered = {
        a.incident_id for a in closing if a.kind == "status" and a.status in ("resolved", "monitoring")
    }
    # The closing update names every recovered component; one update per component would be noise.
    actions = [a for a in actions if not (a.kind == "component" and a.incident_id in recovered)]
    return actions + closing


def _attach(
    actions: list[Action], view: dict[int, dict[str, str]], incident_id: int, facts: ComponentFacts
) -> None:
    """Record the component's current status in its incident when it changed."""
    old = view.setdefault(incident_id, {}).get(facts.id)
    if old != facts.health:
        view[incident_id][facts.id] = facts.health
        actions.append(_component(incident_id, facts, old or "operational", facts.health))


def _incident_statuses(
    components: list[ComponentFacts],
    incidents: dict[int, IncidentFacts],
    view: dict[int, dict[str, str]],
    episode: dict[str, int | None],
    so_far: list[Action],
) -> list[Action]:
    """Recovered incidents resolve (or wait in monitoring); a worsening in monitoring goes back to
    investigating; impact follows the worst component unless an operator set it."""
    actions: list[Action] = []
    by_id = {c.id: c for c in components}
    reopened = {a.incident_id for a in so_far if a.kind == "reopen"}
    worsened = {
        a.incident_id
        for a in so_far
        if a.kind == "join"
        or (
            a.kind == "component"
            and SEVERITY.get(a.status or "", 0) > SEVERITY.get(a.affected.get(a.component_id or "", ""), 0)
        )
    }
    for incident_id, incident in incidents.items():
        if not incident.auto or (not incident.is_open and incident_id not in reopened):
            continue
        holding = [cid for cid, eid in episode.items() if eid == incident_id]
        if not holding:
            involved = [by_id[c] for c in view.get(incident_id, {}) if c in by_id]
            if all(c.auto_resolve for c in involved):
                actions.append(
                    Action("status", incident_id, status="resolved", body=_recovered_body(involved))
                )
            elif incident.status != "monitoring":
                body = "All checks have recovered. We are monitoring the results."
                actions.append(Action("status", incident_id, status="monitoring", body=body))
            continue
        if incident.status == "monitoring" and incident_id in worsened and incident_id not in reopened:
            worst = max(holding, key=lambda c: SEVERITY.get(by_id[c].health, 0))
            body = f"The problem has returned: {by_id[worst].name} shows {WORDS[by_id[worst].health]}."
            actions.append(Action("status", incident_id, status="investigating", body=body))
        if not incident.impact_manual:
            statuses = view.get(incident_id, {}).values()
            worst_impact = max(
                (impact_for(s) for s in statuses), key=lambda i: IMPACT_RANK[i], default="none"
            )
            if IMPACT_RANK[worst_impact] > IMPACT_RANK.get(incident.impact, 0):
                actions.append(Action("impact", incident_id, impact=worst_impact))
    return actions


def _component(incident_id: int, facts: ComponentFacts, old: str, new: str) -> Action:
    if new == "operational":
        body = f"{facts.name} has recovered."
    else:
        body = f"{facts.name}: {WORDS[new]}."
    return Action("component", incident_id, facts.id, new, body, affected={facts.id: old})


def _upstream_incident(
    facts: ComponentFacts, episode: dict[str, int | None], by_id: dict[str, ComponentFacts]
) -> int | None:
    for upstream in facts.upstream:
        incident_id = episode.get(upstream)
        if incident_id is not None and upstream in by_id and by_id[upstream].bad:
            return incident_id
    return None


def _recovered_body(involved: list[ComponentFacts]) -> str:
    names = ", ".join(c.name for c in involved) or "The affected components"
    verb = "has" if len(involved) == 1 else "have"
    return f"{names} {verb} recovered. This incident has been resolved."


def _upstream_first(components: list[ComponentFacts]) -> list[ComponentFacts]:
    """Order so every upstream comes before its dependents (config refuses cycles)."""
    by_id = {c.id: c for c in components}
    ordered: list[ComponentFacts] = []
    placed: set[str] = set()

    def place(facts: ComponentFacts, depth: int) -> None:
        if facts.id in placed or depth > len(components):
            return
        for upstream in facts.upstream:
            if upstream in by_id:
                place(by_id[upstream], depth + 1)
        placed.add(facts.id)
        ordered.append(facts)

    for facts in components:
        place(facts, 0)
    return ordered

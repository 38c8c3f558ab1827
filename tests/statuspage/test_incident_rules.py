"""The incident rules as a pure function: facts + now in, actions out. Table-driven."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from statuspage.engine.incidents import IMPACT_RANK, Action, ComponentFacts, IncidentFacts, impact_for, plan
from tests.conftest import T0

pytestmark = pytest.mark.engines("sqlite", "postgresql")

API = ComponentFacts(id="api", name="API", health="operational")
WEB = ComponentFacts(id="web", name="Web", health="operational", upstream=("api",))


def auto(
    incident_id: int, status: str = "investigating", resolved_min_ago: float | None = None, **components: str
):
    resolved = T0 - timedelta(minutes=resolved_min_ago) if resolved_min_ago is not None else None
    impact = max((impact_for(c) for c in components.values()), key=IMPACT_RANK.__getitem__, default="none")
    return IncidentFacts(incident_id, status, True, dict(components), impact=impact, resolved_at=resolved)


def kinds(actions: list[Action]) -> list[str]:
    out = []
    for a in actions:
        detail = a.status or a.impact or ""
        out.append(f"{a.kind}:{a.incident_id}:{a.component_id or ''}:{detail}")
    return out


CASES = [
    # (name, components, incidents, suppress, expected)
    ("healthy: nothing", [API], {}, False, []),
    ("degraded below incident_on: nothing", [replace(API, health="degraded_performance")], {}, False, []),
    (
        "degraded opens when incident_on allows it",
        [replace(API, health="degraded_performance", incident_on="degraded_performance")],
        {},
        False,
        ["open:-1:api:degraded_performance"],
    ),
    (
        "partial outage opens",
        [replace(API, health="partial_outage")],
        {},
        False,
        ["open:-1:api:partial_outage"],
    ),
    ("no data is not an outage", [replace(API, health="unknown")], {}, False, []),
    ("maintenance: no incident", [replace(API, health="major_outage", in_maintenance=True)], {}, False, []),
    ("collector grace: no new incident", [replace(API, health="major_outage")], {}, True, []),
    (
        "already open for this episode: no duplicate",
        [replace(API, health="major_outage", episode_incident_id=7)],
        {7: auto(7, api="major_outage")},
        False,
        [],
    ),
    (
        "worse within the episode: component update and impact",
        [replace(API, health="major_outage", episode_incident_id=7)],
        {7: auto(7, api="partial_outage")},
        False,
        ["component:7:api:major_outage", "impact:7::critical"],
    ),
    (
        "operator resolved while failing: nothing new this episode",
        [replace(API, health="major_outage", episode_incident_id=7)],
        {7: auto(7, "resolved", resolved_min_ago=1, api="major_outage")},
        False,
        [],
    ),
    (
        "recovered: resolves",
        [replace(API, episode_incident_id=7)],
        {7: auto(7, api="major_outage")},
        False,
        ["episode:0:api:", "status:7::resolved"],
    ),
    (
        "recovered without auto_resolve: monitoring",
        [replace(API, episode_incident_id=7, auto_resolve=False)],
        {7: auto(7, api="major_outage")},
        False,
        ["episode:0:api:", "status:7::monitoring"],
    ),
    (
        "failing again while waiting in monitoring: back to investigating",
        [replace(API, health="major_outage", last_auto_incident_id=7, auto_resolve=False)],
        {7: auto(7, "monitoring", api="operational")},
        False,
        ["component:7:api:major_outage", "status:7::investigating", "impact:7::critical"],
    ),
    (
        "no data does not resolve",
        [replace(API, health="unknown", episode_incident_id=7)],
        {7: auto(7, api="major_outage")},
        False,
        [],
    ),
    (
        "flap within cooldown reopens",
        [replace(API, health="major_outage", last_auto_incident_id=7)],
        {7: auto(7, "resolved", resolved_min_ago=5, api="operational")},
        False,
        ["reopen:7:api:major_outage", "impact:7::critical"],
    ),
    (
        "failure after the cooldown opens a new one",
        [replace(API, health="major_outage", last_auto_incident_id=7)],
        {7: auto(7, "resolved", resolved_min_ago=16, api="operational")},
        False,
        ["open:-1:api:major_outage"],
    ),
    (
        "grace also holds back a reopen",
        [replace(API, health="major_outage", last_auto_incident_id=7)],
        {7: auto(7, "resolved", resolved_min_ago=5, api="operational")},
        True,
        [],
    ),
    (
        "downstream joins the upstream incident opened in the same pass",
        [replace(WEB, health="major_outage"), replace(API, health="major_outage")],
        {},
        False,
        ["open:-1:api:major_outage", "join:-1:web:major_outage"],
    ),
    (
        "downstream joins an upstream incident already open",
        [replace(API, health="major_outage", episode_incident_id=7), replace(WEB, health="partial_outage")],
        {7: auto(7, api="major_outage")},
        False,
        ["join:7:web:partial_outage"],
    ),
    (
        "downstream alone opens its own",
        [API, replace(WEB, health="major_outage")],
        {},
        False,
        ["open:-1:web:major_outage"],
    ),
    (
        "upstream under maintenance explains the downstream failure",
        [replace(API, health="major_outage", in_maintenance=True), replace(WEB, health="major_outage")],
        {},
        False,
        [],
    ),
    (
        "incident resolves only when every joined component recovered",
        [replace(API, episode_incident_id=7), replace(WEB, health="major_outage", episode_incident_id=7)],
        {7: auto(7, api="major_outage", web="major_outage")},
        False,
        ["component:7:api:operational", "episode:0:api:"],
    ),
    (
        "manual incidents are never touched",
        [replace(API, episode_incident_id=7)],
        {7: IncidentFacts(7, "investigating", False, {"api": "major_outage"})},
        False,
        ["episode:0:api:"],
    ),
    (
        "operator impact is kept",
        [replace(API, health="major_outage", episode_incident_id=7)],
        {7: replace(auto(7, api="partial_outage"), impact_manual=True)},
        False,
        ["component:7:api:major_outage"],
    ),
]


@pytest.mark.parametrize(
    ("name", "components", "incidents", "suppress", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_plan(name: str, components, incidents, suppress: bool, expected: list[str]) -> None:
    assert kinds(plan(components, incidents, T0, suppress_new=suppress)) == expected


def test_open_carries_title_body_impact_public_and_policy() -> None:
    facts = replace(API, health="major_outage", auto_publish=False, escalation_policy="ops")
    [action] = plan([facts], {}, T0)
    assert action.title == "API: major outage"
    assert action.body == "We are investigating a major outage of API."
    assert (action.impact, action.public, action.escalation_policy) == ("critical", False, "ops")


def test_flapping_sequence_keeps_one_incident() -> None:
    """bad, good, bad within the cooldown: one incident, reopened, never a second."""
    incidents: dict[int, IncidentFacts] = {}
    episode: int | None = None
    last: int | None = None
    opened = []
    clock = T0
    for health in ["major_outage", "operational", "major_outage", "operational", "major_outage"]:
        facts = replace(API, health=health, episode_incident_id=episode, last_auto_incident_id=last)
        for action in plan([facts], incidents, clock):
            if action.kind == "open":
                opened.append(action)
                incidents[1] = auto(1, api=health)
                episode = last = 1
            elif action.kind == "reopen":
                incidents[1] = auto(1, api=health)
                episode = 1
            elif action.kind == "episode":
                episode = None
            elif action.kind == "status" and action.status == "resolved":
                incidents[1] = replace(incidents[1], status="resolved", resolved_at=clock)
        clock += timedelta(minutes=2)
    assert len(opened) == 1
    assert incidents[1].is_open

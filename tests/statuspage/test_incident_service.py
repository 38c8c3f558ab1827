"""Operator actions on incidents: validation, timeline, public updates, escalation stop."""

from __future__ import annotations

from typing import Any

import pytest

from statuspage import incidents as service
from statuspage.settings import Settings
from statuspage.storage import incidents as store
from statuspage.storage import sql
from statuspage.storage.outbox import enqueue, list_outbox
from tests.conftest import FrozenClock

pytestmark = pytest.mark.engines("sqlite", "postgresql")


def open_one(db: Any, settings: Settings, clock: FrozenClock, public: bool = True) -> int:
    return service.create_incident(
        db,
        settings,
        title="API errors",
        body="We are looking into elevated errors.",
        actor="alice",
        now=clock(),
        impact="major",
        components={"api": "partial_outage"},
        public=public,
    )


def test_life_cycle_writes_updates_and_timeline(db: Any, settings: Settings, clock: FrozenClock) -> None:
    incident_id = open_one(db, settings, clock)
    clock.advance(minutes=1)
    assert service.acknowledge(db, incident_id, "bob", clock())
    assert not service.acknowledge(db, incident_id, "carol", clock())  # first one wins
    clock.advance(minutes=1)
    service.post_update(db, incident_id, "identified", "A bad deploy.", "bob", clock())
    service.change_impact(db, incident_id, "critical", "bob", clock())
    service.set_components(
        db, settings, incident_id, {"api": "major_outage", "web": "degraded_performance"}, "bob", clock()
    )
    clock.advance(minutes=5)
    service.resolve(db, incident_id, "bob", clock())
    service.set_root_cause(db, incident_id, "Config *typo*", "bob", clock())
    service.set_postmortem(db, incident_id, "# What happened", "bob", clock(), publish=True)

    incident = store.get_incident(db, incident_id)
    assert incident is not None
    assert incident.status == "postmortem" and incident.impact == "critical" and incident.impact_manual
    assert incident.acknowledged_by == "bob" and incident.resolved_at is not None
    assert incident.components == {"api": "major_outage", "web": "degraded_performance"}
    assert incident.root_cause == "Config *typo*" and incident.postmortem_published_at is not None
    statuses = [u.status for u in store.updates_of(db, incident_id)]
    assert statuses == ["investigating", "identified", "identified", "identified", "resolved", "postmortem"]
    kinds = [e.kind for e in store.events_of(db, incident_id)]
    assert kinds == [
        "opened",
        "acknowledged",
        "status_changed",
        "impact_changed",
        "components_changed",
        "status_changed",
        "root_cause_set",
        "postmortem_saved",
        "status_changed",
    ]
    assert all(e.actor in ("alice", "bob") for e in store.events_of(db, incident_id))
    changed = store.updates_of(db, incident_id)[3].affected_components
    assert {"component_id": "api", "old_status": "partial_outage", "new_status": "major_outage"} in changed


def test_publish_makes_a_fresh_public_update(db: Any, settings: Settings, clock: FrozenClock) -> None:
    incident_id = open_one(db, settings, clock, public=False)
    assert store.list_incidents(db, public_only=True) == []
    clock.advance(seconds=30)
    assert service.publish(db, incident_id, "alice", clock())
    assert not service.publish(db, incident_id, "alice", clock())
    incident = store.get_incident(db, incident_id)
    assert incident is not None and incident.public and incident.published_at == clock()
    updates = store.updates_of(db, incident_id)
    assert len(updates) == 2 and updates[-1].created_at == clock()


def test_resolve_tells_the_channels_already_paged(db: Any, settings: Settings, clock: FrozenClock) -> None:
    incident_id = open_one(db, settings, clock)
    with sql.write(db):
        enqueue(
            db,
            event="incident.escalated",
            destination_kind="webhook",
            destination="oncall",
            payload={},
            idempotency_key=f"incident:{incident_id}:escalation:0:0:oncall",
            now=clock(),
        )
    service.resolve(db, incident_id, "bob", clock())
    rows = list_outbox(db)
    assert [(r.event, r.destination) for r in rows] == [
        ("incident.escalated", "oncall"),
        ("incident.resolved", "oncall"),
    ]


def test_problem_links(db: Any, settings: Settings, clock: FrozenClock) -> None:
    first, second = open_one(db, settings, clock), None
    service.resolve(db, first, "bob", clock())
    second = open_one(db, settings, clock)
    problem_id = service.create_problem(db, "Flaky load balancer", "", "bob", clock())
    service.link_problem(db, first, problem_id, "bob", clock())
    service.link_problem(db, second, problem_id, "bob", clock())
    from statuspage.storage.problems import get_problem

    problem = get_problem(db, problem_id)
    assert problem is not None and problem.incident_ids == [first, second]
    with pytest.raises(service.IncidentNotFound):
        service.link_problem(db, first, 999, "bob", clock())


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda db, s, i, now: service.post_update(db, i, "fixed", "x", "bob", now), "status"),
        (lambda db, s, i, now: service.post_update(db, i, "identified", "  ", "bob", now), "body"),
        (lambda db, s, i, now: service.post_update(db, i, "identified", "x" * 20_001, "bob", now), "body"),
        (lambda db, s, i, now: service.post_update(db, i, "identified", "a\x00b", "bob", now), "body"),
        (lambda db, s, i, now: service.post_update(db, i, "identified", "x", "", now), "actor"),
        (lambda db, s, i, now: service.post_update(db, i, "postmortem", "x", "bob", now), "status"),
        (lambda db, s, i, now: service.change_impact(db, i, "huge", "bob", now), "impact"),
        (
            lambda db, s, i, now: service.set_components(db, s, i, {"nope": "major_outage"}, "bob", now),
            "components",
        ),
        (
            lambda db, s, i, now: service.set_components(db, s, i, {"api": "down"}, "bob", now),
            "components.api",
        ),
        (lambda db, s, i, now: service.set_postmortem(db, i, "pm", "bob", now, publish=True), "publish"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(
    db: Any, settings: Settings, clock: FrozenClock, call: Any, field: str
) -> None:
    incident_id = open_one(db, settings, clock)
    before = (
        store.get_incident(db, incident_id),
        store.updates_of(db, incident_id),
        store.events_of(db, incident_id),
    )
    with pytest.raises(service.IncidentInputError) as error:
        call(db, settings, incident_id, clock())
    assert error.value.field == field
    after = (
        store.get_incident(db, incident_id),
        store.updates_of(db, incident_id),
        store.events_of(db, incident_id),
    )
    assert after == before


def test_unknown_incident(db: Any, clock: FrozenClock) -> None:
    with pytest.raises(service.IncidentNotFound):
        service.acknowledge(db, 42, "bob", clock())


def test_one_open_incident_per_episode(db: Any, clock: FrozenClock) -> None:
    def insert() -> int:
        with sql.write(db):
            return store.insert_incident(
                db,
                title="t",
                impact="major",
                components={"api": "major_outage"},
                body="b",
                actor="engine",
                now=clock(),
                auto=True,
                episode_key="component:api",
            )

    first = insert()
    with pytest.raises(store.IncidentAlreadyOpen) as error:
        insert()
    assert error.value.incident_id == first
    with sql.write(db):
        store.set_status(db, first, "resolved", clock())
    assert insert() != first  # a new episode after the last one closed

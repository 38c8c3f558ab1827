"""Everything an operator can change, as plain functions shared by the admin UI and the REST API.

Each takes the validated request model, calls the incident service layer or
the storage modules, and appends one audit-log entry in the same transaction
as the change. Raises `OperationError` (HTTP 422, naming the field) or
`NotFound` (HTTP 404); `IncidentInputError`/`IncidentNotFound` from the
service layer are translated to those.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from shared.timeutil import to_iso
from statuspage import incidents as service
from statuspage.admin import models
from statuspage.notify import destinations, subscriptions
from statuspage.notify import outbox as notify_outbox
from statuspage.notify.config import ChannelConfig
from statuspage.settings import Settings
from statuspage.storage import agents as agent_store
from statuspage.storage import audit, overrides, sql
from statuspage.storage import maintenance as maintenance_store
from statuspage.storage.sql import Store  # noqa: I001

T = TypeVar("T")


class OperationError(ValueError):
    """Refused input; `field` names the part that is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(LookupError):
    """The thing addressed does not exist."""


@dataclass(frozen=True)
class Actor:
    """Who acts: "user:alice" or "token:deploy-bot", and from which address."""

    label: str
    client_address: str


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except service.IncidentInputError as error:
        raise OperationError(error.field, str(error).split(": ", 1)[-1]) from None
    except service.IncidentNotFound as error:
        raise NotFound(str(error)) from None


def _audited(
    db: Store,
    actor: Actor,
    now: datetime,
    action: str,
    target: str,
    details: dict[str, Any],
    change: Callable[[], T],
) -> T:
    """Run `change` and record it in one transaction (the service layer joins the outer one)."""
    with _translated(), sql.write(db):
        result = change()
        audit.record(db, now, actor.label, action, target, actor.client_address, details)
    return result


# -- incidents -------------------------------------------------------------------------------------


def create_incident(
    db: Store, settings: Settings, actor: Actor, now: datetime, data: models.IncidentCreate
) -> int:
    return _audited(
        db,
        actor,
        now,
        "incident.create",
        "",
        {"title": data.title, "impact": data.impact},
        lambda: service.create_incident(
            db,
            settings,
            title=data.title,
            body=data.body,
            actor=actor.label,
            now=now,
            status=data.status,
            impact=data.impact,
            components=data.components,
            public=data.public,
        ),
    )


def acknowledge(db: Store, actor: Actor, now: datetime, incident_id: int) -> bool:
    return _audited(
        db,
        actor,
        now,
        "incident.acknowledge",
        f"incident:{incident_id}",
        {},
        lambda: service.acknowledge(db, incident_id, actor.label, now),
    )


def post_update(
    db: Store, settings: Settings, actor: Actor, now: datetime, incident_id: int, data: models.UpdateCreate
) -> int:
    return _audited(
        db,
        actor,
        now,
        "incident.update",
        f"incident:{incident_id}",
        {"status": data.status},
        lambda: service.post_update(
            db,
            incident_id,
            data.status,
            data.body,
            actor.label,
            now,
            components=data.components,
            settings=settings,
        ),
    )


def resolve(db: Store, actor: Actor, now: datetime, incident_id: int, data: models.ResolveRequest) -> int:
    body = data.body if data.body and data.body.strip() else None
    return _audited(
        db,
        actor,
        now,
        "incident.resolve",
        f"incident:{incident_id}",
        {},
        lambda: service.resolve(db, incident_id, actor.label, now, body),
    )


def change_impact(db: Store, actor: Actor, now: datetime, incident_id: int, data: models.ImpactChange) -> int:
    body = data.body if data.body and data.body.strip() else None
    return _audited(
        db,
        actor,
        now,
        "incident.impact",
        f"incident:{incident_id}",
        {"impact": data.impact},
        lambda: service.change_impact(db, incident_id, data.impact, actor.label, now, body),
    )


def set_components(
    db: Store,
    settings: Settings,
    actor: Actor,
    now: datetime,
    incident_id: int,
    data: models.ComponentsChange,
) -> int:
    body = data.body if data.body and data.body.strip() else None
    return _audited(
        db,
        actor,
        now,
        "incident.components",
        f"incident:{incident_id}",
        {"components": data.components},
        lambda: service.set_components(db, settings, incident_id, data.components, actor.label, now, body),
    )


def publish(db: Store, actor: Actor, now: datetime, incident_id: int) -> bool:
    return _audited(
        db,
        actor,
        now,
        "incident.publish",
        f"incident:{incident_id}",
        {},
        lambda: service.publish(db, incident_id, actor.label, now),
    )


def save_postmortem(
    db: Store, actor: Actor, now: datetime, incident_id: int, data: models.PostmortemSave
) -> None:
    _audited(
        db,
        actor,
        now,
        "incident.postmortem",
        f"incident:{incident_id}",
        {"publish": data.publish, "chars": len(data.markdown)},
        lambda: service.set_postmortem(
            db, incident_id, data.markdown, actor.label, now, publish=data.publish
        ),
    )


def save_root_cause(
    db: Store, actor: Actor, now: datetime, incident_id: int, data: models.RootCauseSave
) -> None:
    _audited(
        db,
        actor,
        now,
        "incident.root_cause",
        f"incident:{incident_id}",
        {"chars": len(data.markdown)},
        lambda: service.set_root_cause(db, incident_id, data.markdown, actor.label, now),
    )


# -- maintenance -----------------------------------------------------------------------------------


def _known_components(settings: Settings, components: list[str]) -> list[str]:
    known = {c.id for c in settings.components}
    unknown = [c for c in components if c not in known]
    if unknown:
        raise OperationError("components", f"unknown component {unknown[0]!r}")
    return sorted(set(components))


def schedule_maintenance(
    db: Store, settings: Settings, actor: Actor, now: datetime, data: models.MaintenanceCreate
) -> int:
    components = _known_components(settings, data.components)

    def change() -> int:
        created = maintenance_store.insert_maintenance(
            db,
            title=data.title,
            body=data.body,
            scheduled_for=data.scheduled_for,
            scheduled_until=data.scheduled_until,
            components=components,
            now=now,
        )
        assert created is not None  # manual windows never collide
        return created

    return _audited(db, actor, now, "maintenance.schedule", "", {"title": data.title}, change)


def change_maintenance(
    db: Store,
    settings: Settings,
    actor: Actor,
    now: datetime,
    maintenance_id: int,
    data: models.MaintenanceChange,
) -> None:
    current = maintenance_store.get_maintenance(db, maintenance_id)
    if current is None:
        raise NotFound(f"maintenance {maintenance_id}")
    if current.status == "completed":
        raise OperationError("status", "a completed window cannot be changed")
    start = data.scheduled_for or current.scheduled_for
    until = data.scheduled_until or current.scheduled_until
    if until <= start:
        raise OperationError("scheduled_until", "must be after scheduled_for")
    components = _known_components(settings, data.components) if data.components is not None else None
    fields = data.model_dump(exclude_none=True, exclude={"components"})
    _audited(
        db,
        actor,
        now,
        "maintenance.change",
        f"maintenance:{maintenance_id}",
        {"fields": sorted(fields)},
        lambda: maintenance_store.update_maintenance(
            db,
            maintenance_id,
            now,
            title=data.title,
            body=data.body,
            scheduled_for=data.scheduled_for,
            scheduled_until=data.scheduled_until,
            components=components,
        ),
    )


def complete_maintenance(db: Store, actor: Actor, now: datetime, maintenance_id: int) -> bool:
    if maintenance_store.get_maintenance(db, maintenance_id) is None:
        raise NotFound(f"maintenance {maintenance_id}")
    return _audited(
        db,
        actor,
        now,
        "maintenance.complete",
        f"maintenance:{maintenance_id}",
        {},
        lambda: maintenance_store.complete_now(db, maintenance_id, now),
    )


# -- components and agents -------------------------------------------------------------------------


def set_override(
    db: Store, settings: Settings, actor: Actor, now: datetime, component_id: str, data: models.OverrideSet
) -> None:
    if settings.component(component_id) is None:
        raise NotFound(f"component {component_id}")
    _audited(
        db,
        actor,
        now,
        "component.override",
        f"component:{component_id}",
        {"status": data.status},
        lambda: overrides.set_override(db, component_id, data.status, data.reason, actor.label, now),
    )


def clear_override(db: Store, settings: Settings, actor: Actor, now: datetime, component_id: str) -> bool:
    if settings.component(component_id) is None:
        raise NotFound(f"component {component_id}")
    return _audited(
        db,
        actor,
        now,
        "component.override_clear",
        f"component:{component_id}",
        {},
        lambda: overrides.clear_override(db, component_id, now),
    )


def revoke_agent(db: Store, actor: Actor, now: datetime, name: str) -> None:
    if not any(agent.name == name for agent in agent_store.list_agents(db)):
        raise NotFound(f"agent {name}")
    _audited(
        db, actor, now, "agent.revoke", f"agent:{name}", {}, lambda: agent_store.revoke_agent(db, name, now)
    )


def approve_agent_labels(
    db: Store, actor: Actor, now: datetime, name: str, labels: list[str] | None = None
) -> list[str]:
    """Give agent `name` the labels it declared and waits for (all pending ones when `labels`
    is None); return the labels approved. Raises NotFound, or OperationError for a label the
    agent is not waiting for (operators grant what they were shown, nothing else)."""
    agent = next((a for a in agent_store.list_agents(db) if a.name == name), None)
    if agent is None:
        raise NotFound(f"agent {name}")
    wanted = sorted(set(agent.pending_labels if labels is None else labels))
    stray = [label for label in wanted if label not in agent.pending_labels]
    if stray:
        raise OperationError("labels", f"agent {name} is not waiting for label {stray[0]!r}")
    if not wanted:
        return []
    _audited(
        db,
        actor,
        now,
        "agent.approve_labels",
        f"agent:{name}",
        {"labels": wanted},
        lambda: agent_store.grant_labels(db, name, wanted),
    )
    return wanted


# -- subscribers and channels ----------------------------------------------------------------------


def remove_email_subscriber(db: Store, actor: Actor, now: datetime, subscriber_id: int) -> bool:
    def change() -> bool:
        done = subscriptions.unsubscribe_by_id(db, subscriber_id, now)
        if done is None:
            raise NotFound(f"subscriber {subscriber_id}")
        return done

    return _audited(db, actor, now, "subscriber.remove", f"subscriber:{subscriber_id}", {}, change)


def add_webhook(
    db: Store, settings: Settings, actor: Actor, now: datetime, data: models.WebhookCreate
) -> tuple[int, str]:
    """Register an operator webhook (trusted, active at once); return (id, signing secret)."""
    components = _known_components(settings, data.components)
    return _audited(
        db,
        actor,
        now,
        "webhook.create",
        "",
        {"url": data.url},
        lambda: subscriptions.create_webhook_subscription(
            db, settings, data.url, components, now, origin="operator", description=data.description
        ),
    )


def remove_webhook(db: Store, actor: Actor, now: datetime, webhook_id: int) -> bool:
    if not any(w.id == webhook_id for w in subscriptions.list_webhooks(db, include_removed=True)):
        raise NotFound(f"webhook {webhook_id}")
    return _audited(
        db, actor, now, "webhook.remove", f"webhook:{webhook_id}", {},
        lambda: subscriptions.remove_webhook(db, webhook_id, now),
    )  # fmt: skip


def _channel(settings: Settings, channel_id: str) -> ChannelConfig:
    channel = settings.channel(channel_id)
    if channel is None:
        raise NotFound(f"channel {channel_id}")
    return channel


def enable_channel(db: Store, settings: Settings, actor: Actor, now: datetime, channel_id: str) -> bool:
    channel = _channel(settings, channel_id)
    return _audited(
        db, actor, now, "channel.enable", f"channel:{channel_id}", {},
        lambda: destinations.enable(db, channel.kind, channel.id),
    )  # fmt: skip


def test_channel(db: Store, settings: Settings, actor: Actor, now: datetime, channel_id: str) -> bool:
    """Queue a test message for the channel; the worker delivers it (no network from a request)."""
    channel = _channel(settings, channel_id)
    return _audited(
        db, actor, now, "channel.test", f"channel:{channel_id}", {},
        lambda: bool(
            notify_outbox.enqueue_channel_message(
                db, channel.id, channel.kind, "channel.test", f"channel-test:{channel.id}:{to_iso(now)}",
                f"Test message from {settings.page.name}",
                f"This is a test of the channel {channel.label!r}, queued by {actor.label}.", now,
            )
        ),
    )  # fmt: skip

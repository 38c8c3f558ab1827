"""The admin REST API at `/api/v1/admin/`: bearer tokens with a scope (read or write).

Routes are declared with `endpoint(...)`, which records the method, path,
scope and request/response models; `openapi.py` builds the document from the
same records, so every route is documented and every documented body is the
model the handler parses with.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from flask import Blueprint, Response, g, request
from pydantic import BaseModel, ValidationError

from statuspage.admin import models, operations
from statuspage.admin.operations import Actor
from statuspage.bounded import query_int
from statuspage.notify import destinations, subscriptions
from statuspage.settings import Settings
from statuspage.storage import agents as agent_store
from statuspage.storage import api_tokens, audit, overrides
from statuspage.storage import incidents as incident_store
from statuspage.storage import maintenance as maintenance_store
from statuspage.storage import responses as response_store
from statuspage.storage.sql import Store  # noqa: I001
from statuspage.storage.status import load_computed_status
from statuspage.web import client_address, get_db, json_error, now, settings

admin_api = Blueprint("admin_api", __name__, url_prefix="/api/v1/admin")
MAX_BODY_BYTES = 256 * 1024
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # Flask rule, relative to the blueprint prefix
    scope: str
    summary: str
    body: type[BaseModel] | None
    response: type[BaseModel]
    status: int
    function_name: str


ENDPOINTS: list[Endpoint] = []


def endpoint(
    method: str,
    path: str,
    scope: str,
    summary: str,
    response: type[BaseModel],
    body: type[BaseModel] | None = None,
    status: int = 200,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a route on the blueprint and in ENDPOINTS (for OpenAPI and the scope check)."""

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        ENDPOINTS.append(Endpoint(method, path, scope, summary, body, response, status, view.__name__))
        admin_api.add_url_rule(path, view.__name__, view, methods=[method])
        return view

    return register


_SCOPES: dict[str, str] = {}  # endpoint name -> scope, filled lazily from ENDPOINTS


class _Refused(Exception):
    def __init__(self, response: Response):
        self.response = response


@admin_api.before_request
def _authenticate() -> Response | None:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return _unauthorized("missing bearer token (Authorization: Bearer uwt_...)")
    token = api_tokens.authenticate(get_db(), secret.strip(), now())
    if token is None:
        return _unauthorized("unknown or revoked API token")
    if not _SCOPES:
        _SCOPES.update({f"admin_api.{e.function_name}": e.scope for e in ENDPOINTS})
    needed = _SCOPES.get(request.endpoint or "", "write")
    if not token.allows(needed):
        return json_error(403, f"this token has scope {token.scope!r}; {needed!r} is needed")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return json_error(413, f"request body too large: the limit is {MAX_BODY_BYTES} bytes")
    g.api_token = token
    return None


def _unauthorized(message: str) -> Response:
    response = json_error(401, message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="upwatch-admin"'
    return response


def _actor() -> Actor:
    return Actor(f"token:{g.api_token.name}", client_address())


def _body(model: type[M]) -> M:
    """Parse the JSON body with `model`; refusals become 400/415/422 responses."""
    if not request.is_json:
        raise _Refused(json_error(415, "Content-Type must be application/json"))
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY_BYTES:
        raise _Refused(json_error(413, f"request body too large: the limit is {MAX_BODY_BYTES} bytes"))
    try:
        # The stdlib pass refuses what JSON parsers usually let through: duplicate keys
        # (which one would win?) and NaN/Infinity; deep nesting ends in RecursionError.
        json.loads(raw or b"{}", object_pairs_hook=_unique_keys, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:
        message = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        raise _Refused(json_error(400, f"body is not acceptable JSON: {message}")) from None
    try:
        # strict types: "1" is not a number and 1 is not a string.
        return model.model_validate_json(raw or b"{}", strict=True)
    except ValidationError as error:
        details = [
            {
                "loc": ".".join(str(p) for p in item["loc"]) or "(body)",
                "msg": item["msg"],
                "type": item["type"],
            }
            for item in error.errors(include_url=False, include_input=False)[:20]
        ]
        status = 400 if details[0]["type"] in ("json_invalid", "recursion_loop") else 422
        raise _Refused(
            json_error(status, f"invalid body: {details[0]['loc']}: {details[0]['msg']}", details)
        ) from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _value in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"duplicate key {next(k for k in keys if keys.count(k) > 1)!r}")
    return dict(pairs)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed; numbers must be finite")


def _ok(model: BaseModel, status: int = 200) -> Response:
    return Response(model.model_dump_json(), status=status, mimetype="application/json")


def _run(action: Callable[[], BaseModel], status: int = 200) -> Response:
    try:
        return _ok(action(), status)
    except _Refused as refused:
        return refused.response
    except operations.OperationError as error:
        return json_error(
            422, str(error), [{"loc": error.field, "msg": error.message, "type": "value_error"}]
        )
    except operations.NotFound as error:
        return json_error(404, f"not found: {error}")


def _incident_out(incident: incident_store.Incident) -> models.IncidentOut:
    fields = {name: getattr(incident, name) for name in models.IncidentOut.model_fields}
    return models.IncidentOut.model_validate(fields)


def _maintenance_out(window: maintenance_store.Maintenance) -> models.MaintenanceOut:
    fields = {name: getattr(window, name) for name in models.MaintenanceOut.model_fields}
    return models.MaintenanceOut.model_validate(fields)


def _get_incident(incident_id: int) -> incident_store.Incident:
    incident = incident_store.get_incident(get_db(), incident_id)
    if incident is None:
        raise operations.NotFound(f"incident {incident_id}")
    return incident


# -- incidents -------------------------------------------------------------------------------------


@endpoint("GET", "/incidents", "read", "List incidents, newest first", models.IncidentList)
def list_incidents() -> Response:
    open_only = request.args.get("open", "false").lower() in ("1", "true", "yes")
    found = incident_store.list_incidents(get_db(), open_only=open_only, limit=200)
    return _ok(models.IncidentList(incidents=[_incident_out(i) for i in found]))


@endpoint(
    "POST", "/incidents", "write", "Open an incident by hand", models.Created, models.IncidentCreate, 201
)
def create_incident() -> Response:
    return _run(
        lambda: models.Created(
            id=operations.create_incident(get_db(), settings(), _actor(), now(), _body(models.IncidentCreate))
        ),
        201,
    )


@endpoint(
    "GET",
    "/incidents/<int:incident_id>",
    "read",
    "One incident with updates and timeline",
    models.IncidentDetail,
)
def get_incident(incident_id: int) -> Response:
    def detail() -> models.IncidentDetail:
        incident = _get_incident(incident_id)
        db = get_db()
        updates = [
            models.UpdateOut(id=u.id, status=u.status, body=u.body, created_at=u.created_at, actor=u.actor)
            for u in incident_store.updates_of(db, incident_id)
        ]
        events = [
            models.EventOut(at=e.at, actor=e.actor, kind=e.kind, data=e.data)
            for e in incident_store.events_of(db, incident_id)
        ]
        return models.IncidentDetail(
            **_incident_out(incident).model_dump(),
            root_cause=incident.root_cause,
            postmortem=incident.postmortem,
            postmortem_published_at=incident.postmortem_published_at,
            updates=updates,
            events=events,
        )

    return _run(detail)


@endpoint(
    "POST",
    "/incidents/<int:incident_id>/updates",
    "write",
    "Post a public update",
    models.Created,
    models.UpdateCreate,
    201,
)
def post_update(incident_id: int) -> Response:
    return _run(
        lambda: models.Created(
            id=operations.post_update(
                get_db(),
                settings(),
                _actor(),
                now(),
                _get_incident(incident_id).id,
                _body(models.UpdateCreate),
            )
        ),
        201,
    )


@endpoint(
    "POST",
    "/incidents/<int:incident_id>/acknowledge",
    "write",
    "Acknowledge (stops escalation)",
    models.Changed,
)
def acknowledge(incident_id: int) -> Response:
    return _run(
        lambda: models.Changed(
            changed=operations.acknowledge(get_db(), _actor(), now(), _get_incident(incident_id).id)
        )
    )


@endpoint(
    "POST",
    "/incidents/<int:incident_id>/resolve",
    "write",
    "Resolve with a closing update",
    models.Created,
    models.ResolveRequest,
)
def resolve(incident_id: int) -> Response:
    return _run(
        lambda: models.Created(
            id=operations.resolve(
                get_db(), _actor(), now(), _get_incident(incident_id).id, _body(models.ResolveRequest)
            )
        )
    )


@endpoint(
    "POST", "/incidents/<int:incident_id>/publish", "write", "Make a waiting incident public", models.Changed
)
def publish(incident_id: int) -> Response:
    return _run(
        lambda: models.Changed(
            changed=operations.publish(get_db(), _actor(), now(), _get_incident(incident_id).id)
        )
    )


@endpoint(
    "PUT",
    "/incidents/<int:incident_id>/impact",
    "write",
    "Change the impact",
    models.Created,
    models.ImpactChange,
)
def change_impact(incident_id: int) -> Response:
    return _run(
        lambda: models.Created(
            id=operations.change_impact(
                get_db(), _actor(), now(), _get_incident(incident_id).id, _body(models.ImpactChange)
            )
        )
    )


@endpoint(
    "PUT",
    "/incidents/<int:incident_id>/components",
    "write",
    "Replace the affected components",
    models.Created,
    models.ComponentsChange,
)
def set_components(incident_id: int) -> Response:
    return _run(
        lambda: models.Created(
            id=operations.set_components(
                get_db(),
                settings(),
                _actor(),
                now(),
                _get_incident(incident_id).id,
                _body(models.ComponentsChange),
            )
        )
    )


@endpoint(
    "PUT",
    "/incidents/<int:incident_id>/postmortem",
    "write",
    "Save (and optionally publish) the postmortem",
    models.Changed,
    models.PostmortemSave,
)
def save_postmortem(incident_id: int) -> Response:
    def action() -> models.Changed:
        operations.save_postmortem(
            get_db(), _actor(), now(), _get_incident(incident_id).id, _body(models.PostmortemSave)
        )
        return models.Changed(changed=True)

    return _run(action)


# -- maintenance -----------------------------------------------------------------------------------


@endpoint("GET", "/maintenances", "read", "List maintenance windows", models.MaintenanceList)
def list_maintenances() -> Response:
    windows = maintenance_store.list_maintenances(get_db())
    return _ok(models.MaintenanceList(maintenances=[_maintenance_out(w) for w in windows]))


@endpoint(
    "POST",
    "/maintenances",
    "write",
    "Schedule a maintenance window",
    models.Created,
    models.MaintenanceCreate,
    201,
)
def schedule_maintenance() -> Response:
    return _run(
        lambda: models.Created(
            id=operations.schedule_maintenance(
                get_db(), settings(), _actor(), now(), _body(models.MaintenanceCreate)
            )
        ),
        201,
    )


@endpoint(
    "GET", "/maintenances/<int:maintenance_id>", "read", "One maintenance window", models.MaintenanceOut
)
def get_maintenance(maintenance_id: int) -> Response:
    def found() -> models.MaintenanceOut:
        window = maintenance_store.get_maintenance(get_db(), maintenance_id)
        if window is None:
            raise operations.NotFound(f"maintenance {maintenance_id}")
        return _maintenance_out(window)

    return _run(found)


@endpoint(
    "PATCH",
    "/maintenances/<int:maintenance_id>",
    "write",
    "Change a window that has not completed",
    models.Changed,
    models.MaintenanceChange,
)
def change_maintenance(maintenance_id: int) -> Response:
    def action() -> models.Changed:
        operations.change_maintenance(
            get_db(), settings(), _actor(), now(), maintenance_id, _body(models.MaintenanceChange)
        )
        return models.Changed(changed=True)

    return _run(action)


@endpoint(
    "POST", "/maintenances/<int:maintenance_id>/complete", "write", "Complete a window now", models.Changed
)
def complete_maintenance(maintenance_id: int) -> Response:
    return _run(
        lambda: models.Changed(
            changed=operations.complete_maintenance(get_db(), _actor(), now(), maintenance_id)
        )
    )


# -- components, agents, audit ---------------------------------------------------------------------


@endpoint("GET", "/components", "read", "Components with computed status and override", models.ComponentList)
def list_components() -> Response:
    db = get_db()
    computed = {cid: status for cid, (status, _at) in load_computed_status(db).items()}
    current = overrides.list_overrides(db)
    items = []
    for component in settings().components:
        override = current.get(component.id)
        own = computed.get(component.id, "unknown")
        items.append(
            models.ComponentOut(
                id=component.id,
                name=component.name,
                group=component.group,
                computed_status=own,
                override=override.status if override else None,  # type: ignore[arg-type]
                override_reason=override.reason if override else None,
                status=override.status if override else own,
            )
        )
    return _ok(models.ComponentList(components=items))


@endpoint(
    "PUT",
    "/components/<component_id>/override",
    "write",
    "Override a component's status",
    models.Changed,
    models.OverrideSet,
)
def set_override(component_id: str) -> Response:
    def action() -> models.Changed:
        operations.set_override(
            get_db(), settings(), _actor(), now(), component_id, _body(models.OverrideSet)
        )
        return models.Changed(changed=True)

    return _run(action)


@endpoint("DELETE", "/components/<component_id>/override", "write", "Clear a status override", models.Changed)
def clear_override(component_id: str) -> Response:
    return _run(
        lambda: models.Changed(
            changed=operations.clear_override(get_db(), settings(), _actor(), now(), component_id)
        )
    )


@endpoint(
    "GET",
    "/agents",
    "read",
    "Agents with last seen, version, clock skew and offered actions",
    models.AgentList,
)
def list_agents() -> Response:
    found = agent_store.list_agents(get_db())
    offered = response_store.offered_actions(get_db())
    return _ok(
        models.AgentList(
            agents=[
                models.AgentOut(
                    name=a.name,
                    labels=sorted(a.authorized_labels),
                    pending_labels=a.pending_labels,
                    last_seen_at=a.last_seen_at,
                    agent_version=a.agent_version,
                    clock_skew_s=a.clock_skew_s,
                    revoked=a.revoked_at is not None,
                    actions=offered.get(a.name, []),
                )
                for a in found
            ]
        )
    )


@endpoint("POST", "/agents/<name>/revoke", "write", "Revoke an agent's token at once", models.Changed)
def revoke_agent(name: str) -> Response:
    def action() -> models.Changed:
        operations.revoke_agent(get_db(), _actor(), now(), name)
        return models.Changed(changed=True)

    return _run(action)


@endpoint(
    "POST",
    "/agents/<name>/labels/approve",
    "write",
    "Approve labels an agent declared (audited); they then select its checks",
    models.LabelsApproved,
    models.LabelApproval,
)
def approve_agent_labels(name: str) -> Response:
    def action() -> models.LabelsApproved:
        body = _body(models.LabelApproval)
        approved = operations.approve_agent_labels(get_db(), _actor(), now(), name, body.labels)
        return models.LabelsApproved(approved=approved)

    return _run(action)


@endpoint("GET", "/audit", "read", "The audit log, newest first", models.AuditList)
def audit_log() -> Response:
    before = query_int("before", minimum=1)
    entries = audit.recent(get_db(), limit=200, before_id=before)
    return _ok(models.AuditList(entries=[models.AuditOut(**e.__dict__) for e in entries]))


# -- subscribers and channels ----------------------------------------------------------------------


@endpoint("GET", "/subscribers", "read", "Email subscribers and webhook subscriptions", models.SubscriberList)
def list_subscribers() -> Response:
    db = get_db()
    emails = [models.EmailSubscriberOut(**s.__dict__) for s in subscriptions.list_email_subscribers(db)]
    hooks = [models.WebhookOut(**w.__dict__) for w in subscriptions.list_webhooks(db)]
    return _ok(models.SubscriberList(emails=emails, webhooks=hooks))


@endpoint(
    "DELETE", "/subscribers/emails/<int:subscriber_id>", "write", "Unsubscribe an email subscriber",
    models.Changed,
)  # fmt: skip
def remove_email_subscriber(subscriber_id: int) -> Response:
    return _run(
        lambda: models.Changed(
            changed=operations.remove_email_subscriber(get_db(), _actor(), now(), subscriber_id)
        )
    )


@endpoint(
    "POST", "/subscribers/webhooks", "write", "Register an operator webhook (signing secret shown once)",
    models.WebhookCreated, models.WebhookCreate, 201,
)  # fmt: skip
def add_webhook() -> Response:
    def action() -> models.WebhookCreated:
        webhook_id, secret = operations.add_webhook(
            get_db(), settings(), _actor(), now(), _body(models.WebhookCreate)
        )
        return models.WebhookCreated(id=webhook_id, secret=secret)

    return _run(action, 201)


@endpoint("DELETE", "/subscribers/webhooks/<int:webhook_id>", "write", "Remove a webhook", models.Changed)
def remove_webhook(webhook_id: int) -> Response:
    return _run(
        lambda: models.Changed(changed=operations.remove_webhook(get_db(), _actor(), now(), webhook_id))
    )


def channel_views(db: Store, config: Settings) -> list[models.ChannelOut]:
    """Channels from the config with their delivery health."""
    items = []
    for channel in config.channels:
        found = destinations.state(db, channel.kind, channel.id)
        health: Literal["ok", "failing", "disabled"] = "ok"
        if found and found.disabled_at:
            health = "disabled"
        elif found and found.consecutive_failures:
            health = "failing"
        items.append(
            models.ChannelOut(
                id=channel.id,
                kind=channel.kind,
                name=channel.label,
                health=health,
                consecutive_failures=found.consecutive_failures if found else 0,
                last_error=found.last_error if found else None,
                disabled_reason=found.disabled_reason if found else None,
            )  # fmt: skip
        )
    return items


@endpoint("GET", "/channels", "read", "Team channels with their delivery health", models.ChannelList)
def list_channels() -> Response:
    return _ok(models.ChannelList(channels=channel_views(get_db(), settings())))


@endpoint("POST", "/channels/<channel_id>/enable", "write", "Re-enable a disabled channel", models.Changed)
def enable_channel(channel_id: str) -> Response:
    return _run(
        lambda: models.Changed(
            changed=operations.enable_channel(get_db(), settings(), _actor(), now(), channel_id)
        )
    )


@endpoint(
    "POST", "/channels/<channel_id>/test", "write", "Queue a test message for a channel", models.Changed
)
def test_channel(channel_id: str) -> Response:
    return _run(
        lambda: models.Changed(
            changed=operations.test_channel(get_db(), settings(), _actor(), now(), channel_id)
        )
    )

"""Admin API for on call: schedules, who is on call (now or `?at=`), timelines, overrides.

Registered on the admin API blueprint with `endpoint(...)`, so the routes are
scoped and in the OpenAPI document like every other admin route.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Response, request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from statuspage.admin import models
from statuspage.admin.api import _actor, _body, _ok, _Refused, endpoint
from statuspage.oncall import service
from statuspage.oncall.config import NAME_PATTERN, LayerConfig
from statuspage.oncall.rotation import Span, shifts
from statuspage.storage import oncall as store
from statuspage.web import get_db, json_error, now, settings

MAX_WEEKS = 26


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OverrideCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    responder: str = Field(pattern=NAME_PATTERN)
    replaces: str | None = Field(default=None, pattern=NAME_PATTERN)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    note: str = Field(default="", max_length=500)


class ShiftOut(_Out):
    start: datetime
    end: datetime
    responder: str | None
    layer: str | None
    override_id: int | None


class OnCallOut(_Out):
    responder: str | None
    layer: str | None
    override_id: int | None


class ScheduleOut(_Out):
    id: str
    name: str
    tz: str
    source: str = Field(description="file: declared in upwatch.toml (read-only here); admin: made here")
    used_by: list[str] = Field(default_factory=list, description="escalation levels that page it")
    layers: list[LayerConfig] = Field(default_factory=list, description="from the base up")
    handoff_channel: str | None = None
    handoff_notices: bool = True
    at: datetime
    on_call: OnCallOut
    shifts: list[ShiftOut] = Field(default_factory=list)
    gaps: list[ShiftOut] = Field(default_factory=list)


class ScheduleList(_Out):
    schedules: list[ScheduleOut]


class OverrideOut(_Out):
    id: int
    schedule_id: str
    responder: str
    replaces: str | None
    starts_at: datetime
    ends_at: datetime
    note: str
    created_by: str
    created_at: datetime


class OverrideList(_Out):
    overrides: list[OverrideOut]


def _shift(span: Span) -> ShiftOut:
    return ShiftOut(
        start=span.start,
        end=span.end,
        responder=span.responder,
        layer=span.layer,
        override_id=span.override_id,
    )


def _schedule(schedule_id: str, at: datetime, weeks: int) -> ScheduleOut:
    db, config = get_db(), settings()
    entry = service.find_schedule(db, config, schedule_id)
    if entry is None:
        raise service.OncallNotFound(f"no schedule {schedule_id!r}")
    schedule = entry.config
    current = service.who(db, config, schedule_id, at)
    spans = (
        service.schedule_timeline(db, config, schedule_id, at, at + timedelta(weeks=weeks)) if weeks else []
    )
    merged = shifts(spans)
    return ScheduleOut(
        id=schedule.id,
        name=schedule.label,
        tz=schedule.tz,
        source=entry.source,
        used_by=service.used_by(config, schedule.id),
        layers=list(schedule.layers),
        handoff_channel=schedule.handoff_channel,
        handoff_notices=schedule.handoff_notices,
        at=at,
        on_call=OnCallOut(responder=current.responder, layer=current.layer, override_id=current.override_id),
        shifts=[_shift(s) for s in merged],
        gaps=[_shift(s) for s in merged if s.responder is None],
    )


def _at() -> datetime:
    text = request.args.get("at")
    if not text:
        return now()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _Refused(json_error(400, "at: not an ISO 8601 time")) from None
    if moment.tzinfo is None:
        raise _Refused(json_error(400, "at: give an offset, like 2026-12-24T20:00:00Z"))
    return moment


def _weeks(default: int) -> int:
    try:
        weeks = int(request.args.get("weeks", str(default)))
    except ValueError:
        raise _Refused(json_error(400, "weeks: a whole number")) from None
    if not 0 <= weeks <= MAX_WEEKS:
        raise _Refused(json_error(400, f"weeks: between 0 and {MAX_WEEKS}"))
    return weeks


def _answer(action: Callable[[], BaseModel], status: int = 200) -> Response:
    """Run `action`; refusals become 400/404/422 JSON errors naming the field."""
    try:
        return _ok(action(), status)
    except _Refused as refused:
        return refused.response
    except service.OncallNotFound as error:
        return json_error(404, f"not found: {error}")
    except service.OncallConflict as error:
        return json_error(409, str(error))
    except service.OncallInputError as error:
        details = [{"loc": field, "msg": msg, "type": "value_error"} for field, msg in error.errors.items()]
        return json_error(422, str(error), details)


@endpoint("GET", "/oncall/schedules", "read", "Schedules and who is on call now", ScheduleList)
def list_schedules() -> Response:
    return _answer(
        lambda: ScheduleList(
            schedules=[_schedule(s.id, now(), 0) for s in service.all_schedules(get_db(), settings())]
        )
    )


@endpoint(
    "GET",
    "/oncall/schedules/<schedule_id>",
    "read",
    "Who is on call at ?at= (default now) and the shifts of the next ?weeks= (default 2)",
    ScheduleOut,
)
def get_schedule(schedule_id: str) -> Response:
    return _answer(lambda: _schedule(schedule_id, _at(), _weeks(2)))


@endpoint("GET", "/oncall/schedules/<schedule_id>/overrides", "read", "Overrides not yet over", OverrideList)
def list_overrides(schedule_id: str) -> Response:
    def build() -> OverrideList:
        service.schedule_or_404(get_db(), settings(), schedule_id)
        found = store.overrides_of(get_db(), schedule_id, now())
        return OverrideList(overrides=[OverrideOut(**vars(o)) for o in found])

    return _answer(build)


@endpoint(
    "POST",
    "/oncall/schedules/<schedule_id>/overrides",
    "write",
    "Put someone on call for a stretch (overlapping overrides are refused)",
    models.Created,
    OverrideCreate,
    201,
)
def create_override(schedule_id: str) -> Response:
    def build() -> models.Created:
        data = _body(OverrideCreate)
        who = _actor()
        override_id = service.add_override(
            get_db(),
            settings(),
            schedule_id=schedule_id,
            responder=data.responder,
            replaces=data.replaces,
            starts_at=data.starts_at,
            ends_at=data.ends_at,
            note=data.note,
            actor=who.label,
            client=who.client_address,
            now=now(),
        )
        return models.Created(id=override_id)

    return _answer(build, 201)


@endpoint("DELETE", "/oncall/overrides/<int:override_id>", "write", "Remove an override", models.Changed)
def delete_override(override_id: int) -> Response:
    def build() -> models.Changed:
        who = _actor()
        service.remove_override(get_db(), override_id, who.label, who.client_address, now())
        return models.Changed(changed=True)

    return _answer(build)


class ContactOut(_Out):
    id: str
    kind: str
    to: str | None = None
    url: str | None = None
    verified: bool


class RuleOut(_Out):
    contact: str
    after_s: float


class ResponderOut(_Out):
    name: str
    display_name: str | None
    source: str = Field(description="file: declared in upwatch.toml; admin: made a responder here")
    contacts: list[ContactOut]
    rules: list[RuleOut]
    edited: bool


class ResponderList(_Out):
    responders: list[ResponderOut]


class PersonalSettings(BaseModel):
    """A responder's own contact methods and rules: the fields of `[[responders]]`."""

    model_config = ConfigDict(extra="forbid")

    contacts: list[dict[str, Any]] = Field(default_factory=list, max_length=20)
    rules: list[dict[str, Any]] = Field(default_factory=list, max_length=50)


def _responders() -> ResponderList:
    db, config = get_db(), settings()
    verified = {(s.responder, s.contact.id) for s in service.contact_states(db, config) if s.verified}
    edited = set(store.personal_settings(db))
    sources = {entry.name: entry.source for entry in service.all_responders(db, config)}
    return ResponderList(
        responders=[
            ResponderOut(
                name=r.name,
                display_name=r.display_name,
                source=sources.get(r.name, "file"),
                contacts=[
                    ContactOut(id=c.id, kind=c.kind, to=c.to, url=c.url, verified=(r.name, c.id) in verified)
                    for c in r.contacts
                ],
                rules=[RuleOut(contact=rule.contact, after_s=rule.after.total_seconds()) for rule in r.rules],
                edited=r.name in edited,
            )
            for r in service.responders(db, config)
        ]
    )


@endpoint(
    "GET", "/oncall/responders", "read", "Responders with contacts (verified or not) and rules", ResponderList
)
def list_responders() -> Response:
    return _answer(_responders)


@endpoint(
    "PUT",
    "/oncall/responders/<name>",
    "write",
    "Replace a responder's own contact methods and notification rules",
    models.Changed,
    PersonalSettings,
)
def put_responder(name: str) -> Response:
    def build() -> models.Changed:
        data = _body(PersonalSettings)
        who = _actor()
        service.set_personal(
            get_db(), settings(), name, data.contacts, data.rules, who.label, who.client_address, now()
        )
        return models.Changed(changed=True)

    return _answer(build)


@endpoint(
    "DELETE",
    "/oncall/responders/<name>",
    "write",
    "Use the configuration's contact methods and rules for a responder again",
    models.Changed,
)
def reset_responder(name: str) -> Response:
    def build() -> models.Changed:
        who = _actor()
        return models.Changed(
            changed=service.clear_personal(get_db(), settings(), name, who.label, who.client_address, now())
        )

    return _answer(build)

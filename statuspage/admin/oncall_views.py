"""Admin pages for on call: schedules with who is on call and their timeline, overrides, gaps,
responders' contact methods (verification) and the calendar feed URLs.

Times in forms and tables are the schedule's local time (its zone is named
next to them); an override's start and end are read in that zone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from statuspage.admin.ui import NOTICES, actor, admin_ui, done, render
from statuspage.oncall import paging, service
from statuspage.oncall.rotation import gaps, shifts
from statuspage.storage import oncall as store
from statuspage.storage import sql
from statuspage.web import client_address, get_db, now, settings

NOTICES.update(
    {
        "override": "Override saved.",
        "override_removed": "Override removed.",
        "verification": "Verification link queued; its owner confirms it from the message.",
        "contacts": "Contact methods and rules saved. New or changed addresses need verifying.",
        "contacts_reset": "Back to the contact methods and rules of the configuration.",
    }
)
MAX_WEEKS = 12


@admin_ui.get("/oncall")
def oncall() -> tuple[str, int]:
    """Every schedule with who is on call now and until when, gaps ahead; responders and feeds."""
    db, config, moment = get_db(), settings(), now()
    holes = service.upcoming_gaps(db, config, moment)
    rows = []
    for entry in service.all_schedules(db, config):
        schedule = entry.config
        spans = shifts(
            service.schedule_timeline(db, config, schedule.id, moment, moment + timedelta(weeks=2))
        )
        current = spans[0] if spans else None
        rows.append(
            {
                "schedule": schedule,
                "source": entry.source,
                "used_by": service.used_by(config, schedule.id),
                "zone": ZoneInfo(schedule.tz),
                "current": current,
                "next": spans[1] if len(spans) > 1 else None,
                "gaps": holes.get(schedule.id, []),
                "gap_hours": round(
                    sum(g.duration.total_seconds() for g in holes.get(schedule.id, [])) / 3600
                ),
                "feed": service.feed_url(db, config, "schedule", schedule.id),
            }
        )
    states = service.contact_states(db, config)
    entries = service.all_responders(db, config)
    feeds = {r.name: service.feed_url(db, config, "responder", r.name) for r in entries}
    people = service.responders(db, config)
    personal = store.personal_settings(db)
    return render(
        "oncall.html",
        rows=rows,
        responders=people,
        edited=set(personal),
        states=states,
        feeds=feeds,
        sources={entry.name: entry.source for entry in entries},
        labels=_labels(),
        horizon_days=config.oncall.gap_horizon.days,
    )


@admin_ui.get("/oncall/<schedule_id>")
def oncall_schedule(
    schedule_id: str, error: str | None = None, status: int = 200, failed: dict[str, Any] | None = None
) -> tuple[str, int]:
    """The timeline of one schedule over the next weeks (?weeks=N), its overrides and a form for one;
    its layers and settings (forms for a schedule made here; `failed`: the form refused, its errors)."""
    from statuspage.admin import oncall_schedule_views as forms

    db, config, moment = get_db(), settings(), now()
    entry = service.find_schedule(db, config, schedule_id)
    if entry is None:
        abort(404)
    schedule = entry.config
    try:
        weeks = min(max(int(request.args.get("weeks", "2")), 1), MAX_WEEKS)
    except ValueError:
        weeks = 2
    spans = service.schedule_timeline(db, config, schedule.id, moment, moment + timedelta(weeks=weeks))
    return render(
        "oncall_schedule.html",
        status,
        schedule=schedule,
        zone=ZoneInfo(schedule.tz),
        spans=shifts(spans),
        gaps=gaps(spans),
        weeks=weeks,
        overrides=store.overrides_of(db, schedule.id, moment),
        responders=service.all_responders(db, config),
        labels=_labels(),
        error=error,
        form=request.form if request.method == "POST" and failed is None else {},
        source=entry.source,
        used_by=service.used_by(config, schedule.id),
        layers=[forms.layer_values(layer) for layer in schedule.layers],
        new_layer=forms.layer_values(None),
        posted_layer=forms.posted_layer(request.form) if failed else None,
        posted_settings=_posted_settings() if failed and failed["form"] == "settings" else None,
        failed=failed or {"form": None, "errors": {}},
        channels=config.channels,
        units=forms.UNITS,
        weekday_names=forms.WEEKDAY_NAMES,
    )


@admin_ui.post("/oncall/<schedule_id>/overrides")
def add_override(schedule_id: str) -> WerkzeugResponse | tuple[str, int]:
    config = settings()
    entry = service.find_schedule(get_db(), config, schedule_id)
    if entry is None:
        abort(404)
    schedule = entry.config
    zone = ZoneInfo(schedule.tz)
    try:
        starts_at = _local_time("starts_at", zone)
        ends_at = _local_time("ends_at", zone)
        service.add_override(
            get_db(),
            config,
            schedule_id=schedule.id,
            responder=request.form.get("responder", ""),
            replaces=request.form.get("replaces") or None,
            starts_at=starts_at,
            ends_at=ends_at,
            note=request.form.get("note", "").strip(),
            actor=actor().label,
            client=client_address(),
            now=now(),
        )
    except service.OncallInputError as refused:
        return oncall_schedule(schedule.id, error=str(refused), status=422)
    return done("admin.oncall_schedule", "override", schedule_id=schedule.id)


@admin_ui.post("/oncall/overrides/<int:override_id>/delete")
def remove_override(override_id: int) -> WerkzeugResponse:
    found = store.get_override(get_db(), override_id)
    if found is None:
        abort(404)
    try:
        service.remove_override(get_db(), override_id, actor().label, client_address(), now())
    except service.OncallNotFound:
        abort(404)
    return done("admin.oncall_schedule", "override_removed", schedule_id=found.schedule_id)


@admin_ui.post("/oncall/verify")
def send_verification() -> WerkzeugResponse | tuple[str, int]:
    db = get_db()
    try:
        with sql.write(db):
            paging.send_verification(db, settings(), request.form.get("responder", ""),
                                     request.form.get("contact", ""), now())  # fmt: skip
    except service.OncallInputError as refused:
        return render("error.html", 422, message=str(refused), back=url_for("admin.oncall"))
    if request.form.get("return_to") == "responder":  # the responder's own page
        return done("admin.oncall_responder", "verification", name=request.form.get("responder", ""))
    return done("admin.oncall", "verification")


@admin_ui.post("/oncall/responders/<name>/reset")
def reset_responder(name: str) -> WerkzeugResponse:
    try:
        cleared = service.clear_personal(get_db(), settings(), name, actor().label, client_address(), now())
    except service.OncallNotFound:
        abort(404)
    return done("admin.oncall_responder", "contacts_reset" if cleared else "already", name=name)


def _labels() -> dict[str, str]:
    return service.responder_labels(get_db(), settings())


def _local_time(field: str, zone: ZoneInfo) -> datetime:
    """A datetime-local form value, read in the schedule's zone."""
    text = request.form.get(field, "").strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise service.OncallInputError(field, "give a date and time, like 2026-12-24T18:00") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value


def _posted_settings() -> dict[str, Any]:
    form = request.form
    return {"name": form.get("schedule_name", ""), "tz": form.get("tz", ""),
            "handoff_channel": form.get("handoff_channel", ""),
            "handoff_notices": form.get("handoff_notices") == "on"}  # fmt: skip

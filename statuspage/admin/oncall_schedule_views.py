"""Admin pages that make and change schedules: a new schedule, its settings, its layers (add,
change, move, remove) and deleting it. Schedules declared in upwatch.toml are shown read-only.

Forms are plain HTML (one field per value, no script): a layer's rotation is a list of selects
in rotation order, its shift a number and a unit, its restriction weekday checkboxes and an
hours window. A refusal re-renders the page (422) with each error next to its field and
summarised at the top, linked to the field; nothing is stored then.
"""

from __future__ import annotations

import re
from typing import Any

from flask import abort, request
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as WerkzeugResponse

from statuspage.admin.oncall_views import oncall_schedule
from statuspage.admin.ui import NOTICES, actor, admin_ui, done, render
from statuspage.oncall import schedule_edits, service
from statuspage.oncall.config import WEEKDAYS, LayerConfig
from statuspage.web import client_address, get_db, now, settings

NOTICES.update(
    {
        "schedule_made": "Schedule made.",
        "schedule_saved": "Schedule saved.",
        "schedule_deleted": "Schedule deleted, with its overrides.",
        "layer_saved": "Layer saved.",
        "layer_moved": "Layer moved.",
        "layer_removed": "Layer removed.",
    }
)
UNITS = {"h": "hours", "d": "days", "w": "weeks"}
WEEKDAY_NAMES = dict(zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
                                    "Sunday"), strict=True))  # fmt: skip
_LAYER_FIELD = re.compile(r"^layers\[\d+\]\.?")


def layer_values(layer: LayerConfig | None) -> dict[str, Any]:
    """A layer as the form shows it (None: an empty new layer)."""
    if layer is None:
        return {"name": "", "responders": [], "shift_count": "1", "shift_unit": "w", "handoff": "09:00",
                "start": "", "weekdays": [], "hours_from": "", "hours_until": ""}  # fmt: skip
    hours_from, _, hours_until = (
        (layer.restrict.hours or "").partition("-") if layer.restrict else ("", "", "")
    )
    return {
        "name": layer.name,
        "responders": list(layer.responders),
        "shift_count": layer.shift[:-1],
        "shift_unit": layer.shift[-1],
        "handoff": layer.handoff,
        "start": layer.start.isoformat(),
        "weekdays": list(layer.restrict.weekdays) if layer.restrict else [],
        "hours_from": hours_from.strip(),
        "hours_until": hours_until.strip(),
    }


def posted_layer(form: MultiDict[str, str]) -> dict[str, Any]:
    """The layer form's values as the form shows them again after a refusal."""
    return {
        "name": form.get("name", "").strip(),
        "responders": [name for name in form.getlist("responder") if name],
        "shift_count": form.get("shift_count", "").strip(),
        "shift_unit": form.get("shift_unit", "w"),
        "handoff": form.get("handoff", "").strip(),
        "start": form.get("start", "").strip(),
        "weekdays": [day for day in form.getlist("weekday") if day in WEEKDAYS],
        "hours_from": form.get("hours_from", "").strip(),
        "hours_until": form.get("hours_until", "").strip(),
    }


def layer_definition(values: dict[str, Any]) -> dict[str, Any]:
    """The `[[schedules.layers]]` fields from the form's values; OncallInputError for what the
    form itself can tell is wrong (the rest is the config's validation)."""
    count, unit = values["shift_count"], values["shift_unit"]
    if not count.isdigit() or unit not in UNITS:
        raise service.OncallInputError("layers[0].shift", "give a whole number of hours, days or weeks")
    layer: dict[str, Any] = {
        "name": values["name"],
        "responders": values["responders"],
        "shift": f"{int(count)}{unit}",
        "handoff": values["handoff"],
        "start": values["start"],
    }
    if bool(values["hours_from"]) != bool(values["hours_until"]):
        raise service.OncallInputError("layers[0].restrict.hours", "give both from and until, or neither")
    restrict: dict[str, Any] = {}
    if values["weekdays"]:
        restrict["weekdays"] = values["weekdays"]
    if values["hours_from"]:
        restrict["hours"] = f"{values['hours_from']}-{values['hours_until']}"
    if restrict:
        layer["restrict"] = restrict
    return layer


def form_errors(error: service.OncallInputError) -> tuple[dict[str, str], dict[str, str]]:
    """The refusal's fields as the forms name them: (the schedule's, the layer's), e.g.
    "tz" -> ({"tz": ...}, {}) and "layers[2].restrict.hours" -> ({}, {"hours": ...})."""
    schedule: dict[str, str] = {}
    layer: dict[str, str] = {}
    for field, message in error.errors.items():
        if not field.startswith("layers"):
            schedule.setdefault(field.split(".", 1)[0], message)
            continue
        name = _LAYER_FIELD.sub("", field) or "layer"
        name = name.removeprefix("restrict.").split("[", 1)[0].split(".", 1)[0]
        layer.setdefault("layer" if name == "layers" else name, message)
    return schedule, layer


def schedule_definition(form: MultiDict[str, str]) -> dict[str, Any]:
    return {
        "name": form.get("schedule_name", "").strip() or None,
        "tz": form.get("tz", "").strip(),
        "handoff_channel": form.get("handoff_channel") or None,
        "handoff_notices": form.get("handoff_notices") == "on",
    }


def _refused(schedule_id: str, form_id: str, error: service.OncallInputError) -> tuple[str, int]:
    schedule, layer = form_errors(error)
    errors = schedule if form_id == "settings" else {**schedule, **layer}
    return oncall_schedule(schedule_id, status=422, failed={"form": form_id, "errors": errors})


def _conflict(error: Exception) -> tuple[str, int]:
    return render("error.html", 409, message=str(error), back=request.referrer or "/admin/oncall")


@admin_ui.get("/oncall/new-schedule")
def new_schedule(
    errors: tuple[dict[str, str], dict[str, str]] | None = None,
    status: int = 200,
    values: dict[str, Any] | None = None,
) -> tuple[str, int]:
    """The form for a schedule made here: id, name, zone, handoff notices and its first layer."""
    config = settings()
    return render(
        "oncall_new.html",
        status,
        errors=errors[0] if errors else {},
        layer_errors=errors[1] if errors else {},
        values=values or {"id": "", "name": "", "tz": "UTC", "handoff_channel": "", "handoff_notices": True},
        layer=posted_layer(request.form) if request.method == "POST" else layer_values(None),
        responders=service.all_responders(get_db(), config),
        channels=config.channels,
        units=UNITS,
        weekday_names=WEEKDAY_NAMES,
    )


@admin_ui.post("/oncall/new-schedule")
def create_schedule() -> WerkzeugResponse | tuple[str, int]:
    form = request.form
    schedule_id = form.get("id", "").strip()
    definition = schedule_definition(form)
    values = {**definition, "id": schedule_id, "name": definition["name"] or ""}
    try:
        layer = layer_definition(posted_layer(form))
        schedule_edits.create(get_db(), settings(), schedule_id, {**definition, "layers": [layer]},
                              actor().label, client_address(), now())  # fmt: skip
    except service.OncallInputError as refused:
        return new_schedule(form_errors(refused), 422, values)
    return done("admin.oncall_schedule", "schedule_made", schedule_id=schedule_id)


@admin_ui.post("/oncall/<schedule_id>/settings")
def save_schedule(schedule_id: str) -> WerkzeugResponse | tuple[str, int]:
    try:
        schedule_edits.change(get_db(), settings(), schedule_id, schedule_definition(request.form),
                              actor().label, client_address(), now())  # fmt: skip
    except service.OncallNotFound:
        abort(404)
    except service.OncallConflict as conflict:
        return _conflict(conflict)
    except service.OncallInputError as refused:
        return _refused(schedule_id, "settings", refused)
    return done("admin.oncall_schedule", "schedule_saved", schedule_id=schedule_id)


@admin_ui.post("/oncall/<schedule_id>/delete")
def delete_schedule(schedule_id: str) -> WerkzeugResponse | tuple[str, int]:
    try:
        schedule_edits.delete(get_db(), settings(), schedule_id, actor().label, client_address(), now())
    except service.OncallNotFound:
        abort(404)
    except service.OncallConflict as conflict:
        return _conflict(conflict)
    return done("admin.oncall", "schedule_deleted")


@admin_ui.post("/oncall/<schedule_id>/layers")
def add_layer(schedule_id: str) -> WerkzeugResponse | tuple[str, int]:
    """Add a layer on top (it wins over the others where it has someone)."""
    return _save_layer(schedule_id, None)


@admin_ui.post("/oncall/<schedule_id>/layers/<int:index>")
def save_layer(schedule_id: str, index: int) -> WerkzeugResponse | tuple[str, int]:
    """Change layer `index` (0 = the base)."""
    return _save_layer(schedule_id, index)


def _save_layer(schedule_id: str, index: int | None) -> WerkzeugResponse | tuple[str, int]:
    try:
        layer = layer_definition(posted_layer(request.form))
        schedule_edits.save_layer(get_db(), settings(), schedule_id, index, layer, actor().label,
                                  client_address(), now())  # fmt: skip
    except service.OncallNotFound:
        abort(404)
    except service.OncallConflict as conflict:
        return _conflict(conflict)
    except service.OncallInputError as refused:
        return _refused(schedule_id, "lnew" if index is None else f"l{index}", refused)
    return done("admin.oncall_schedule", "layer_saved", schedule_id=schedule_id)


@admin_ui.post("/oncall/<schedule_id>/layers/<int:index>/move")
def move_layer(schedule_id: str, index: int) -> WerkzeugResponse | tuple[str, int]:
    """Move a layer one place up (it wins over more) or down (`direction`)."""
    step = {"up": 1, "down": -1}.get(request.form.get("direction", ""))
    if step is None:
        return render("error.html", 422, message="direction: up or down", back="/admin/oncall")
    try:
        schedule_edits.move_layer(get_db(), settings(), schedule_id, index, index + step, actor().label,
                                  client_address(), now())  # fmt: skip
    except service.OncallNotFound:
        abort(404)
    except service.OncallConflict as conflict:
        return _conflict(conflict)
    except service.OncallInputError as refused:
        return _refused(schedule_id, f"l{index}", refused)
    return done("admin.oncall_schedule", "layer_moved", schedule_id=schedule_id)


@admin_ui.post("/oncall/<schedule_id>/layers/<int:index>/delete")
def remove_layer(schedule_id: str, index: int) -> WerkzeugResponse | tuple[str, int]:
    try:
        schedule_edits.remove_layer(get_db(), settings(), schedule_id, index, actor().label,
                                    client_address(), now())  # fmt: skip
    except service.OncallNotFound:
        abort(404)
    except service.OncallConflict as conflict:
        return _conflict(conflict)
    except service.OncallInputError as refused:
        return _refused(schedule_id, f"l{index}", refused)
    return done("admin.oncall_schedule", "layer_removed", schedule_id=schedule_id)

"""Schedules made in the admin UI/API: create, change and delete them, add, change, remove and
reorder their layers.

A schedule declared in upwatch.toml is config as code: it is shown, never changed here
(`OncallConflict`, "declared in upwatch.toml"). One made here is stored whole in the database
(the fields of `[[schedules]]`, as JSON) and validated exactly as the file is
(`ScheduleConfig`), plus the cross references: responders of the merged set (upwatch.toml's
`[[responders]]` and the operators made responders in the admin), the
handoff channel in `[[channels]]`, and an id no file schedule uses. A refusal raises
`OncallInputError` with every bad field ("layers[0].shift"); nothing is stored then. Every
change is written to the audit log in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from statuspage.oncall.config import ScheduleConfig
from statuspage.oncall.service import (
    OncallConflict,
    OncallInputError,
    OncallNotFound,
    responder_names,
    used_by,
)
from statuspage.settings import Settings
from statuspage.storage import audit, sql
from statuspage.storage import oncall as store
from statuspage.storage.sql import Store

FILE_ONLY = "declared in upwatch.toml: change it there and reload (SIGHUP)"


def field_name(loc: tuple[int | str, ...]) -> str:
    """pydantic's error location as the config names it: ("layers", 0, "shift") -> "layers[0].shift"."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def validate(db: Store, settings: Settings, schedule_id: str, definition: dict[str, Any]) -> ScheduleConfig:
    """The schedule as `[[schedules]]` would read it, cross references checked; OncallInputError
    naming every bad field otherwise."""
    errors: dict[str, str] = {}
    try:
        config = ScheduleConfig.model_validate({**definition, "id": schedule_id})
    except ValidationError as error:
        for found in error.errors(include_url=False, include_input=False):
            errors.setdefault(field_name(found["loc"]) or "schedule", _in_words(found))
        raise _refusal(errors) from None
    names = responder_names(db, settings)
    for index, layer in enumerate(config.layers):
        unknown = [name for name in layer.responders if name not in names]
        if unknown:
            message = f"unknown responder {unknown[0]!r} (not a responder: make them one on the On call page)"
            errors[f"layers[{index}].responders"] = message
    if config.handoff_channel and settings.channel(config.handoff_channel) is None:
        errors["handoff_channel"] = f"unknown channel {config.handoff_channel!r}"
    if errors:
        raise _refusal(errors)
    return config


def _in_words(found: Any) -> str:
    """pydantic's message, or a plainer one where its own reads like a type error."""
    last = str(found["loc"][-1]) if found["loc"] else ""
    kind = found["type"]
    if kind == "missing":
        return "required"
    if last == "responders" and kind == "too_short":
        return "choose at least one responder"
    if last == "layers" and kind == "too_short":
        return "give at least one layer"
    if last == "start" and kind.startswith("date"):
        return "give the date of the first shift, like 2026-11-23"
    if last in ("id", "handoff_channel") and kind == "string_pattern_mismatch":
        return "use lower-case letters, digits, - and _, like primary"
    if kind == "string_too_short":
        return "required"
    return str(found["msg"]).removeprefix("Value error, ")


def _refusal(errors: dict[str, str]) -> OncallInputError:
    field, message = next(iter(errors.items()))
    return OncallInputError(field, message, errors)


def _definition(config: ScheduleConfig) -> dict[str, Any]:
    return config.model_dump(mode="json", exclude={"id"}, exclude_none=True)


def create(
    db: Store, settings: Settings, schedule_id: str, definition: dict[str, Any], actor: str, client: str,
    now: datetime,
) -> ScheduleConfig:  # fmt: skip
    """Store a new schedule (id unique across the file's and the admin's)."""
    if settings.schedule(schedule_id) is not None:
        raise OncallInputError("id", f"{schedule_id!r} is declared in upwatch.toml already; pick another id")
    config = validate(db, settings, schedule_id, definition)
    with sql.write(db):
        if not store.insert_schedule(db, schedule_id, _definition(config), actor, now):
            raise OncallInputError("id", f"a schedule {schedule_id!r} exists already; pick another id")
        details = {"name": config.label, "tz": config.tz, "layers": len(config.layers)}
        audit.record(db, now, actor, "oncall.schedule.create", f"schedule:{schedule_id}", client, details)
    return config


def _stored(db: Store, settings: Settings, schedule_id: str) -> dict[str, Any]:
    if settings.schedule(schedule_id) is not None:
        raise OncallConflict(f"schedule {schedule_id!r} is {FILE_ONLY}")
    found = store.stored_schedule(db, schedule_id)
    if found is None:
        raise OncallNotFound(f"no schedule {schedule_id!r}")
    return dict(found.definition)


def change(
    db: Store, settings: Settings, schedule_id: str, changes: dict[str, Any], actor: str, client: str,
    now: datetime, action: str = "oncall.schedule.update",
) -> ScheduleConfig:  # fmt: skip
    """Replace some fields of a stored schedule (name, tz, handoff_channel, handoff_notices, layers)."""
    with sql.write(db):
        definition = {**_stored(db, settings, schedule_id), **changes}
        config = validate(db, settings, schedule_id, definition)
        store.update_schedule(db, schedule_id, _definition(config), actor, now)
        details = {"fields": sorted(changes), "layers": len(config.layers)}
        audit.record(db, now, actor, action, f"schedule:{schedule_id}", client, details)
    return config


def delete(db: Store, settings: Settings, schedule_id: str, actor: str, client: str, now: datetime) -> None:
    """Remove a stored schedule and its overrides; refused while an escalation policy pages it."""
    with sql.write(db):
        _stored(db, settings, schedule_id)
        users = used_by(settings, schedule_id)
        if users:
            raise OncallConflict(
                f"schedule {schedule_id!r} is paged by {'; '.join(users)}: change those targets first"
            )
        store.delete_schedule(db, schedule_id)
        audit.record(db, now, actor, "oncall.schedule.delete", f"schedule:{schedule_id}", client, {})


def _layers(db: Store, settings: Settings, schedule_id: str) -> list[dict[str, Any]]:
    return list(_stored(db, settings, schedule_id).get("layers", []))


def _index(layers: list[dict[str, Any]], index: int) -> None:
    if not 0 <= index < len(layers):
        raise OncallNotFound(f"no layer {index} (the schedule has {len(layers)})")


def save_layer(
    db: Store, settings: Settings, schedule_id: str, index: int | None, layer: dict[str, Any], actor: str,
    client: str, now: datetime,
) -> ScheduleConfig:  # fmt: skip
    """Replace layer `index` (0 = the base), or add `layer` on top when `index` is None."""
    with sql.write(db):
        layers = _layers(db, settings, schedule_id)
        if index is None:
            layers.append(layer)
        else:
            _index(layers, index)
            layers[index] = layer
        action = "oncall.layer.create" if index is None else "oncall.layer.update"
        return change(db, settings, schedule_id, {"layers": layers}, actor, client, now, action)


def remove_layer(
    db: Store, settings: Settings, schedule_id: str, index: int, actor: str, client: str, now: datetime
) -> ScheduleConfig:
    with sql.write(db):
        layers = _layers(db, settings, schedule_id)
        _index(layers, index)
        if len(layers) == 1:
            message = "a schedule needs at least one layer; delete the schedule instead"
            raise OncallInputError("layers", message)
        del layers[index]
        action = "oncall.layer.delete"
        return change(db, settings, schedule_id, {"layers": layers}, actor, client, now, action)


def move_layer(
    db: Store, settings: Settings, schedule_id: str, index: int, to: int, actor: str, client: str,
    now: datetime,
) -> ScheduleConfig:  # fmt: skip
    """Put layer `index` at position `to` (0 = the base; higher layers win)."""
    with sql.write(db):
        layers = _layers(db, settings, schedule_id)
        _index(layers, index)
        if not 0 <= to < len(layers):
            raise OncallInputError("to", f"a position from 0 to {len(layers) - 1}")
        layers.insert(to, layers.pop(index))
        return change(db, settings, schedule_id, {"layers": layers}, actor, client, now, "oncall.layer.move")

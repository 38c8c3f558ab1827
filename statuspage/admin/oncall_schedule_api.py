"""Admin API for editing schedules made in the admin: create, replace, delete; their layers.

Schedules declared in upwatch.toml are read-only here (409, "declared in upwatch.toml"). Bodies
are the fields of `[[schedules]]` / `[[schedules.layers]]`, validated as the file is; refusals
are 422 naming each field, nothing stored. Every change is in the audit log.
"""

from __future__ import annotations

from flask import Response
from pydantic import BaseModel, ConfigDict, Field

from statuspage.admin import models
from statuspage.admin.api import _actor, _body, endpoint
from statuspage.admin.oncall_api import _answer
from statuspage.oncall import schedule_edits
from statuspage.oncall.config import LayerConfig, ScheduleConfig, ScheduleFields
from statuspage.web import get_db, now, settings


class LayerMove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: int = Field(ge=0, le=100, description="the new position, 0 = the base (higher layers win)")


def _changed(action: str, *args: object) -> Response:
    def build() -> models.Changed:
        who = _actor()
        function = getattr(schedule_edits, action)
        function(get_db(), settings(), *args, who.label, who.client_address, now())
        return models.Changed(changed=True)

    return _answer(build)


@endpoint(
    "POST", "/oncall/schedules", "write",
    "Make a schedule (the fields of [[schedules]]; ids of upwatch.toml are taken)",
    models.Changed, ScheduleConfig, 201,
)  # fmt: skip
def create_schedule() -> Response:
    def build() -> models.Changed:
        data = _body(ScheduleConfig)
        who = _actor()
        definition = data.model_dump(mode="json", exclude={"id"})
        schedule_edits.create(get_db(), settings(), data.id, definition, who.label, who.client_address, now())
        return models.Changed(changed=True)

    return _answer(build, 201)


@endpoint(
    "PUT", "/oncall/schedules/<schedule_id>", "write",
    "Replace a schedule made in the admin (name, tz, layers, handoff settings)",
    models.Changed, ScheduleFields,
)  # fmt: skip
def replace_schedule(schedule_id: str) -> Response:
    def build() -> models.Changed:
        data = _body(ScheduleFields).model_dump(mode="json")
        who = _actor()
        schedule_edits.change(get_db(), settings(), schedule_id, data, who.label, who.client_address, now())
        return models.Changed(changed=True)

    return _answer(build)


@endpoint(
    "DELETE", "/oncall/schedules/<schedule_id>", "write",
    "Delete a schedule made in the admin and its overrides (refused while a policy pages it)",
    models.Changed,
)  # fmt: skip
def delete_schedule(schedule_id: str) -> Response:
    return _changed("delete", schedule_id)


@endpoint(
    "POST", "/oncall/schedules/<schedule_id>/layers", "write",
    "Add a layer on top of a schedule made in the admin", models.Changed, LayerConfig, 201,
)  # fmt: skip
def add_layer(schedule_id: str) -> Response:
    def build() -> models.Changed:
        layer = _body(LayerConfig).model_dump(mode="json")
        who = _actor()
        schedule_edits.save_layer(
            get_db(), settings(), schedule_id, None, layer, who.label, who.client_address, now()
        )
        return models.Changed(changed=True)

    return _answer(build, 201)


@endpoint(
    "PUT", "/oncall/schedules/<schedule_id>/layers/<int:index>", "write",
    "Replace layer `index` (0 = the base)", models.Changed, LayerConfig,
)  # fmt: skip
def replace_layer(schedule_id: str, index: int) -> Response:
    def build() -> models.Changed:
        layer = _body(LayerConfig).model_dump(mode="json")
        who = _actor()
        schedule_edits.save_layer(
            get_db(), settings(), schedule_id, index, layer, who.label, who.client_address, now()
        )
        return models.Changed(changed=True)

    return _answer(build)


@endpoint(
    "DELETE", "/oncall/schedules/<schedule_id>/layers/<int:index>", "write",
    "Remove layer `index` (a schedule keeps at least one)", models.Changed,
)  # fmt: skip
def delete_layer(schedule_id: str, index: int) -> Response:
    return _changed("remove_layer", schedule_id, index)


@endpoint(
    "POST", "/oncall/schedules/<schedule_id>/layers/<int:index>/move", "write",
    "Move layer `index` to position `to` (0 = the base)", models.Changed, LayerMove,
)  # fmt: skip
def move_layer(schedule_id: str, index: int) -> Response:
    def build() -> models.Changed:
        to = _body(LayerMove).to
        who = _actor()
        schedule_edits.move_layer(
            get_db(), settings(), schedule_id, index, to, who.label, who.client_address, now()
        )
        return models.Changed(changed=True)

    return _answer(build)

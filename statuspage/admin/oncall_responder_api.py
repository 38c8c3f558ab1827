"""Admin API for which operators are responders: make an account one, stop it being one.

Contact methods and rules are `PUT /oncall/responders/<name>` (oncall_api). The responders of
upwatch.toml are read-only here (409, "declared in upwatch.toml"); removing one still named by
a schedule layer, an escalation level or an override is 409 saying where. Bad bodies are 422
naming the field, nothing stored. Every change is in the audit log.
"""

from __future__ import annotations

from flask import Response
from pydantic import BaseModel, ConfigDict, Field

from statuspage.admin import models
from statuspage.admin.api import _actor, _body, endpoint
from statuspage.admin.oncall_api import _answer
from statuspage.oncall import responder_edits
from statuspage.web import get_db, now, settings


class ResponderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=64, description="an existing operator account (`user create`)")
    display_name: str | None = Field(default=None, max_length=100)


@endpoint(
    "POST", "/oncall/responders", "write",
    "Make an operator account a responder (names in [[responders]] of upwatch.toml are taken)",
    models.Changed, ResponderCreate, 201,
)  # fmt: skip
def create_responder() -> Response:
    def build() -> models.Changed:
        data = _body(ResponderCreate)
        who = _actor()
        responder_edits.create(
            get_db(), settings(), data.name, data.display_name, who.label, who.client_address, now()
        )
        return models.Changed(changed=True)

    return _answer(build, 201)


@endpoint(
    "POST", "/oncall/responders/<name>/remove", "write",
    "Stop an operator made a responder here being one (refused while a schedule, policy or override"
    " names them)",
    models.Changed,
)  # fmt: skip
def remove_responder(name: str) -> Response:
    def build() -> models.Changed:
        who = _actor()
        responder_edits.remove(get_db(), settings(), name, who.label, who.client_address, now())
        return models.Changed(changed=True)

    return _answer(build)

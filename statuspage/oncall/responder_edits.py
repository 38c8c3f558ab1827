"""Which operators are responders, changed in the admin UI/API: make an account one, stop it being one.

The responders of upwatch.toml (`[[responders]]`) are config as code: shown, never removed here
(`OncallConflict`, "declared in upwatch.toml"). An operator made a responder here is stored in
the database (`oncall_responders`: the name and a display name); their contact methods and
rules are personal settings, edited as the file's responders' are (`service.set_personal`).
Only an existing operator account can become a responder (a responder is someone who can sign
in and acknowledge). Removing one is refused while a schedule layer, an escalation level or an
override not yet over names them: a page would otherwise go to nobody. Refusals raise
`OncallInputError` naming the field; nothing is stored then. Every change is in the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from statuspage.oncall.config import ResponderConfig
from statuspage.oncall.service import (
    OncallConflict,
    OncallInputError,
    OncallNotFound,
    all_responders,
    all_schedules,
    find_responder,
)
from statuspage.settings import Settings
from statuspage.storage import accounts, audit, sql
from statuspage.storage import oncall as store
from statuspage.storage.sql import Store

FILE_ONLY = "declared in upwatch.toml: change it there and reload (SIGHUP)"


def create(
    db: Store, settings: Settings, name: str, display_name: str | None, actor: str, client: str, now: datetime
) -> ResponderConfig:
    """Make the operator account `name` a responder (with no contact methods yet)."""
    display_name = (display_name or "").strip() or None
    errors: dict[str, str] = {}
    try:
        config = ResponderConfig(name=name, display_name=display_name)
    except ValidationError as error:
        for found in error.errors(include_url=False, include_input=False):
            field = str(found["loc"][0]) if found["loc"] else "name"
            errors.setdefault(field, _in_words(field, name, found))
        config = None
    if "name" not in errors:
        if settings.responder(name) is not None:
            errors["name"] = f"{name!r} is declared in upwatch.toml already"
        elif (account := accounts.find_user(db, name)) is None:
            errors["name"] = f"no operator account {name!r} (make it first: upwatch-statuspage user create)"
        elif account.disabled_at is not None:
            errors["name"] = f"the operator account {name!r} is disabled; enable it first"
    if errors or config is None:
        field, message = next(iter(errors.items()))
        raise OncallInputError(field, message, errors)
    with sql.write(db):
        if not store.insert_responder(db, name, display_name, actor, now):
            raise OncallInputError("name", f"{name!r} is a responder already")
        audit.record(db, now, actor, "oncall.responder.create", name, client, {"display_name": display_name})
    return config


def _in_words(field: str, name: str, found: Any) -> str:
    """pydantic's message, or a plainer one where its own shows a pattern."""
    if field == "name" and not name:
        return "choose an operator account"
    if field == "name":
        return f"{name!r} is not an account name (letters, digits, '.', '_' and '-')"
    if found["type"] == "string_too_long":
        return f"at most {found['ctx']['max_length']} characters"
    return str(found["msg"]).removeprefix("Value error, ")


def candidates(db: Store, settings: Settings) -> list[str]:
    """Operator accounts that could be made responders: enabled, not responders yet."""
    taken = {entry.name for entry in all_responders(db, settings)}
    return [u.name for u in accounts.list_users(db) if u.disabled_at is None and u.name not in taken]


def used_by(db: Store, settings: Settings, name: str, now: datetime) -> list[str]:
    """Where a responder is named, in words: "schedule primary, layer 1 (weekly)", "policy api,
    level 2", "override #3 of schedule nights"."""
    found = []
    for entry in all_schedules(db, settings):
        for index, layer in enumerate(entry.config.layers):
            if name in layer.responders:
                found.append(f"schedule {entry.id}, layer {index + 1} ({layer.name})")
    target = f"user:{name}"
    for policy in settings.escalation_policies:
        for index, level in enumerate(policy.levels):
            if target in level.targets:
                found.append(f"policy {policy.id}, level {index + 1}")
    for override in store.overrides_naming(db, name, now):
        found.append(f"override #{override.id} of schedule {override.schedule_id}")
    return found


def remove(db: Store, settings: Settings, name: str, actor: str, client: str, now: datetime) -> None:
    """Stop an operator made a responder here being one (their contacts, rules and verifications
    are forgotten; the account stays). OncallConflict for the file's or while still named somewhere."""
    with sql.write(db):
        entry = find_responder(db, settings, name)
        if entry is None:
            raise OncallNotFound(f"no responder {name!r}")
        if entry.source == "file":
            raise OncallConflict(f"responder {name!r} is {FILE_ONLY}")
        users = used_by(db, settings, name, now)
        if users:
            where = "; ".join(users)
            raise OncallConflict(f"responder {name!r} is still in {where}: take them out there first")
        store.delete_responder(db, name)
        audit.record(db, now, actor, "oncall.responder.delete", name, client, {})

"""On call for the rest of the app: who is on call, timelines, gaps, overrides, contact verification.

The pure maths is in `rotation`; this module joins it with the configuration
and the stored overrides and verifications. Input errors raise
`OncallInputError` naming the field (HTTP 400/422, a CLI error); nothing is
stored then.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from statuspage.oncall import links
from statuspage.oncall.config import ContactConfig, ResponderConfig, ScheduleConfig
from statuspage.oncall.rotation import OnCall, Override, Span, gaps, on_call, overlapping, timeline
from statuspage.settings import ConfigError, Settings
from statuspage.storage import audit, sql
from statuspage.storage import oncall as store
from statuspage.storage.sql import Store

log = logging.getLogger(__name__)

MAX_OVERRIDE = timedelta(days=90)
MAX_TIMELINE = timedelta(weeks=26)


class OncallInputError(ValueError):
    """Bad input; `field` names what is wrong (`errors`: every field refused, field -> message)."""

    def __init__(self, field: str, message: str, errors: dict[str, str] | None = None):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.errors = errors or {field: message}


class OncallConflict(Exception):
    """The change cannot be made as things stand (declared in the file, still paged): HTTP 409."""


class OncallNotFound(LookupError):
    """No schedule, responder or override with that name."""


@dataclass(frozen=True)
class ContactState:
    responder: str
    contact: ContactConfig
    verified: bool


@dataclass(frozen=True)
class ScheduleEntry:
    """A schedule of the merged set: declared in upwatch.toml (`file`, read-only at run time) or
    made in the admin UI/API (`admin`, stored in the database, editable)."""

    config: ScheduleConfig
    source: Literal["file", "admin"]
    stored: store.StoredSchedule | None = None

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def label(self) -> str:
        return self.config.label


@dataclass(frozen=True)
class ResponderEntry:
    """A responder of the merged set: declared in upwatch.toml (`file`, read-only at run time) or an
    operator account made one in the admin UI/API (`admin`, stored in the database). `config` is
    the declaration: the file's contacts and rules, none for the admin's (their own are personal
    settings, `responder()`)."""

    config: ResponderConfig
    source: Literal["file", "admin"]
    stored: store.StoredResponder | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def label(self) -> str:
        return self.config.label


def _admin_responder(row: store.StoredResponder) -> ResponderEntry:
    return ResponderEntry(ResponderConfig(name=row.name, display_name=row.display_name), "admin", row)


def all_responders(db: Store, settings: Settings) -> list[ResponderEntry]:
    """The merged set: upwatch.toml's responders first, then those made in the admin. A name in
    both is the file's (`shadowed_responders` names them for doctor)."""
    entries = [ResponderEntry(r, "file") for r in settings.responders]
    declared = {r.name for r in settings.responders}
    entries.extend(_admin_responder(row) for row in store.stored_responders(db) if row.name not in declared)
    return entries


def find_responder(db: Store, settings: Settings, name: str) -> ResponderEntry | None:
    declared = settings.responder(name)
    if declared is not None:
        return ResponderEntry(declared, "file")
    row = store.stored_responder(db, name)
    return _admin_responder(row) if row else None


def responder_names(db: Store, settings: Settings) -> set[str]:
    return {entry.name for entry in all_responders(db, settings)}


def responder_labels(db: Store, settings: Settings) -> dict[str, str]:
    """Name -> display name (or the name) of every responder of the merged set."""
    return {entry.name: entry.label for entry in all_responders(db, settings)}


def shadowed_responders(db: Store, settings: Settings) -> list[str]:
    """Names made responders in the admin that upwatch.toml now declares too (the file's is used)."""
    declared = {r.name for r in settings.responders}
    return [row.name for row in store.stored_responders(db) if row.name in declared]


def _from_store(row: store.StoredSchedule) -> ScheduleEntry | None:
    try:
        config = ScheduleConfig.model_validate({**row.definition, "id": row.schedule_id})
    except ValidationError as error:  # stored before a stricter check: skipped, and said so
        log.warning("schedule %s in the database is not valid any more: %s", row.schedule_id, error)
        return None
    return ScheduleEntry(config, "admin", row)


def all_schedules(db: Store, settings: Settings) -> list[ScheduleEntry]:
    """The merged set: upwatch.toml's schedules first, then those made in the admin. An id in both
    is the file's (config as code wins; `shadowed_schedules` names them for doctor)."""
    entries = [ScheduleEntry(s, "file") for s in settings.schedules]
    declared = {s.id for s in settings.schedules}
    for row in store.stored_schedules(db):
        if row.schedule_id not in declared and (entry := _from_store(row)) is not None:
            entries.append(entry)
    return entries


def find_schedule(db: Store, settings: Settings, schedule_id: str) -> ScheduleEntry | None:
    declared = settings.schedule(schedule_id)
    if declared is not None:
        return ScheduleEntry(declared, "file")
    row = store.stored_schedule(db, schedule_id)
    return _from_store(row) if row else None


def shadowed_schedules(db: Store, settings: Settings) -> list[str]:
    """Ids made in the admin that upwatch.toml now declares too (the file's is used)."""
    declared = {s.id for s in settings.schedules}
    return [row.schedule_id for row in store.stored_schedules(db) if row.schedule_id in declared]


def schedule_or_404(db: Store, settings: Settings, schedule_id: str) -> ScheduleConfig:
    """A schedule of the merged set; OncallNotFound when neither the file nor the admin has it."""
    found = find_schedule(db, settings, schedule_id)
    if found is None:
        raise OncallNotFound(f"no schedule {schedule_id!r}")
    return found.config


def used_by(settings: Settings, schedule_id: str) -> list[str]:
    """Where escalation policies page a schedule, in words: "policy api, level 1"."""
    target = f"schedule:{schedule_id}"
    return [
        f"policy {policy.id}, level {index + 1}"
        for policy in settings.escalation_policies
        for index, level in enumerate(policy.levels)
        if target in level.targets
    ]


def reference_problems(db: Store, settings: Settings) -> list[str]:
    """`schedule:` and `user:` targets naming a schedule or responder that neither upwatch.toml nor
    the admin has, and the file's schedules' layers naming an unknown responder, each naming its
    key. The file alone cannot tell (it may name what was made in the admin), so `serve`,
    `worker`, a reload and `doctor` check this against the merged sets."""
    known = {
        "schedule": ({entry.id for entry in all_schedules(db, settings)}, "[[schedules]]"),
        "user": (responder_names(db, settings), "[[responders]]"),
    }
    nouns = {"schedule": "schedule", "user": "responder"}
    problems = []
    for index, schedule in enumerate(settings.schedules):
        for layer_index, layer in enumerate(schedule.layers):
            for name in layer.responders:
                if name not in known["user"][0]:
                    key = f"schedules[{index}].layers[{layer_index}].responders"
                    problems.append(
                        f"{key}: unknown responder {name!r} (declare it in [[responders]] or make the"
                        " operator a responder in the admin On call page)"
                    )
    for index, policy in enumerate(settings.escalation_policies):
        for level_index, level in enumerate(policy.levels):
            for target in level.targets:
                kind, _, name = target.partition(":")
                if kind in known and name not in known[kind][0]:
                    key = f"escalation_policies[{index}].levels[{level_index}].targets"
                    problems.append(
                        f"{key}: unknown {nouns[kind]} {name!r} in {target!r} (declare it in"
                        f" {known[kind][1]} or make it in the admin On call page)"
                    )
    return problems


def check_references(settings: Settings) -> None:
    """Raise ConfigError, one line per key, when an escalation target or a schedule layer names a
    schedule or responder that neither upwatch.toml nor the admin has (`reference_problems`).
    `serve`, `worker` and a reload call it before using `settings`."""
    from statuspage.db import open_store_and_migrate

    db = open_store_and_migrate(settings.database)
    try:
        problems = reference_problems(db, settings)
    finally:
        sql.close(db)
    if problems:
        raise ConfigError("\n".join(problems))


def overrides(db: Store, schedule_id: str, since: datetime | None = None) -> list[Override]:
    return [o.to_override() for o in store.overrides_of(db, schedule_id, since)]


def who(db: Store, settings: Settings, schedule_id: str, at: datetime) -> OnCall:
    """Who is on call for a schedule at `at` (OncallNotFound for an unknown schedule)."""
    schedule = schedule_or_404(db, settings, schedule_id)
    return on_call(schedule.to_schedule(), overrides(db, schedule_id, at - timedelta(seconds=1)), at)


def schedule_timeline(
    db: Store, settings: Settings, schedule_id: str, start: datetime, end: datetime
) -> list[Span]:
    """Spans of [start, end) with who is on call (None: a gap). At most 26 weeks."""
    schedule = schedule_or_404(db, settings, schedule_id)
    end = min(end, start + MAX_TIMELINE)
    return timeline(schedule.to_schedule(), overrides(db, schedule_id, start), start, end)


def paged_schedules(settings: Settings) -> set[str]:
    """Schedules some escalation policy pages: their gaps are worth a warning."""
    used: set[str] = set()
    for policy in settings.escalation_policies:
        for level in policy.levels:
            used.update(t.removeprefix("schedule:") for t in level.targets if t.startswith("schedule:"))
    return used


def upcoming_gaps(db: Store, settings: Settings, now: datetime) -> dict[str, list[Span]]:
    """Schedule id -> stretches with nobody on call within `oncall.gap_horizon`, for paged schedules."""
    found: dict[str, list[Span]] = {}
    known = {entry.id for entry in all_schedules(db, settings)}
    for schedule_id in sorted(paged_schedules(settings) & known):  # unknown ones: reference_problems
        spans = schedule_timeline(db, settings, schedule_id, now, now + settings.oncall.gap_horizon)
        holes = gaps(spans)
        if holes:
            found[schedule_id] = holes
    return found


def add_override(
    db: Store,
    settings: Settings,
    *,
    schedule_id: str,
    responder: str,
    replaces: str | None,
    starts_at: datetime,
    ends_at: datetime,
    note: str,
    actor: str,
    client: str,
    now: datetime,
) -> int:
    """Store an override after checking it; return its id. Overlaps and unknown people are refused."""
    schedule_or_404(db, settings, schedule_id)
    if find_responder(db, settings, responder) is None:
        raise OncallInputError("responder", f"unknown responder {responder!r}")
    if replaces is not None and find_responder(db, settings, replaces) is None:
        raise OncallInputError("replaces", f"unknown responder {replaces!r}")
    if replaces == responder:
        raise OncallInputError("replaces", "a responder cannot take a shift from themselves")
    if ends_at <= starts_at:
        raise OncallInputError("ends_at", "must be after starts_at")
    if ends_at - starts_at > MAX_OVERRIDE:
        raise OncallInputError("ends_at", "an override lasts at most 90 days")
    if ends_at <= now:
        raise OncallInputError("ends_at", "must be in the future")
    if len(note) > 500:
        raise OncallInputError("note", "at most 500 characters")
    with sql.write(db):
        existing = overrides(db, schedule_id)
        clash = overlapping(existing, Override(0, starts_at, ends_at, responder, replaces))
        if clash is not None:
            raise OncallInputError(
                "starts_at",
                f"overlaps override #{clash.id} ({clash.responder}, {clash.start:%Y-%m-%d %H:%M} to"
                f" {clash.end:%Y-%m-%d %H:%M} UTC); change or remove that one first",
            )
        override_id = store.insert_override(
            db,
            schedule_id=schedule_id,
            responder=responder,
            replaces=replaces,
            starts_at=starts_at,
            ends_at=ends_at,
            note=note,
            created_by=actor,
            now=now,
        )
        details = {"schedule": schedule_id, "responder": responder, "replaces": replaces}
        audit.record(db, now, actor, "oncall.override.create", f"override:{override_id}", client, details)
    return override_id


def remove_override(db: Store, override_id: int, actor: str, client: str, now: datetime) -> None:
    with sql.write(db):
        found = store.get_override(db, override_id)
        if found is None or not store.delete_override(db, override_id):
            raise OncallNotFound(f"no override {override_id}")
        details = {"schedule": found.schedule_id, "responder": found.responder}
        audit.record(db, now, actor, "oncall.override.delete", f"override:{override_id}", client, details)


def responder(db: Store, settings: Settings, name: str) -> ResponderConfig | None:
    """A responder with the contacts and rules they edited in the admin UI/API, if any
    (those replace the configuration's); None for a name neither in `[[responders]]` nor made a
    responder in the admin."""
    entry = find_responder(db, settings, name)
    if entry is None:
        return None
    base = entry.config
    personal = store.personal_settings(db).get(name)
    if personal is None:
        return base
    try:
        return ResponderConfig.model_validate({**base.model_dump(), **personal})
    except ValidationError:
        return base  # stored before a stricter check: the configuration's still works


def responders(db: Store, settings: Settings) -> list[ResponderConfig]:
    """Every responder of the merged set, with their personal contacts and rules."""
    found = (responder(db, settings, entry.name) for entry in all_responders(db, settings))
    return [r for r in found if r is not None]


def set_personal(
    db: Store,
    settings: Settings,
    name: str,
    contacts: list[dict[str, Any]],
    rules: list[dict[str, Any]],
    actor: str,
    client: str,
    now: datetime,
) -> ResponderConfig:
    """Replace a responder's contacts and rules (validated as in the config, errors naming the
    field); changed addresses need a new verification. Returns the responder as it now is."""
    entry = find_responder(db, settings, name)
    if entry is None:
        raise OncallNotFound(f"no responder {name!r}")
    base = entry.config
    try:
        updated = ResponderConfig.model_validate({**base.model_dump(), "contacts": contacts, "rules": rules})
    except ValidationError as error:
        errors: dict[str, str] = {}
        for found in error.errors(include_url=False, include_input=False):
            field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in found["loc"]).lstrip(".")
            errors.setdefault(field or "contacts", str(found["msg"]).removeprefix("Value error, "))
        field, message = next(iter(errors.items()))
        raise OncallInputError(field, message, errors) from None
    clean = updated.model_dump(mode="json", exclude_none=True)
    with sql.write(db):
        store.set_personal(db, name, clean["contacts"], clean["rules"], actor, now)
        details = {"contacts": [c["id"] for c in clean["contacts"]], "rules": len(clean["rules"])}
        audit.record(db, now, actor, "oncall.responder.update", name, client, details)
    return updated


def clear_personal(db: Store, settings: Settings, name: str, actor: str, client: str, now: datetime) -> bool:
    """Back to the configuration's contacts and rules; False when there was nothing to clear."""
    if find_responder(db, settings, name) is None:
        raise OncallNotFound(f"no responder {name!r}")
    with sql.write(db):
        cleared = store.clear_personal(db, name)
        if cleared:
            audit.record(db, now, actor, "oncall.responder.reset", name, client, {})
    return cleared


def contact_states(db: Store, settings: Settings) -> list[ContactState]:
    verified = store.verified_contacts(db)
    return [
        ContactState(r.name, c, (r.name, c.id, store.address_hash(c.address)) in verified)
        for r in responders(db, settings)
        for c in r.contacts
    ]


def verified_contact_ids(db: Store, responder: ResponderConfig) -> set[str]:
    verified = store.verified_contacts(db)
    return {
        c.id for c in responder.contacts if (responder.name, c.id, store.address_hash(c.address)) in verified
    }


def contact_of(
    db: Store, settings: Settings, responder_name: str, contact_id: str
) -> tuple[ResponderConfig, ContactConfig]:
    found = responder(db, settings, responder_name)
    if found is None:
        raise OncallInputError("responder", f"unknown responder {responder_name!r}")
    contact = found.contact(contact_id)
    if contact is None:
        raise OncallInputError("contact", f"{responder_name} has no contact {contact_id!r}")
    return found, contact


def verify_link(db: Store, settings: Settings, responder: str, contact: ContactConfig, now: datetime) -> str:
    expires = now + settings.oncall.verification_ttl
    token = links.sign_verification(
        store.signing_key(db), responder, contact.id, store.address_hash(contact.address), expires
    )
    return f"{settings.page.url}/oncall/verify/{token}"


def confirm_verification(db: Store, settings: Settings, token: str, client: str, now: datetime) -> str:
    """Mark the contact a verification link names as verified; return its label. LinkError otherwise."""
    claim = links.read_verification(store.signing_key(db), token, now)
    owner = responder(db, settings, claim.responder)  # with the contacts edited in the admin, if any
    contact = owner.contact(claim.contact_id) if owner else None
    if owner is None or contact is None or store.address_hash(contact.address) != claim.address_hash:
        raise links.LinkError(410, "This contact method changed or no longer exists; ask for a new link.")
    with sql.write(db):
        if store.mark_verified(db, owner.name, contact.id, claim.address_hash, now):
            details = {"contact": contact.id, "kind": contact.kind}
            audit.record(db, now, f"user:{owner.name}", "oncall.contact.verify", owner.name, client, details)
    return f"{owner.label}: {contact.kind} {contact.id}"


def feed_url(db: Store, settings: Settings, kind: str, name: str) -> str:
    secret = links.feed_secret(store.signing_key(db), kind, name)
    return f"{settings.page.url}/oncall/feeds/{kind}/{name}/{secret}.ics"

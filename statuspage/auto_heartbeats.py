"""Heartbeat checks created by their first ping, as healthchecks.io auto-provisions them.

`/ping/<ping-key>/<slug>?create=1` for a slug no check has creates a heartbeat
check with healthchecks.io's defaults (period 1 day, grace 1 hour) and pings it.
Our checks are declared in the configuration, so these live in the database
(`storage.auto_heartbeats`) and are merged into the settings every process
uses: the web process (`statuspage.web.settings`), the worker (each pass) and
`heartbeat list`. From there on an auto-created check is like a declared one:
it goes late, opens incidents on its component and shows in the admin UI.

- Off until `[heartbeats] auto_create_component` names the component such
  checks belong to (healthchecks puts them in the ping key's project; our ping
  key is the installation's, and a check needs a component to alert anyone).
- At most `auto_create_limit` of them (abuse: whoever holds the ping key could
  otherwise fill the database); beyond it `?create=1` answers `not found`, as
  healthchecks does past its account limit.
- The configuration wins: a declared heartbeat check with the same slug (or a
  declared check with the same id) hides the stored one, and the worker forgets
  it on its next pass.
- Operators remove one with `upwatch-statuspage heartbeat forget SLUG`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime, timedelta
from enum import Enum

from shared.checks import ID_PATTERN, HeartbeatCheck, parse_check
from statuspage.settings import Settings
from statuspage.storage import auto_heartbeats as store
from statuspage.storage import heartbeats as heartbeat_store
from statuspage.storage import sql
from statuspage.storage.sql import Store  # noqa: I001

log = logging.getLogger(__name__)

# healthchecks.io's defaults for auto-provisioned checks ("Auto Provisioning" in its docs).
PERIOD = timedelta(days=1)
GRACE = timedelta(hours=1)
ID_PREFIX = "auto."


class Provisioned(Enum):
    """What a `?create=1` ping found or did."""

    CREATED = "created"
    EXISTS = "exists"  # made meanwhile by another request
    DISABLED = "disabled"  # no [heartbeats] auto_create_component
    LIMIT = "limit"  # auto_create_limit reached
    TAKEN = "taken"  # a declared check already has the id the slug would get


def check_id_for(slug: str) -> str:
    """The check id of an auto-created check: `auto.<slug>`, or a digest when the slug is too long."""
    readable = f"{ID_PREFIX}{slug}"
    if re.match(ID_PATTERN, readable):
        return readable
    return f"{ID_PREFIX}{hashlib.sha256(slug.encode()).hexdigest()[:24]}"


def build_check(row: store.AutoHeartbeat, settings: Settings) -> HeartbeatCheck:
    """The check a stored row stands for, in the component the settings name."""
    check = parse_check(
        {
            "id": row.check_id,
            "kind": "heartbeat",
            "name": row.slug,
            "slug": row.slug,
            "component": settings.heartbeats.auto_create_component,
            "period": PERIOD.total_seconds(),
            "grace": GRACE.total_seconds(),
        }
    )
    assert isinstance(check, HeartbeatCheck)
    return check


def shadowed(row: store.AutoHeartbeat, settings: Settings) -> bool:
    """True when the configuration declares this slug (or this check id): the declared check wins."""
    if settings.check(row.check_id) is not None:
        return True
    return any(isinstance(check, HeartbeatCheck) and check.ping_slug == row.slug for check in settings.checks)


def merged(db: Store, settings: Settings) -> Settings:
    """The settings with every stored auto-created check that the configuration does not shadow.

    Returns `settings` itself when there are none. Raises sql.Error when the table cannot be read.
    """
    rows = [row for row in store.load_all(db) if not shadowed(row, settings)]
    if not rows:
        return settings
    checks = [*settings.checks, *(build_check(row, settings) for row in rows)]
    combined = settings.model_copy(update={"checks": checks})
    # model_copy copies the instance dict, cached lookups included: drop the one over checks.
    combined.__dict__.pop("_checks_by_id", None)
    return combined


def is_auto_created(check_id: str) -> bool:
    return check_id.startswith(ID_PREFIX)


def provision(
    db: Store, settings: Settings, slug: str, at: datetime, created_from: str | None
) -> Provisioned:
    """Create the heartbeat check for `slug` (and its ping key) unless disabled, full or taken.

    `settings` are the merged settings: the caller has found no check with this slug there.
    """
    if settings.heartbeats.auto_create_component is None:
        return Provisioned.DISABLED
    check_id = check_id_for(slug)
    if settings.check(check_id) is not None:
        return Provisioned.TAKEN
    with sql.write(db):
        # Counted in the write transaction that inserts: two creating pings cannot both pass the limit.
        if store.count(db) >= settings.heartbeats.auto_create_limit:
            outcome = Provisioned.LIMIT
        elif store.create(db, check_id, slug, at, created_from):
            heartbeat_store.ensure_keys(db, [check_id], at)
            outcome = Provisioned.CREATED
        else:
            outcome = Provisioned.EXISTS
    if outcome is Provisioned.LIMIT:
        log.warning(
            "heartbeat auto-create refused slug=%s limit=%d (heartbeats.auto_create_limit)",
            slug,
            settings.heartbeats.auto_create_limit,
        )
    elif outcome is Provisioned.CREATED:
        log.info("heartbeat check auto-created check=%s slug=%s from=%s", check_id, slug, created_from)
    return outcome


def retire_shadowed(db: Store, settings: Settings) -> list[str]:
    """The worker's pass: forget stored checks the configuration now declares. Returns their ids.

    `settings` are the declared settings (not merged).
    """
    retired = [row for row in store.load_all(db) if shadowed(row, settings)]
    if not retired:
        return []
    with sql.write(db):
        store.delete(db, [row.check_id for row in retired])
    for row in retired:
        log.info(
            "auto-created heartbeat check retired check=%s slug=%s: the configuration declares it",
            row.check_id,
            row.slug,
        )
    return [row.check_id for row in retired]


def forget(db: Store, slug: str) -> str | None:
    """Remove the auto-created check with this slug; its id, or None when there is none."""
    row = store.by_slug(db, slug)
    if row is None:
        return None
    with sql.write(db):
        store.delete(db, [row.check_id])
    return row.check_id

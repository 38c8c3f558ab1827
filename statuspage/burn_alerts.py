"""Error-budget burn-rate alerts: tell channels when a component's budget burns too fast.

Each worker pass measures, per component with an `sla_target`, the weighted
downtime over the last `[sla] burn_rate_window` (the same arithmetic as the
SLA reports: incidents, maintenance excluded) and its burn rate. Crossing
`burn_rate_threshold` sends one `sla.burn_rate` notice to each of
`burn_rate_channels`; the alert clears (one `sla.burn_rate_recovered` notice)
when the rate falls below half the threshold, so a rate hovering at the line
does not flap. The alert row is claimed with INSERT ... ON CONFLICT DO NOTHING / DELETE and the
outbox keys are unique, so two workers never send a notice twice.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from shared.timeutil import format_duration, to_iso
from statuspage.engine.sla import burn_rate, merge, weighted_downtime_s
from statuspage.settings import Settings
from statuspage.storage import burn_alerts as alert_store
from statuspage.storage import sql
from statuspage.storage.outbox import enqueue
from statuspage.storage.sla import maintenance_intervals, outage_intervals
from statuspage.storage.sql import Store  # noqa: I001

log = logging.getLogger(__name__)
CLEAR_FRACTION = 0.5


def run_burn_alerts(db: Store, settings: Settings, now: datetime) -> int:
    """One pass over the components with an SLA target; return how many notices were queued."""
    config = settings.sla
    if not config.burn_rate_channels:
        return 0
    window_s = config.burn_rate_window.total_seconds()
    start = now - config.burn_rate_window
    queued = 0
    for component in settings.components:
        if component.sla_target is None:
            continue
        outages = outage_intervals(db, component.id, start, now, now)
        maintenance = merge(maintenance_intervals(db, component.id, start, now, now))
        clipped = [c for o in outages if (c := o.clip(start, now))]
        rate = burn_rate(weighted_downtime_s(clipped, maintenance), window_s, component.sla_target)
        with sql.write(db):
            queued += _transition(db, settings, component.id, component.name, component.sla_target, rate, now)
    return queued


def _transition(
    db: Store, settings: Settings, component_id: str, name: str, target: float, rate: float, now: datetime
) -> int:
    threshold = settings.sla.burn_rate_threshold
    since = alert_store.alerting_since(db, component_id)
    if since is None and rate >= threshold:
        if not alert_store.claim_alert(db, component_id, rate, now):
            return 0
        log.warning("error budget burning fast component=%s burn_rate=%.1f", component_id, rate)
        message = (
            f"{name}: error budget burning {rate:.1f}x faster than allowed"
            f" (SLA {target:g} %, last {format_duration(settings.sla.burn_rate_window)})"
        )
        return _notify(db, settings, "sla.burn_rate", component_id, to_iso(now), message, rate, now)
    if since is not None and rate < threshold * CLEAR_FRACTION:
        if not alert_store.clear_alert(db, component_id, since):
            return 0
        message = f"{name}: error budget burn back to {rate:.1f}x (alerting since {since:%Y-%m-%d %H:%M} UTC)"
        return _notify(
            db, settings, "sla.burn_rate_recovered", component_id, to_iso(since), message, rate, now
        )
    if since is not None:
        alert_store.note_rate(db, component_id, rate)
    return 0


def _notify(
    db: Store,
    settings: Settings,
    event: str,
    component_id: str,
    episode: str,
    message: str,
    rate: float,
    now: datetime,
) -> int:
    payload: dict[str, Any] = {
        "event": event,
        "message": message,
        "component": component_id,
        "burn_rate": round(rate, 2),
        "threshold": settings.sla.burn_rate_threshold,
        "window_s": settings.sla.burn_rate_window.total_seconds(),
    }
    queued = 0
    for channel_id in settings.sla.burn_rate_channels:
        channel = settings.channel(channel_id)
        if channel is None:
            continue
        queued += enqueue(
            db,
            event=event,
            destination_kind=channel.kind,
            destination=channel.id,
            payload=payload,
            idempotency_key=f"burn:{component_id}:{episode}:{event}:{channel.id}",
            now=now,
        )
    return queued

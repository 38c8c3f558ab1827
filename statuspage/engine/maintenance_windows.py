"""Occurrences of configured maintenance windows. Pure: config + `now` in, windows out.

A recurring window (`schedule`, cron) is expanded in its own time zone, so
"0 2 * * sun" in Europe/Berlin stays at 02:00 local time across DST changes;
the times returned are UTC. Only occurrences that have not ended and start
within `horizon` are returned, so the page can show upcoming maintenance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import croniter

from statuspage.respond_config import MaintenanceConfig

MAX_OCCURRENCES = 50


@dataclass(frozen=True)
class Occurrence:
    config_id: str
    starts_at: datetime
    ends_at: datetime

    @property
    def source(self) -> str:
        return f"config:{self.config_id}"


def occurrences(window: MaintenanceConfig, now: datetime, horizon: timedelta) -> list[Occurrence]:
    """Occurrences of `window` still running at `now` or starting before `now + horizon`."""
    if window.start is not None:
        start = window.start if window.start.tzinfo else window.start.replace(tzinfo=window.zone())
        start = start.astimezone(UTC)
        end = start + window.duration
        return [Occurrence(window.id, start, end)] if end > now and start <= now + horizon else []
    assert window.schedule is not None  # the model requires schedule or start
    # Start one duration back, so a window already in progress is found too.
    cursor = croniter(window.schedule, (now - window.duration).astimezone(window.zone()))
    found: list[Occurrence] = []
    while len(found) < MAX_OCCURRENCES:
        start = cursor.get_next(datetime).astimezone(UTC)
        if start > now + horizon:
            break
        end = start + window.duration
        if end > now:
            found.append(Occurrence(window.id, start, end))
    return found

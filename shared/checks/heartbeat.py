"""The heartbeat kind: pushed pings judged by the collector, with its cron and time-zone helpers."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from shared.checks.common import (
    SLUG_PATTERN,
    CheckBase,
    Duration,
    _duration,
)


class HeartbeatCheck(CheckBase):
    """Pushed, not probed: a job pings the collector; late or failed pings make it down.

    Evaluated by the collector only (never assigned to agents). `interval` is
    derived (period or the longest gap of the cron schedule, plus grace) so a
    quiet but healthy heartbeat never counts as "no data".
    """

    kind: Literal["heartbeat"]
    period: Duration | None = None
    schedule: str | None = Field(default=None, min_length=1, max_length=200)
    tz: str = Field(default="UTC", max_length=64)
    grace: Duration = timedelta(hours=1)
    # healthchecks.io's slug characters; /ping/<ping-key>/<slug> finds the check by it.
    slug: str | None = Field(default=None, pattern=SLUG_PATTERN)
    failure_threshold: int = Field(default=1, ge=1, le=100)
    success_threshold: int = Field(default=1, ge=1, le=100)

    @property
    def ping_slug(self) -> str | None:
        """The slug of its slug URL: `slug`, else the id when the id is made of slug characters."""
        if self.slug is not None:
            return self.slug
        return self.id if re.match(SLUG_PATTERN, self.id) else None

    @model_validator(mode="before")
    @classmethod
    def _derive_interval(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        derived = _heartbeat_span(data)
        given = data.get("interval")
        if derived is not None:
            if given is not None and _duration(given, None) != derived:
                raise ValueError("interval: not used by heartbeat checks; set period or schedule (and grace)")
            data["interval"] = derived
        return data

    @field_validator("schedule")
    @classmethod
    def _cron(cls, schedule: str | None) -> str | None:
        return None if schedule is None else validate_cron(schedule)

    @field_validator("tz")
    @classmethod
    def _zone(cls, tz: str) -> str:
        validate_timezone(tz)
        return tz

    @model_validator(mode="after")
    def _schedule(self) -> HeartbeatCheck:
        if (self.period is None) == (self.schedule is None):
            raise ValueError("give exactly one of period (e.g. '1d') or schedule (a cron expression)")
        if self.period is not None and self.period < timedelta(minutes=1):
            raise ValueError("period must be at least 1m")
        return self


def _heartbeat_span(data: dict[str, Any]) -> timedelta | None:
    """period (or the cron schedule's longest gap) + grace; None when the fields are invalid
    (their own validators then say why)."""
    try:
        grace = _duration(data.get("grace", timedelta(hours=1)), None)
        if data.get("period") is not None and data.get("schedule") is None:
            return _duration(data["period"], None) + grace
        if data.get("schedule") is not None and data.get("period") is None:
            zone = validate_timezone(data.get("tz", "UTC"))
            return cron_longest_gap(validate_cron(data["schedule"]), zone) + grace
    except ValueError:
        return None
    return None


def validate_cron(expression: Any) -> str:
    """A standard five-field cron expression. Raises ValueError saying what is wrong."""
    if not isinstance(expression, str):
        raise ValueError("schedule must be a cron expression string like '0 3 * * *'")
    from croniter import croniter  # imported on use: agents rarely need it

    fields = expression.split()
    if len(fields) != 5 or not croniter.is_valid(expression):
        raise ValueError(f"schedule {expression!r} is not a valid five-field cron expression")
    return " ".join(fields)


def validate_timezone(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"tz {name!r} is not a known time zone (e.g. 'Europe/Berlin')") from None


def cron_longest_gap(expression: str, zone: ZoneInfo, samples: int = 64) -> timedelta:
    """The longest time between two consecutive runs over the next `samples` runs."""
    from croniter import croniter

    base = datetime(2026, 1, 1, tzinfo=zone)
    times = croniter(expression, base)
    previous = times.get_next(datetime)
    longest = timedelta(0)
    for _ in range(samples):
        current = times.get_next(datetime)
        longest = max(longest, current - previous)
        previous = current
    return longest

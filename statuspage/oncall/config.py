"""Configuration of on call: `[[responders]]`, `[[schedules]]` and `[oncall]`.

Imported by `statuspage.settings`. A responder is an operator account (the
same name as `upwatch-statuspage user create NAME`) with contact methods and
personal notification rules; a schedule is a time zone and layers of
rotations. Escalation levels page them as `user:<name>` and
`schedule:<id>` (see `statuspage.respond_config`).
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.checks import ID_PATTERN, Duration
from statuspage.notify.config import valid_address
from statuspage.oncall.rotation import Layer, Restriction, Schedule, ShiftLength

IdRef = Annotated[str, Field(pattern=ID_PATTERN)]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # operator account names
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SHIFT = re.compile(r"^(\d{1,4})([hdw])$")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_clock(text: str, key: str = "time") -> time:
    """'09:00' -> time(9, 0); ValueError naming `key` otherwise."""
    match = _CLOCK.match(text)
    if not match:
        raise ValueError(f"{key} must be a local time HH:MM, like 09:00 (got {text!r})")
    return time(int(match.group(1)), int(match.group(2)))


class ContactConfig(_Section):
    """One way to reach a responder: `email` (to), `apprise` (url: SMS, voice, chat ...),
    `webhook` (url, optional secret)."""

    id: str = Field(pattern=ID_PATTERN)
    kind: Literal["email", "apprise", "webhook"]
    to: str | None = Field(default=None, max_length=320)
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    secret: str | None = Field(default=None, min_length=16, max_length=500)

    @field_validator("to")
    @classmethod
    def _address(cls, to: str | None) -> str | None:
        return None if to is None else valid_address(to, public=False)

    @model_validator(mode="after")
    def _fields_of_kind(self) -> ContactConfig:
        if self.kind == "email" and not self.to:
            raise ValueError("to is required for an email contact")
        if self.kind != "email" and not self.url:
            raise ValueError(f"url is required for a {self.kind} contact")
        if self.kind == "webhook" and not str(self.url).startswith(("http://", "https://")):
            raise ValueError("url of a webhook contact must start with http:// or https://")
        if self.kind == "apprise" and "://" not in str(self.url):
            raise ValueError("url of an apprise contact must be an apprise URL like tgram://...")
        if self.secret is not None and (self.kind != "webhook" or not self.secret.startswith("whsec_")):
            raise ValueError("secret applies only to webhook contacts and is 'whsec_' + base64")
        return self

    @property
    def address(self) -> str:
        """What verification is bound to: changing it asks for a new verification."""
        return str(self.to if self.kind == "email" else self.url)


class NotificationRule(_Section):
    """Personal rule: reach `contact` this long after being paged, unless acknowledged by then."""

    contact: IdRef
    after: Duration = timedelta(0)

    @field_validator("after")
    @classmethod
    def _bounded(cls, after: timedelta) -> timedelta:
        if after > timedelta(hours=2):
            raise ValueError("after must be at most 2h")
        return after


class ResponderConfig(_Section):
    """An operator who can be paged. Without `rules`, every verified contact is tried at once."""

    name: str = Field(pattern=NAME_PATTERN)
    display_name: str | None = Field(default=None, max_length=100)
    contacts: list[ContactConfig] = Field(default_factory=list, max_length=20)
    rules: list[NotificationRule] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _rules_name_contacts(self) -> ResponderConfig:
        ids = [c.id for c in self.contacts]
        if len(set(ids)) != len(ids):
            raise ValueError("contacts: duplicate contact id")
        for index, rule in enumerate(self.rules):
            if rule.contact not in ids:
                raise ValueError(f"rules[{index}].contact: unknown contact {rule.contact!r}")
        return self

    @property
    def label(self) -> str:
        return self.display_name or self.name

    def contact(self, contact_id: str) -> ContactConfig | None:
        return next((c for c in self.contacts if c.id == contact_id), None)

    def effective_rules(self) -> list[NotificationRule]:
        return list(self.rules) or [NotificationRule(contact=c.id) for c in self.contacts]


class RestrictionConfig(_Section):
    """When a layer applies: local weekdays and/or a local hours window ("09:00-17:00"; may wrap)."""

    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=list, max_length=7
    )
    hours: str | None = Field(default=None, max_length=11)

    @field_validator("hours")
    @classmethod
    def _hours(cls, hours: str | None) -> str | None:
        if hours is None:
            return None
        start, sep, end = hours.partition("-")
        if not sep:
            raise ValueError("hours must be HH:MM-HH:MM, like 09:00-17:00")
        if parse_clock(start.strip(), "hours") == parse_clock(end.strip(), "hours"):
            raise ValueError("hours: start and end are the same; leave hours out for all day")
        return hours

    def to_restriction(self) -> Restriction:
        window = None
        if self.hours:
            start, _, end = self.hours.partition("-")
            window = (parse_clock(start.strip()), parse_clock(end.strip()))
        days = frozenset(WEEKDAYS.index(d) for d in self.weekdays) if self.weekdays else None
        return Restriction(weekdays=days, hours=window)


class LayerConfig(_Section):
    """A rotation: responders take turns, each for `shift`, handing off at `handoff` local time."""

    name: str = Field(min_length=1, max_length=100)
    responders: list[Annotated[str, Field(pattern=NAME_PATTERN)]] = Field(min_length=1, max_length=100)
    shift: str = "1w"
    handoff: str = "09:00"
    start: date
    restrict: RestrictionConfig | None = None

    @field_validator("shift")
    @classmethod
    def _shift(cls, shift: str) -> str:
        match = _SHIFT.match(shift)
        if not match or int(match.group(1)) == 0:
            raise ValueError("shift must be a number of hours, days or weeks: 12h, 1d, 1w, 2w")
        return shift

    @field_validator("handoff")
    @classmethod
    def _handoff(cls, handoff: str) -> str:
        parse_clock(handoff, "handoff")
        return handoff

    def to_layer(self) -> Layer:
        match = _SHIFT.match(self.shift)
        assert match is not None
        unit = {"h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
        return Layer(
            name=self.name,
            responders=tuple(self.responders),
            shift=ShiftLength(int(match.group(1)), unit),  # type: ignore[arg-type]
            handoff=parse_clock(self.handoff),
            start=self.start,
            restriction=self.restrict.to_restriction() if self.restrict else None,
        )


class ScheduleFields(_Section):
    """A schedule's fields but its id (the admin API's body when the id is in the path)."""

    name: str | None = Field(default=None, max_length=100)
    tz: str = Field(default="UTC", max_length=64)
    layers: list[LayerConfig] = Field(min_length=1, max_length=20)
    handoff_channel: str | None = Field(default=None, pattern=ID_PATTERN)
    handoff_notices: bool = True

    @field_validator("tz")
    @classmethod
    def _zone(cls, tz: str) -> str:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {tz!r} (use an IANA name like Europe/Berlin)") from None
        return tz


class ScheduleConfig(ScheduleFields):
    """Who is on call when: layers listed from the base up (a later layer wins where it has someone)."""

    id: str = Field(pattern=ID_PATTERN)

    @property
    def label(self) -> str:
        return self.name or self.id

    def to_schedule(self) -> Schedule:
        return Schedule(self.id, ZoneInfo(self.tz), tuple(layer.to_layer() for layer in self.layers))


class OncallConfig(_Section):
    """Signed action links, gap warnings and handoff notices."""

    link_ttl: Duration = timedelta(hours=24)
    gap_horizon: Duration = timedelta(days=14)
    verification_ttl: Duration = timedelta(hours=24)

    @field_validator("link_ttl", "verification_ttl")
    @classmethod
    def _ttl(cls, ttl: timedelta) -> timedelta:
        if not timedelta(minutes=5) <= ttl <= timedelta(days=14):
            raise ValueError("must be between 5m and 14d")
        return ttl

    @field_validator("gap_horizon")
    @classmethod
    def _horizon(cls, horizon: timedelta) -> timedelta:
        if not timedelta(hours=1) <= horizon <= timedelta(days=90):
            raise ValueError("must be between 1h and 90d")
        return horizon


def oncall_problems(settings: Any, channel_ids: set[str]) -> list[str]:
    """Duplicate ids and references to unknown channels, each naming its key."""
    problems: list[str] = []
    names: set[str] = set()
    for index, responder in enumerate(settings.responders):
        if responder.name in names:
            problems.append(f"responders[{index}].name: duplicate responder {responder.name!r}")
        names.add(responder.name)
    schedule_ids: set[str] = set()
    for index, schedule in enumerate(settings.schedules):
        if schedule.id in schedule_ids:
            problems.append(f"schedules[{index}].id: duplicate id {schedule.id!r}")
        schedule_ids.add(schedule.id)
        if schedule.handoff_channel and schedule.handoff_channel not in channel_ids:
            problems.append(
                f"schedules[{index}].handoff_channel: unknown channel {schedule.handoff_channel!r}"
            )
    # Layers may name an operator made a responder in the admin, which the file cannot know:
    # `oncall.service.reference_problems` checks them against the merged set at start-up.
    return problems

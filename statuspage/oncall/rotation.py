"""Rotation maths: who is on call at an instant, and the timeline over a stretch. Pure.

Everything here is a function of the schedule, its overrides and a time; no
clock is read and nothing is stored. The ideas follow GoAlert's
schedule/rotation, rule/weekdayfilter and override packages:

- A layer hands off every `shift`. Hour shifts count absolute hours from the
  first handoff; day and week shifts count *local calendar days* in the
  schedule's zone, so a weekly handoff at 09:00 Europe/Berlin stays at 09:00
  on the wall clock across the DST change (it moves by an hour in UTC).
  A handoff at a local time that does not exist that day (the spring-forward
  hour) happens at the same offset as before the change (02:30 -> 03:30);
  one that exists twice happens at the first.
- Shift k belongs to `responders[k % len(responders)]`; before `start` the
  layer has nobody.
- A restriction (weekdays, an hours window that may wrap past midnight, both
  in local time) narrows a layer: outside it, the layer has nobody.
- Layers are ordered from the base up: the highest layer that has someone
  at an instant wins; a gap in it falls through to the layers below.
- An override puts `responder` on call from `start` to `end`: in place of
  `replaces` only (where that person would be on call), or, with
  `replaces = None`, in place of whoever is on call, gaps included.
  Overrides of one schedule never overlap (`overlapping` finds a clash).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Unit = Literal["hours", "days", "weeks"]


@dataclass(frozen=True)
class ShiftLength:
    count: int
    unit: Unit

    def approximate(self) -> timedelta:
        per = {"hours": timedelta(hours=1), "days": timedelta(days=1), "weeks": timedelta(weeks=1)}
        return per[self.unit] * self.count


@dataclass(frozen=True)
class Restriction:
    """Local weekdays (0 = Monday; None: every day) and an hours window [start, end) (None: all day)."""

    weekdays: frozenset[int] | None = None
    hours: tuple[time, time] | None = None


@dataclass(frozen=True)
class Layer:
    name: str
    responders: tuple[str, ...]
    shift: ShiftLength
    handoff: time
    start: date
    restriction: Restriction | None = None


@dataclass(frozen=True)
class Schedule:
    id: str
    zone: ZoneInfo
    layers: tuple[Layer, ...]


@dataclass(frozen=True)
class Override:
    id: int
    start: datetime
    end: datetime
    responder: str
    replaces: str | None = None


@dataclass(frozen=True)
class OnCall:
    """Who is on call at an instant, and why: the layer that had them, the override that put them there."""

    responder: str | None
    layer: str | None = None
    override_id: int | None = None


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime
    responder: str | None
    layer: str | None
    override_id: int | None

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


def handoff_at(layer: Layer, zone: ZoneInfo, index: int) -> datetime:
    """When shift `index` of the layer begins (UTC)."""
    if layer.shift.unit == "hours":
        first = datetime.combine(layer.start, layer.handoff, tzinfo=zone).astimezone(UTC)
        return first + timedelta(hours=layer.shift.count * index)
    days = layer.shift.count * (7 if layer.shift.unit == "weeks" else 1) * index
    local = datetime.combine(layer.start + timedelta(days=days), layer.handoff, tzinfo=zone)
    return local.astimezone(UTC)


def shift_index(layer: Layer, zone: ZoneInfo, at: datetime) -> int | None:
    """The index of the shift running at `at`, or None before the layer's first handoff."""
    first = handoff_at(layer, zone, 0)
    if at < first:
        return None
    index = math.floor((at - first) / layer.shift.approximate())
    # The estimate is off by at most one shift around DST changes: step to the exact one.
    while index > 0 and handoff_at(layer, zone, index) > at:
        index -= 1
    while handoff_at(layer, zone, index + 1) <= at:
        index += 1
    return index


def allowed(restriction: Restriction | None, zone: ZoneInfo, at: datetime) -> bool:
    """Whether a restriction lets its layer apply at `at` (local weekday and hours)."""
    if restriction is None:
        return True
    local = at.astimezone(zone)
    days = restriction.weekdays

    def day_ok(day: date) -> bool:
        return days is None or day.weekday() in days

    if restriction.hours is None:
        return day_ok(local.date())
    start, end = restriction.hours
    now = local.time().replace(tzinfo=None)
    if start < end:
        return start <= now < end and day_ok(local.date())
    # A window that wraps past midnight belongs to the day it started on.
    if now >= start:
        return day_ok(local.date())
    return now < end and day_ok(local.date() - timedelta(days=1))


def layer_on_call(layer: Layer, zone: ZoneInfo, at: datetime) -> str | None:
    """Who this layer has on call at `at` (None: before its start, or outside its restriction)."""
    index = shift_index(layer, zone, at)
    if index is None or not allowed(layer.restriction, zone, at):
        return None
    return layer.responders[index % len(layer.responders)]


def on_call(schedule: Schedule, overrides: Sequence[Override], at: datetime) -> OnCall:
    """Who is on call at `at`: the highest layer with someone, then the override running then."""
    found = OnCall(None)
    for layer in reversed(schedule.layers):
        responder = layer_on_call(layer, schedule.zone, at)
        if responder is not None:
            found = OnCall(responder, layer.name)
            break
    for override in overrides:
        if override.start <= at < override.end and override.replaces in (None, found.responder):
            return OnCall(override.responder, found.layer, override.id)
    return found


def timeline(schedule: Schedule, overrides: Sequence[Override], start: datetime, end: datetime) -> list[Span]:
    """Consecutive spans covering [start, end), each with one responder (None: a gap)."""
    if end <= start:
        return []
    points = {start, end}
    for layer in schedule.layers:
        points.update(_layer_points(layer, schedule.zone, start, end))
    for override in overrides:
        points.update(p for p in (override.start, override.end) if start < p < end)
    spans: list[Span] = []
    ordered = sorted(points)
    for left, right in zip(ordered, ordered[1:], strict=False):
        who = on_call(schedule, overrides, left)
        last = spans[-1] if spans else None
        if last and (last.responder, last.layer, last.override_id) == (
            who.responder,
            who.layer,
            who.override_id,
        ):
            spans[-1] = Span(last.start, right, who.responder, who.layer, who.override_id)
        else:
            spans.append(Span(left, right, who.responder, who.layer, who.override_id))
    return spans


def shifts(spans: Iterable[Span]) -> list[Span]:
    """Spans merged by responder only (layer and override aside): what a person sees as a shift."""
    merged: list[Span] = []
    for span in spans:
        if merged and merged[-1].responder == span.responder and merged[-1].end == span.start:
            previous = merged[-1]
            merged[-1] = Span(previous.start, span.end, span.responder, previous.layer, previous.override_id)
        else:
            merged.append(span)
    return merged


def gaps(spans: Iterable[Span]) -> list[Span]:
    """The stretches with nobody on call."""
    return [span for span in shifts(spans) if span.responder is None]


def handoffs(spans: Sequence[Span]) -> list[Span]:
    """Shifts that begin inside the stretch (the first span is already running, not a handoff)."""
    return [span for span in shifts(spans)[1:] if span.responder is not None]


def overlapping(overrides: Sequence[Override], candidate: Override) -> Override | None:
    """An existing override whose time overlaps the candidate's, if any (they must not overlap)."""
    for override in overrides:
        if override.id != candidate.id and override.start < candidate.end and candidate.start < override.end:
            return override
    return None


def _layer_points(layer: Layer, zone: ZoneInfo, start: datetime, end: datetime) -> set[datetime]:
    """Instants in (start, end) where this layer may change hands: handoffs and restriction edges."""
    points: set[datetime] = set()
    index = shift_index(layer, zone, start)
    index = 0 if index is None else index + 1
    while (moment := handoff_at(layer, zone, index)) < end:
        if moment > start:
            points.add(moment)
        index += 1
    restriction = layer.restriction
    if restriction is not None:
        edges = [time(0, 0)] if restriction.weekdays is not None else []
        if restriction.hours is not None:
            edges += list(restriction.hours)
        day = start.astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date() + timedelta(days=1)
        while day <= last:
            for edge in edges:
                moment = datetime.combine(day, edge, tzinfo=zone).astimezone(UTC)
                if start < moment < end:
                    points.add(moment)
            day += timedelta(days=1)
    return points

"""Configuration of the response side: `[[escalation_policies]]` and recurring `[[maintenance]]`.

Imported by `statuspage.settings`. Channels (`[[channels]]`) are declared by
the notifications configuration; policies refer to them by id.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.checks import ID_PATTERN, Duration

IdRef = Annotated[str, Field(pattern=ID_PATTERN)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


TARGET_PATTERN = r"^(schedule|channel):[a-z0-9][a-z0-9_-]{0,63}$|^user:[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class EscalationLevel(_Section):
    """Who is paged at this level, and how long after the previous level (or the opening).

    `channels` are `[[channels]]` ids; `targets` mix `schedule:<id>` (whoever is
    on call when the level fires), `user:<name>` (a responder) and `channel:<id>`.
    """

    channels: list[IdRef] = Field(default_factory=list, max_length=50)
    targets: list[str] = Field(default_factory=list, max_length=50)
    after: Duration = timedelta(0)

    @field_validator("targets")
    @classmethod
    def _target_form(cls, targets: list[str]) -> list[str]:
        for target in targets:
            if not re.match(TARGET_PATTERN, target):
                raise ValueError(f"{target!r}: a target is schedule:<id>, user:<name> or channel:<id>")
        return targets

    @model_validator(mode="after")
    def _someone(self) -> EscalationLevel:
        if not self.channels and not self.targets:
            raise ValueError("a level pages someone: give channels or targets (schedule:, user:, channel:)")
        return self

    def all_targets(self) -> tuple[str, ...]:
        """Every target of the level in order: its channels first, as `channel:<id>`."""
        return tuple(f"channel:{c}" for c in self.channels) + tuple(self.targets)

    @field_validator("after")
    @classmethod
    def _bounded(cls, after: timedelta) -> timedelta:
        if after > timedelta(days=7):
            raise ValueError("after must be at most 7d")
        return after


class EscalationPolicyConfig(_Section):
    """Ordered levels; an unacknowledged incident climbs one level each time `after` passes.

    After the last level the whole ladder runs again `repeat` times, `repeat_after`
    after the last level; acknowledging (or resolving) stops it.
    """

    id: str = Field(pattern=ID_PATTERN)
    levels: list[EscalationLevel] = Field(min_length=1, max_length=20)
    repeat: int = Field(default=0, ge=0, le=100)
    repeat_after: Duration = timedelta(minutes=30)

    @field_validator("repeat_after")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("repeat_after must be at least 1s")
        return value


class MaintenanceConfig(_Section):
    """A maintenance window from config: recurring (`schedule`, cron) or one-off (`start`)."""

    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=10_000)
    components: list[IdRef] = Field(min_length=1, max_length=1000)
    schedule: str | None = Field(default=None, max_length=200)
    start: datetime | None = None
    duration: Duration
    tz: str = Field(default="UTC", max_length=64)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, schedule: str | None) -> str | None:
        if schedule is not None and not croniter.is_valid(schedule):
            raise ValueError(
                f"invalid cron expression {schedule!r} (five fields: minute hour day month weekday)"
            )
        return schedule

    @field_validator("tz")
    @classmethod
    def _zone(cls, tz: str) -> str:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {tz!r} (use an IANA name like Europe/Berlin)") from None
        return tz

    @field_validator("duration")
    @classmethod
    def _duration(cls, duration: timedelta) -> timedelta:
        if not timedelta(minutes=1) <= duration <= timedelta(days=7):
            raise ValueError("duration must be between 1m and 7d")
        return duration

    @model_validator(mode="after")
    def _one_kind(self) -> MaintenanceConfig:
        if (self.schedule is None) == (self.start is None):
            raise ValueError("give exactly one of schedule (recurring, cron) or start (one-off)")
        return self

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)


def respond_problems(settings: Any, channel_ids: set[str]) -> list[str]:
    """Cross references of policies, maintenance and component options, each naming its key."""
    problems: list[str] = []
    policy_ids: set[str] = set()
    for index, policy in enumerate(settings.escalation_policies):
        if policy.id in policy_ids:
            problems.append(f"escalation_policies[{index}].id: duplicate id {policy.id!r}")
        policy_ids.add(policy.id)
        for level_index, level in enumerate(policy.levels):
            for channel in level.channels:
                if channel not in channel_ids:
                    key = f"escalation_policies[{index}].levels[{level_index}].channels"
                    problems.append(f"{key}: unknown channel {channel!r}")
            key = f"escalation_policies[{index}].levels[{level_index}].targets"
            problems.extend(_target_problems(settings, key, level.targets, channel_ids))
    if settings.default_escalation_policy and settings.default_escalation_policy not in policy_ids:
        problems.append(f"default_escalation_policy: unknown policy {settings.default_escalation_policy!r}")
    component_ids = {c.id for c in settings.components}
    check_ids = {c.id for c in settings.checks}
    seen_windows: set[str] = set()
    for index, window in enumerate(settings.maintenance):
        if window.id in seen_windows:
            problems.append(f"maintenance[{index}].id: duplicate id {window.id!r}")
        seen_windows.add(window.id)
        for component in window.components:
            if component not in component_ids:
                problems.append(f"maintenance[{index}].components: unknown component {component!r}")
    for index, component in enumerate(settings.components):
        if component.escalation_policy and component.escalation_policy not in policy_ids:
            problems.append(
                f"components[{index}].escalation_policy: unknown policy {component.escalation_policy!r}"
            )
        for upstream in component.depends_on:
            if upstream not in component_ids or upstream == component.id:
                problems.append(f"components[{index}].depends_on: unknown component {upstream!r}")
        own_checks = {c.id for c in settings.checks if c.component == component.id}
        for check_id in component.critical_checks:
            if check_id not in own_checks:
                problems.append(
                    f"components[{index}].critical_checks: {check_id!r} is not a check of this component"
                )
    for index, check in enumerate(settings.checks):
        for upstream in check.depends_on:
            if upstream not in check_ids or upstream == check.id:
                problems.append(f"checks[{index}].depends_on: unknown check {upstream!r}")
    if not problems:
        problems.extend(_cycle_problems(settings))
    return problems


def _target_problems(settings: Any, key: str, targets: list[str], channel_ids: set[str]) -> list[str]:
    """`channel:` targets must name a declared channel. `schedule:` and `user:` targets may name a
    schedule or responder made in the admin UI, which the file cannot know:
    `oncall.service.reference_problems` checks them against the merged sets when `serve`,
    `worker` or a reload start, and in doctor."""
    known = {"channel": (channel_ids, "channel", "[[channels]]")}
    problems = []
    for target in targets:
        kind, _, name = target.partition(":")
        if kind not in known:
            continue
        names, noun, section = known[kind]
        if name not in names:
            problems.append(f"{key}: unknown {noun} {name!r} in {target!r} (declare it in {section})")
    return problems


def _cycle_problems(settings: Any) -> list[str]:
    """A dependency cycle would make every member wait for another's incident: refuse it."""
    graph: dict[str, set[str]] = {c.id: set(c.depends_on) for c in settings.components}
    for check in settings.checks:
        if check.component is None:
            continue
        for upstream in check.depends_on:
            owner = next((c.component for c in settings.checks if c.id == upstream), None)
            if owner and owner != check.component:
                graph[check.component].add(owner)
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(node: str) -> bool:
        if node in done:
            return False
        if node in visiting:
            return True
        visiting.add(node)
        cyclic = any(visit(upstream) for upstream in graph.get(node, ()))
        visiting.discard(node)
        done.add(node)
        return cyclic

    for index, component in enumerate(settings.components):
        if visit(component.id):
            return [f"components[{index}].depends_on: dependency cycle through {component.id!r}"]
    return []

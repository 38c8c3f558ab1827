"""`[responses]` and its `[[responses.rules]]`: when the collector asks agents to run an action.

TOML cannot hold both an array `[[responses]]` and a key `responses.enabled`,
so the rules live under the switch: `[responses] enabled = true` and
`[[responses.rules]]`. Imported by `statuspage.settings`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.checks import ID_PATTERN, Duration
from shared.timeutil import format_duration

Selector = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^(\*|agent:.+|label:.+)$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _at_least(value: timedelta, minimum: timedelta, maximum: timedelta, name: str) -> timedelta:
    if not minimum <= value <= maximum:
        raise ValueError(f"{name} must be between {format_duration(minimum)} and {format_duration(maximum)}")
    return value


class ResponseRule(_Section):
    """Ask agents to run one of their declared actions when an incident needs it."""

    id: str = Field(pattern=ID_PATTERN)
    action: str = Field(pattern=ID_PATTERN)
    on: Literal["incident_open", "check_down"] = "incident_open"
    component: str | None = Field(default=None, pattern=ID_PATTERN)
    check: str | None = Field(default=None, pattern=ID_PATTERN)
    down_for: Duration = timedelta(0)
    run_on: list[Selector] = Field(default_factory=list, max_length=100)
    expires_after: Duration = timedelta(minutes=5)
    require_approval: bool = False
    approve_within: Duration = timedelta(minutes=30)
    recheck_after: Duration | None = None
    max_attempts: int = Field(default=1, ge=1, le=10)
    in_maintenance: bool = False
    in_drills: bool = False

    @field_validator("down_for")
    @classmethod
    def _down_for(cls, value: timedelta) -> timedelta:
        return _at_least(value, timedelta(0), timedelta(days=1), "down_for")

    @field_validator("expires_after")
    @classmethod
    def _expires(cls, value: timedelta) -> timedelta:
        return _at_least(value, timedelta(seconds=5), timedelta(hours=24), "expires_after")

    @field_validator("approve_within")
    @classmethod
    def _approve_within(cls, value: timedelta) -> timedelta:
        return _at_least(value, timedelta(minutes=1), timedelta(days=7), "approve_within")

    @field_validator("recheck_after")
    @classmethod
    def _recheck(cls, value: timedelta | None) -> timedelta | None:
        return (
            None
            if value is None
            else _at_least(value, timedelta(seconds=1), timedelta(days=1), "recheck_after")
        )

    @model_validator(mode="after")
    def _coherent(self) -> ResponseRule:
        if (self.component is None) == (self.check is None):
            raise ValueError("give exactly one of component or check")
        if self.on == "check_down" and self.check is None:
            raise ValueError('on = "check_down" needs check')
        if self.max_attempts > 1 and self.recheck_after is None:
            raise ValueError("max_attempts above 1 needs recheck_after (when to look again)")
        return self


class ResponsesConfig(_Section):
    """The global switch and the rules."""

    enabled: bool = True
    rules: list[ResponseRule] = Field(default_factory=list, max_length=1000)


def response_problems(settings: Any) -> list[str]:
    """References of the rules (components, checks, duplicate ids), each naming its key."""
    problems: list[str] = []
    component_ids = {c.id for c in settings.components}
    check_ids = {c.id for c in settings.checks}
    seen: set[str] = set()
    for index, rule in enumerate(settings.responses.rules):
        key = f"responses.rules[{index}]"
        if rule.id in seen:
            problems.append(f"{key}.id: duplicate id {rule.id!r}")
        seen.add(rule.id)
        if rule.component is not None and rule.component not in component_ids:
            problems.append(f"{key}.component: unknown component {rule.component!r}")
        if rule.check is not None:
            check = settings.check(rule.check) if rule.check in check_ids else None
            if check is None:
                problems.append(f"{key}.check: unknown check {rule.check!r}")
            elif check.component is None:
                problems.append(
                    f"{key}.check: check {rule.check!r} belongs to no component (no incident to act on)"
                )
    return problems


def unknown_action_problems(settings: Any, offered: dict[str, list[str]], targets: Any) -> list[str]:
    """Rules whose action no targeted agent offers (knowable once agents have reported their
    actions): `targets(rule)` gives the agent names the rule would ask."""
    problems = []
    for index, rule in enumerate(settings.responses.rules):
        names = [name for name in targets(rule) if name in offered]
        if names and not any(rule.action in offered[name] for name in names):
            offers = sorted({action for name in names for action in offered[name]})
            problems.append(
                f"responses.rules[{index}].action: unknown action {rule.action!r}: no agent the rule targets"
                f" declares it ({', '.join(names)} offer: {', '.join(offers) or 'nothing'})"
            )
    return problems

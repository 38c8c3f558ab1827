"""What every check kind shares: ids, durations, selectors, conditions, and the base model."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WrapValidator,
    field_validator,
    model_validator,
)

from shared.conditions import Condition, parse_condition, parse_conditions
from shared.metric_rules import parse_metric_rule
from shared.thresholds import Threshold, parse_threshold
from shared.timeutil import parse_duration

# Schemas are built on first use, not at import (defer_build): the agent validates checks only
# through the union in `Assignments` and `CHECK_ADAPTER`, so each model's own validator would be
# a second copy it never uses (about 1.3 MB of the agent's 60 MB budget).
MODEL_CONFIG = ConfigDict(extra="forbid", frozen=True, defer_build=True)

ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
SLUG_PATTERN = r"^[a-z0-9_-]{1,100}$"


def _duration(value: Any, handler: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return parse_duration(value)
    raise ValueError("duration must be a string like '30s' or a number of seconds")


# Durations are written "30s" in TOML and travel as seconds on the wire.
Duration = Annotated[
    timedelta,
    WrapValidator(_duration),
    PlainSerializer(lambda d: d.total_seconds(), return_type=float),
]

Selector = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^(\*|agent:.+|label:.+)$")]


class FailureRate(BaseModel):
    """Down at one location when `failures` of its last `window` results failed (e.g. 5 of 10)."""

    model_config = MODEL_CONFIG

    failures: int = Field(ge=1, le=100)
    window: int = Field(ge=1, le=100)

    @model_validator(mode="after")
    def _fits(self) -> FailureRate:
        if self.failures > self.window:
            raise ValueError("failures must not exceed window")
        return self


class CheckBase(BaseModel):
    """Fields every kind shares: identity, schedule, placement and alert thresholds."""

    model_config = MODEL_CONFIG

    id: str = Field(pattern=ID_PATTERN)
    name: str | None = Field(default=None, max_length=200)
    component: str | None = Field(default=None, pattern=ID_PATTERN)
    interval: Duration = timedelta(seconds=60)
    timeout: Duration = timedelta(seconds=10)
    run_on: list[Selector] = Field(default_factory=lambda: ["*"], max_length=100)
    failure_threshold: int = Field(default=2, ge=1, le=100)
    success_threshold: int = Field(default=2, ge=1, le=100)
    quorum: Literal["majority"] | Annotated[int, Field(ge=1, le=1000)] = "majority"
    # Collector-side alerting options (the engine reads them; agents ignore them).
    failure_rate: FailureRate | None = None
    metric_thresholds: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=20
    )
    on_breach: Literal["degraded", "down"] = "degraded"
    depends_on: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field(default_factory=list, max_length=50)

    @field_validator("metric_thresholds")
    @classmethod
    def _metric_rules(cls, rules: list[str]) -> list[str]:
        return [parse_metric_rule(rule).text for rule in rules]

    @model_validator(mode="after")
    def _timeout_below_interval(self) -> CheckBase:
        if self.interval < timedelta(seconds=1):
            raise ValueError("interval must be at least 1s")
        if self.timeout <= timedelta(0):
            raise ValueError("timeout must be positive")
        if self.timeout > self.interval:
            raise ValueError("timeout must not exceed interval")
        return self

    @property
    def display_name(self) -> str:
        return self.name or self.id


def _condition(value: Any) -> Condition:
    if isinstance(value, Condition):
        return value
    if not isinstance(value, str):
        raise ValueError("a condition must be a string like '[STATUS] == 200'")
    return parse_condition(value)


def _threshold(value: Any) -> Threshold:
    return value if isinstance(value, Threshold) else parse_threshold(value)


# Conditions are written as text, parsed once here, and travel as text again.
ConditionText = Annotated[
    Condition,
    PlainValidator(_condition, json_schema_input_type=str),
    PlainSerializer(str, return_type=str),
]
ThresholdText = Annotated[
    Threshold,
    PlainValidator(_threshold, json_schema_input_type=str),
    PlainSerializer(str, return_type=str),
]
Conditions = Annotated[list[ConditionText], Field(default_factory=list, max_length=50)]
Hostname = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9_.:\-\[\]%]+$")]


def _placeholders_allowed(conditions: list[Condition], allowed: frozenset[str]) -> list[Condition]:
    parse_conditions(conditions, allowed)  # raises ConditionError (a ValueError) naming the condition
    return conditions

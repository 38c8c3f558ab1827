"""Check definitions shared by the collector (config, assignments) and the agent (local checks).

A check is declared once, validated once, and travels to agents inside
`Assignments`. Every kind is a pydantic model discriminated by `kind`, so a bad
check is refused with the check id and the field that is wrong.
Adding a kind: a model here, a probe module in `agent/probes/`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
    WrapValidator,
    field_validator,
    model_validator,
)

from shared.metric_rules import parse_metric_rule
from shared.timeutil import parse_duration

ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


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

    model_config = ConfigDict(extra="forbid", frozen=True)

    failures: int = Field(ge=1, le=100)
    window: int = Field(ge=1, le=100)

    @model_validator(mode="after")
    def _fits(self) -> FailureRate:
        if self.failures > self.window:
            raise ValueError("failures must not exceed window")
        return self


class CheckBase(BaseModel):
    """Fields every kind shares: identity, schedule, placement and alert thresholds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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


class HttpCheck(CheckBase):
    """An HTTP(S) request; up when the status is below 400."""

    kind: Literal["http"]
    url: str = Field(max_length=2000)
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, Annotated[str, Field(max_length=4000)]] = Field(default_factory=dict, max_length=50)
    body: str | None = Field(default=None, max_length=100_000)
    follow_redirects: bool = True
    verify_tls: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return url


class TcpCheck(CheckBase):
    """A TCP connect to host:port."""

    kind: Literal["tcp"]
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(ge=1, le=65535)


class HostCheck(CheckBase):
    """Host health read through psutil; each limit is optional (None = not checked)."""

    kind: Literal["host"]
    cpu_percent_max: float | None = Field(default=None, ge=0, le=100)
    memory_percent_max: float | None = Field(default=None, ge=0, le=100)
    disk_percent_max: float | None = Field(default=None, ge=0, le=100)
    mounts: list[Annotated[str, Field(max_length=500)]] = Field(default_factory=lambda: ["/"], max_length=50)


# Adding a kind: add its model to AnyCheck and CHECK_MODELS, and a probe in agent/probes/.
AnyCheck = HttpCheck | TcpCheck | HostCheck
CHECK_MODELS: tuple[type[CheckBase], ...] = (HttpCheck, TcpCheck, HostCheck)
Check = Annotated[AnyCheck, Field(discriminator="kind")]
CHECK_ADAPTER: TypeAdapter[AnyCheck] = TypeAdapter(Check)
KINDS: tuple[str, ...] = tuple(get_args(m.model_fields["kind"].annotation)[0] for m in CHECK_MODELS)


def parse_check(data: Any) -> AnyCheck:
    """Validate one check definition. Raises pydantic.ValidationError."""
    return CHECK_ADAPTER.validate_python(data)


def describe_error(error: ValidationError, prefix: str) -> str:
    """Turn a pydantic error into lines naming the key path, e.g. "checks[2].interval: ..."."""
    lines = []
    for item in error.errors():
        path = prefix
        previous: object = None
        for position, part in enumerate(item["loc"]):
            after_index = position == 0 or isinstance(previous, int)
            previous = part
            if isinstance(part, int):
                path += f"[{part}]"
            elif part in KINDS and after_index:
                continue  # the discriminator tag pydantic inserts is not a key the user wrote
            else:
                path += f".{part}" if path else str(part)
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {message}")
    return "\n".join(lines)

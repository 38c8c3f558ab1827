"""The wire protocol between agent and collector (version 1), as strict pydantic models.

Strict means: unknown fields are refused, NaN and Infinity are refused, every
string and list has a bound. The collector validates every report against
these models before anything is stored; the agent builds reports from them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.checks import ID_PATTERN, Check

PROTOCOL_VERSION = 1
MAX_RESULTS_PER_REPORT = 1000
MAX_METRICS = 64
MAX_DETAIL_KEYS = 32
MAX_DETAIL_VALUE_CHARS = 2000

Status = Literal["up", "down", "degraded"]
MetricName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z_][a-zA-Z0-9_.:/-]*$")]
DetailValue = Annotated[str, Field(max_length=MAX_DETAIL_VALUE_CHARS)] | int | bool | None
AgentName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class _Strict(BaseModel):
    # allow_inf_nan=False makes pydantic itself refuse NaN/Infinity in every float field,
    # dict values (metrics) included: no Python validator on the ingest hot path.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class Result(_Strict):
    """One probe run: what happened, when, how long it took, and its measurements."""

    id: uuid.UUID
    check_id: str = Field(pattern=ID_PATTERN)
    started_at: AwareDatetime
    latency_ms: float = Field(ge=0, le=86_400_000)
    status: Status
    error: str | None = Field(default=None, max_length=1000)
    metrics: dict[MetricName, float] = Field(default_factory=dict, max_length=MAX_METRICS)
    detail: dict[Annotated[str, Field(max_length=64)], DetailValue] = Field(
        default_factory=dict, max_length=MAX_DETAIL_KEYS
    )


class Report(_Strict):
    """A batch of results from one agent. An empty `results` list is a liveness heartbeat."""

    protocol: Literal[1] = 1
    agent: AgentName
    agent_version: str = Field(min_length=1, max_length=40)
    sent_at: AwareDatetime
    results: list[Result] = Field(default_factory=list, max_length=MAX_RESULTS_PER_REPORT)
    # Optional (added compatibly in protocol 1): how many results the agent's spool
    # has dropped under its size cap since the spool was created. Cumulative, so a
    # replayed report cannot count a drop twice; it falls only when a spool is new.
    dropped: int = Field(default=0, ge=0, le=2**53)
    # Optional (added compatibly in protocol 1): results still waiting in the agent's spool
    # after this report's batch (a backlog grows while the collector is unreachable or slow).
    backlog: int = Field(default=0, ge=0, le=2**53)


class ReportAck(_Strict):
    """The collector's answer to a report: which result ids are now safely stored."""

    accepted: int
    duplicates: int
    acknowledged: list[uuid.UUID]


class DrillOrder(BaseModel):
    """Fail this check on purpose until `until` (an incident drill started by an operator)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check_id: str = Field(pattern=ID_PATTERN)
    drill_id: int = Field(ge=1)
    until: AwareDatetime


class ActionOrder(BaseModel):
    """Run the agent's own action `action_id` once, unless `expires_at` has passed.

    `order_id` is a random UUID chosen by the collector: the agent runs each
    order id at most once, across restarts, however often it is sent again.
    The order names an action the agent's owner declared; it carries no
    command line and no arguments (nothing the collector could template).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: uuid.UUID
    action_id: str = Field(pattern=ID_PATTERN)
    expires_at: AwareDatetime


ActionOutcome = Literal["ran", "failed", "refused", "expired", "interrupted"]
MAX_ACTION_OUTPUT_CHARS = 4000


class ActionResult(_Strict):
    """What became of one order on the agent: it ran (with its exit code, even non-zero
    or a timeout), failed to start (command not found), was refused (undeclared action,
    breaker open), had expired, or was interrupted (the agent stopped while it ran;
    it is never run again)."""

    order_id: uuid.UUID
    action_id: str = Field(pattern=ID_PATTERN)
    outcome: ActionOutcome
    exit_code: int | None = Field(default=None, ge=-255, le=255)
    timed_out: bool = False
    duration_s: float | None = Field(default=None, ge=0, le=86_400)
    started_at: AwareDatetime | None = None
    stdout: str = Field(default="", max_length=MAX_ACTION_OUTPUT_CHARS)
    stderr: str = Field(default="", max_length=MAX_ACTION_OUTPUT_CHARS)
    reason: str | None = Field(default=None, max_length=1000)


class Assignments(BaseModel):
    """The checks an agent must run, as the collector's config resolves them for it,
    the drills it must take part in and the actions it is asked to run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    protocol: Literal[1] = 1
    agent: AgentName
    generated_at: datetime
    checks: list[Check] = Field(default_factory=list, max_length=10_000)
    drills: list[DrillOrder] = Field(default_factory=list, max_length=10_000)
    # Added compatibly in protocol 1: the collector leaves the key out when empty,
    # so agents older than remediation actions still accept the document.
    actions: list[ActionOrder] = Field(default_factory=list, max_length=1000)


class ErrorBody(BaseModel):
    """Every 4xx from the collector's JSON APIs has this shape."""

    error: str
    details: list[dict[str, Any]] = Field(default_factory=list)

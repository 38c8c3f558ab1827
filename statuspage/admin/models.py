"""The admin API's request and response models: what handlers validate and what OpenAPI documents.

One set of pydantic models serves three readers: the API handlers parse bodies
with them, the admin UI turns its forms into them, and `openapi.py` emits their
JSON Schema, so the document cannot drift from the code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

ComponentId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
ComponentStatus = Literal[
    "operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"
]
IncidentStatus = Literal["investigating", "identified", "monitoring", "resolved", "postmortem"]
OpenStatus = Literal["investigating", "identified", "monitoring"]
Impact = Literal["none", "minor", "major", "critical"]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Body = Annotated[str, StringConstraints(max_length=20_000)]
Markdown = Annotated[str, StringConstraints(max_length=100_000)]
ShortText = Annotated[str, StringConstraints(max_length=500)]


class _In(BaseModel):
    """Request bodies: unknown keys are an error (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentCreate(_In):
    title: Title
    body: Body = Field(min_length=1)
    status: OpenStatus = "investigating"
    impact: Impact = "minor"
    components: dict[ComponentId, ComponentStatus] = Field(default_factory=dict, max_length=500)
    public: bool = True


class UpdateCreate(_In):
    status: IncidentStatus
    body: Body = Field(min_length=1)
    components: dict[ComponentId, ComponentStatus] | None = Field(default=None, max_length=500)


class ResolveRequest(_In):
    body: Body | None = None


class ImpactChange(_In):
    impact: Impact
    body: Body | None = None


class ComponentsChange(_In):
    components: dict[ComponentId, ComponentStatus] = Field(max_length=500)
    body: Body | None = None


class PostmortemSave(_In):
    markdown: Markdown
    publish: bool = False


class RootCauseSave(_In):
    markdown: Markdown


class MaintenanceCreate(_In):
    title: Title
    body: Body = ""
    scheduled_for: AwareDatetime
    scheduled_until: AwareDatetime
    components: list[ComponentId] = Field(default_factory=list, max_length=500)

    @model_validator(mode="after")
    def _ordered(self) -> MaintenanceCreate:
        if self.scheduled_until <= self.scheduled_for:
            raise ValueError("scheduled_until must be after scheduled_for")
        return self


class MaintenanceChange(_In):
    title: Title | None = None
    body: Body | None = None
    scheduled_for: AwareDatetime | None = None
    scheduled_until: AwareDatetime | None = None
    components: list[ComponentId] | None = Field(default=None, max_length=500)


class OverrideSet(_In):
    status: ComponentStatus
    reason: ShortText = ""


# -- responses -------------------------------------------------------------------------------------


class Error(_Out):
    error: str
    details: list[dict[str, Any]] = Field(default_factory=list)


class Changed(_Out):
    """For idempotent actions: whether this call changed anything."""

    changed: bool


class Created(_Out):
    id: int


class IncidentOut(_Out):
    id: int
    title: str
    status: IncidentStatus
    impact: Impact
    kind: str
    public: bool
    drill: bool
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    components: dict[str, str]


class UpdateOut(_Out):
    id: int
    status: str
    body: str
    created_at: datetime
    actor: str


class EventOut(_Out):
    at: datetime
    actor: str
    kind: str
    data: dict[str, Any]


class IncidentDetail(IncidentOut):
    root_cause: str | None
    postmortem: str | None
    postmortem_published_at: datetime | None
    updates: list[UpdateOut]
    events: list[EventOut]


class IncidentList(_Out):
    incidents: list[IncidentOut]


class MaintenanceOut(_Out):
    id: int
    title: str
    body: str
    status: Literal["scheduled", "in_progress", "completed"]
    scheduled_for: datetime
    scheduled_until: datetime
    started_at: datetime | None
    completed_at: datetime | None
    source: str
    components: list[str]


class MaintenanceList(_Out):
    maintenances: list[MaintenanceOut]


class ComponentOut(_Out):
    id: str
    name: str
    group: str | None
    computed_status: str
    override: ComponentStatus | None
    override_reason: str | None
    status: str


class ComponentList(_Out):
    components: list[ComponentOut]


class AgentOut(_Out):
    name: str
    labels: list[str]  # the labels that select its checks (operator-given, narrowed by its own)
    pending_labels: list[str]  # declared by the agent, waiting for an operator's approval
    last_seen_at: datetime | None
    agent_version: str | None
    clock_skew_s: float | None
    revoked: bool
    # Ids of the remediation actions the host declares (never their command lines);
    # empty when it declares none or has not fetched its assignments yet.
    actions: list[str] = []


class AgentList(_Out):
    agents: list[AgentOut]


class LabelApproval(_In):
    """Which pending labels to approve; all of them when `labels` is left out."""

    labels: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]] | None = Field(
        default=None, max_length=50
    )


class LabelsApproved(_Out):
    approved: list[str]


class AuditOut(_Out):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    client_address: str
    details: dict[str, Any]


class AuditList(_Out):
    entries: list[AuditOut]


class WebhookCreate(_In):
    url: Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$", max_length=2000)]
    components: list[ComponentId] = Field(default_factory=list, max_length=500)
    description: ShortText = ""


class WebhookCreated(_Out):
    id: int
    secret: str


class EmailSubscriberOut(_Out):
    id: int
    email: str
    status: str
    components: list[str]
    created_at: str
    confirmed_at: str | None


class WebhookOut(_Out):
    id: int
    url: str
    origin: str
    status: str
    components: list[str]
    description: str
    created_at: str
    disabled_reason: str | None


class SubscriberList(_Out):
    emails: list[EmailSubscriberOut]
    webhooks: list[WebhookOut]


class ChannelOut(_Out):
    id: str
    kind: str
    name: str
    health: Literal["ok", "failing", "disabled"]
    consecutive_failures: int
    last_error: str | None
    disabled_reason: str | None


class ChannelList(_Out):
    channels: list[ChannelOut]

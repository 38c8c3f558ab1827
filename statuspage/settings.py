"""Collector configuration: the TOML file at `UPWATCH_CONFIG`, overridden by `UPWATCH_*` env.

One typed model holds both the process settings (database, limits) and the
declarations (page, groups, components, checks). Nested keys are overridden
with a double underscore: `UPWATCH_PAGE__NAME="Acme Status"`.
Secrets may also come from files in `$CREDENTIALS_DIRECTORY` (systemd credentials).
Everything is validated at start-up; `load_settings` raises ConfigError with
one line per problem, each naming the key.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from shared.checks import ID_PATTERN, AnyCheck, Check, Duration, HeartbeatCheck, describe_error
from shared.logging_setup import LogFormat, LogLevel
from statuspage.notify.config import (
    ChannelConfig,
    NotifyConfig,
    SmtpConfig,
    SubscriptionsConfig,
    channel_problems,
)
from statuspage.oncall.config import OncallConfig, ResponderConfig, ScheduleConfig, oncall_problems
from statuspage.respond_config import EscalationPolicyConfig, MaintenanceConfig, respond_problems
from statuspage.responses.config import ResponsesConfig, response_problems
from statuspage.weburl import site_url_or_path, web_url

DEFAULT_DATABASE = Path("data/upwatch.db")
# `database = "postgresql://user@host/db"` selects PostgreSQL; anything else is a SQLite file path.
POSTGRES_URL = r"^(postgresql|postgres|postgresql\+psycopg)://[^\s]+$"
PostgresURL = Annotated[str, Field(pattern=POSTGRES_URL, max_length=2000)]


class ConfigError(Exception):
    """The configuration is invalid; str(error) names each bad key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PageConfig(_Section):
    """The public page's identity."""

    name: str = Field(default="Status", min_length=1, max_length=100)
    url: str = Field(default="http://127.0.0.1:8080", max_length=500)
    logo: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=500)
    # Public pages hide check targets, locations' addresses and raw probe errors unless this is true.
    show_check_details: bool = False
    # No result received for this long: the page says its data is stale.
    stale_after: Duration = timedelta(minutes=5)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        # Shown in links, feeds and mails: parsed as browsers parse it (WHATWG), normalised.
        return web_url(url).rstrip("/")

    @field_validator("logo")
    @classmethod
    def _logo_url(cls, logo: str | None, info: ValidationInfo) -> str | None:
        # It lands in <img src>: an http(s) URL, or a path that a browser resolves onto this
        # site (so "/\\evil.example/x.png", which browsers read as //evil.example, is refused).
        if logo is None:
            return None
        base = info.data.get("url") or PageConfig.model_fields["url"].default
        return site_url_or_path(logo, str(base))


class GroupConfig(_Section):
    """A heading on the status page that gathers components."""

    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)


class ComponentConfig(_Section):
    """Something customers recognise ("Public API"), whose status comes from its checks."""

    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=100)
    group: str | None = Field(default=None, pattern=ID_PATTERN)
    description: str | None = Field(default=None, max_length=500)
    sla_target: float | None = Field(default=None, gt=0, le=100)
    # Incident options (statuspage.engine): when an incident opens, who is paged, how it ends.
    incident_on: Literal["degraded_performance", "partial_outage", "major_outage"] = "partial_outage"
    auto_publish: bool = True
    auto_resolve: bool = True
    reopen_cooldown: Duration = timedelta(minutes=15)
    escalation_policy: str | None = Field(default=None, pattern=ID_PATTERN)
    critical_checks: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field(
        default_factory=list, max_length=100
    )
    depends_on: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field(default_factory=list, max_length=100)


class SlaConfig(_Section):
    """How SLA reports are cut and when a fast-burning error budget alerts."""

    tz: str = Field(default="UTC", max_length=64)
    burn_rate_threshold: float = Field(default=14.4, gt=0, le=10_000)
    burn_rate_window: Duration = timedelta(hours=1)
    burn_rate_channels: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field(
        default_factory=list, max_length=50
    )

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, tz: str) -> str:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {tz!r} (use an IANA name like Europe/Berlin)") from None
        return tz


def _networks(values: list[str], key: str) -> list[str]:
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(f"{key}: not an IP address or network: {value!r}") from None
    return values


class SecurityConfig(_Section):
    """Hardening knobs: the SSRF guard's exemptions, which proxy to believe, HSTS."""

    outbound_allow: list[str] = Field(default_factory=list, max_length=100)
    trusted_proxies: list[str] = Field(default_factory=list, max_length=100)
    hsts_max_age: int = Field(default=31_536_000, ge=0, le=63_072_000)

    @field_validator("outbound_allow", "trusted_proxies")
    @classmethod
    def _valid_networks(cls, values: list[str]) -> list[str]:
        return _networks(values, "entry")


class AdminConfig(_Section):
    """Operator sign-in: session lifetime, second factor, login rate limits, cookie flags."""

    session_max_age: Duration = timedelta(hours=12)
    session_idle_timeout: Duration = timedelta(hours=1)
    require_totp: bool = False
    # OWASP's device-cookie scheme: failures count per (account, address) and per device
    # cookie; the per-account count is a far higher backstop for clients without one.
    login_max_failures_per_client: int = Field(default=5, ge=1, le=1000)
    login_max_failures_per_account: int = Field(default=100, ge=1, le=100_000)
    login_max_failures_per_address: int = Field(default=20, ge=1, le=10_000)
    login_device_max_age: Duration = timedelta(days=180)
    login_failure_window: Duration = timedelta(minutes=15)
    cookie_secure: bool | None = None

    @model_validator(mode="after")
    def _coherent(self) -> AdminConfig:
        if self.session_idle_timeout > self.session_max_age:
            raise ValueError("session_idle_timeout must not exceed session_max_age")
        if self.session_max_age > timedelta(days=30):
            raise ValueError("session_max_age: at most 30d")
        if self.login_failure_window < timedelta(seconds=10):
            raise ValueError("login_failure_window: at least 10s")
        return self


class HeartbeatsConfig(_Section):
    """Heartbeat checks created by their first ping (`?create=1`, healthchecks.io's auto-provisioning)."""

    # Off until set: the component auto-created checks belong to (their incidents open there).
    auto_create_component: str | None = Field(default=None, pattern=ID_PATTERN)
    # At most this many may be created (whoever holds the ping key could otherwise fill the database).
    auto_create_limit: int = Field(default=100, ge=0, le=10_000)


class Settings(BaseSettings):
    """Everything the collector runs with; see docs/configuration.md for each key."""

    model_config = SettingsConfigDict(
        env_prefix="UPWATCH_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    database: PostgresURL | Path = DEFAULT_DATABASE
    config: Path | None = None
    secret_key: str | None = Field(default=None, min_length=16, max_length=500)
    max_report_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    stale_after_intervals: float = Field(default=3.0, ge=1.5, le=100)
    raw_retention: Duration = timedelta(days=14)
    minute_rollup_retention: Duration = timedelta(days=7)
    rollup_retention: Duration = timedelta(days=400)
    # An agent silent longer than this opens one "agent offline" incident (operators only).
    offline_after: Duration = timedelta(minutes=3)
    # Agent clocks within this of ours are trusted; beyond it the skew is recorded
    # and results are moved onto our timeline; a result this far in our future is refused.
    clock_skew_tolerance: Duration = timedelta(seconds=10)
    log_format: LogFormat = "text"
    log_level: LogLevel = "INFO"
    page: PageConfig = PageConfig()
    sla: SlaConfig = SlaConfig()
    security: SecurityConfig = SecurityConfig()
    admin: AdminConfig = AdminConfig()
    groups: list[GroupConfig] = Field(default_factory=list, max_length=1000)
    components: list[ComponentConfig] = Field(default_factory=list, max_length=5000)
    checks: list[Check] = Field(default_factory=list, max_length=10_000)
    channels: list[ChannelConfig] = Field(default_factory=list, max_length=1000)
    smtp: SmtpConfig = SmtpConfig()
    notify: NotifyConfig = NotifyConfig()
    subscriptions: SubscriptionsConfig = SubscriptionsConfig()
    escalation_policies: list[EscalationPolicyConfig] = Field(default_factory=list, max_length=1000)
    default_escalation_policy: str | None = Field(default=None, pattern=ID_PATTERN)
    maintenance: list[MaintenanceConfig] = Field(default_factory=list, max_length=1000)
    responders: list[ResponderConfig] = Field(default_factory=list, max_length=1000)
    schedules: list[ScheduleConfig] = Field(default_factory=list, max_length=500)
    oncall: OncallConfig = OncallConfig()
    downtime_grace: Duration = timedelta(minutes=2)
    responses: ResponsesConfig = ResponsesConfig()
    heartbeats: HeartbeatsConfig = HeartbeatsConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file arrives as init kwargs; the environment overrides it.
        return env_settings, init_settings, file_secret_settings

    @field_validator("offline_after", "clock_skew_tolerance")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("must be at least 1s")
        return value

    @model_validator(mode="after")
    def _references(self) -> Settings:
        problems = _reference_problems(self) + _auth_problems(self) + _retention_problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def component(self, component_id: str) -> ComponentConfig | None:
        return next((c for c in self.components if c.id == component_id), None)

    def checks_of(self, component_id: str) -> list[AnyCheck]:
        return [check for check in self.checks if check.component == component_id]

    def check(self, check_id: str) -> AnyCheck | None:
        return self._checks_by_id.get(check_id)

    @cached_property
    def _checks_by_id(self) -> dict[str, AnyCheck]:
        # Ingest looks checks up for every report; a linear scan of 10,000 checks would not do.
        return {c.id: c for c in self.checks}

    def channel(self, channel_id: str) -> ChannelConfig | None:
        return next((c for c in self.channels if c.id == channel_id), None)

    def escalation_policy(self, policy_id: str | None) -> EscalationPolicyConfig | None:
        return next((p for p in self.escalation_policies if p.id == policy_id), None)

    def responder(self, name: str) -> ResponderConfig | None:
        return next((r for r in self.responders if r.name == name), None)

    def schedule(self, schedule_id: str) -> ScheduleConfig | None:
        return next((s for s in self.schedules if s.id == schedule_id), None)


def _reference_problems(settings: Settings) -> list[str]:
    """Duplicate ids and references to things that are not declared, each naming its key."""
    problems: list[str] = []
    for section in ("groups", "components", "checks"):
        seen: set[str] = set()
        for index, item in enumerate(getattr(settings, section)):
            if item.id in seen:
                problems.append(f"{section}[{index}].id: duplicate id {item.id!r}")
            seen.add(item.id)
    group_ids = {g.id for g in settings.groups}
    component_ids = {c.id for c in settings.components}
    for index, component in enumerate(settings.components):
        if component.group is not None and component.group not in group_ids:
            problems.append(f"components[{index}].group: unknown group {component.group!r}")
    slugs: dict[str, str] = {}
    for index, check in enumerate(settings.checks):
        if check.component is not None and check.component not in component_ids:
            problems.append(f"checks[{index}].component: unknown component {check.component!r}")
        slug = check.ping_slug if isinstance(check, HeartbeatCheck) else None
        if slug is not None and slugs.setdefault(slug, check.id) != check.id:
            # healthchecks.io answers 409 for a slug two checks share; a config can refuse it up front.
            problems.append(
                f"checks[{index}].slug: slug {slug!r} is already the slug of check {slugs[slug]!r}"
            )
    auto_component = settings.heartbeats.auto_create_component
    if auto_component is not None and auto_component not in component_ids:
        problems.append(f"heartbeats.auto_create_component: unknown component {auto_component!r}")
    problems.extend(channel_problems(settings.channels, settings.notify))
    problems.extend(respond_problems(settings, {channel.id for channel in settings.channels}))
    problems.extend(response_problems(settings))
    channel_ids = {channel.id for channel in settings.channels}
    problems.extend(oncall_problems(settings, channel_ids))
    for index, channel_id in enumerate(settings.sla.burn_rate_channels):
        if channel_id not in channel_ids:
            problems.append(f"sla.burn_rate_channels[{index}]: unknown channel {channel_id!r}")
    return problems


def _auth_problems(settings: Settings) -> list[str]:
    """Auth settings that are each valid but unsafe together: refuse rather than start half-secure."""
    problems = []
    if settings.page.url.startswith("https://") and settings.admin.cookie_secure is False:
        problems.append("admin.cookie_secure: must not be false when page.url is https (cookies would leak)")
    return problems


def cookie_secure(settings: Settings) -> bool:
    """Whether session cookies carry the Secure flag: explicit setting, else page.url is https."""
    if settings.admin.cookie_secure is not None:
        return settings.admin.cookie_secure
    return settings.page.url.startswith("https://")


def _retention_problems(settings: Settings) -> list[str]:
    """Retention limits: raw results at least a day, hourly and daily rollups at least 400 days."""
    problems = []
    if settings.raw_retention < timedelta(days=1):
        problems.append("raw_retention: must be at least 1d")
    if settings.minute_rollup_retention < timedelta(hours=1):
        problems.append("minute_rollup_retention: must be at least 1h")
    if settings.rollup_retention < timedelta(days=400):
        problems.append("rollup_retention: must be at least 400d (uptime reports look back a year)")
    if settings.page.stale_after < timedelta(seconds=30):
        problems.append("page.stale_after: must be at least 30s")
    return problems


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Read the TOML file named by UPWATCH_CONFIG (if any) and the env; validate everything.

    Raises ConfigError naming every bad key.
    """
    env = os.environ if environ is None else environ
    path_text = overrides.get("config") or env.get("UPWATCH_CONFIG")
    file_data: dict[str, Any] = _read_toml(Path(path_text)) if path_text else {}
    if path_text:
        file_data["config"] = Path(path_text)
    file_data.update(overrides)
    # systemd's LoadCredential= puts secrets in files under $CREDENTIALS_DIRECTORY;
    # a file named like a setting's env variable (upwatch_secret_key) fills it.
    credentials = env.get("CREDENTIALS_DIRECTORY")
    if credentials and "_secrets_dir" not in file_data:
        file_data["_secrets_dir"] = credentials
    try:
        return Settings(**file_data)
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None


def _describe(error: ValidationError) -> str:
    lines = []
    for line in describe_error(error, "").splitlines():
        # Cross-reference problems come back as one model-level error whose
        # message already names keys; strip pydantic's empty location prefix.
        lines.append(line.removeprefix(": "))
    return "\n".join(lines)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"UPWATCH_CONFIG: cannot read {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None

"""Notification configuration: `[[channels]]`, `[smtp]`, `[notify]` and `[subscriptions]`.

Kept in its own module (imported by `statuspage.settings`) so the channel model
can grow per kind without touching the rest of the settings. A channel is an
operator's destination (a team chat, a pager, an on-call mailbox); escalation
policies and `upwatch-statuspage channel test NAME` refer to it by `id`.
Operator-declared destinations are trusted: they may live on private
networks. Self-service subscriber webhooks are not (see `statuspage.netguard`
and `security.outbound_allow`).
"""

from __future__ import annotations

from typing import Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.checks import ID_PATTERN
from statuspage.weburl import web_url

CHANNEL_KINDS = ("log", "webhook", "apprise", "email")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def valid_address(address: str, public: bool = True) -> str:
    """Return the normalized address; raise ValueError saying what is wrong with it.

    `public` (the subscribe form): only globally deliverable domains. Operators'
    addresses in the config may use internal names (`oncall@ops.internal`, `.test`).
    No DNS lookups: validation must not depend on the network.
    """
    try:
        if public:
            return validate_email(address, check_deliverability=False).normalized
        return validate_email(
            address, check_deliverability=False, globally_deliverable=False, test_environment=True
        ).normalized
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None


class ChannelConfig(_Section):
    """One operator destination. Fields beyond `id` and `kind` depend on the kind:

    - log: nothing more (a line in the worker's log; useful as a fallback and in demos)
    - webhook: `url`, optional `secret` (Standard Webhooks `whsec_...`; signs when set)
    - apprise: `url` (any apprise URL: slack://, msteams://, discord://, tgram://, json:// ...)
    - email: `to` (addresses; sent through `[smtp]`)
    """

    id: str = Field(pattern=ID_PATTERN)
    kind: Literal["log", "webhook", "apprise", "email"]
    name: str | None = Field(default=None, max_length=100)
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    secret: str | None = Field(default=None, min_length=16, max_length=500)
    to: list[str] = Field(default_factory=list, max_length=100)

    @field_validator("to")
    @classmethod
    def _addresses(cls, addresses: list[str]) -> list[str]:
        return [valid_address(address, public=False) for address in addresses]

    @model_validator(mode="after")
    def _fields_of_kind(self) -> ChannelConfig:
        if self.kind in ("webhook", "apprise") and not self.url:
            raise ValueError(f"url is required for a {self.kind} channel")
        if self.kind == "webhook":
            try:
                web_url(str(self.url), allow_credentials=True)  # as a WHATWG parser reads it
            except ValueError as error:
                raise ValueError(f"url of a webhook channel {error}") from None
        if self.kind == "apprise" and "://" not in str(self.url):
            raise ValueError("url of an apprise channel must be an apprise URL like slack://...")
        if self.kind == "email" and not self.to:
            raise ValueError("to is required for an email channel (one or more addresses)")
        if self.secret is not None and self.kind != "webhook":
            raise ValueError("secret applies only to webhook channels")
        if self.secret is not None and not self.secret.startswith("whsec_"):
            raise ValueError("secret must be a Standard Webhooks secret: 'whsec_' + base64")
        return self

    @property
    def label(self) -> str:
        return self.name or self.id


class SmtpConfig(_Section):
    """The mail relay every email (subscribers and email channels) goes through."""

    host: str | None = Field(default=None, min_length=1, max_length=255)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = Field(default=None, max_length=255)
    password: str | None = Field(default=None, max_length=500)
    from_address: str = Field(default="status@localhost", max_length=320)
    from_name: str | None = Field(default=None, max_length=100)
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    max_connections: int = Field(default=4, ge=1, le=64)
    ca_file: str | None = Field(default=None, max_length=500)
    # AUTH over security = "none" sends the password in clear: only when said explicitly.
    allow_unencrypted_auth: bool = False

    @field_validator("from_address")
    @classmethod
    def _from(cls, address: str) -> str:
        # "status@localhost" has no dot in the domain; allow it for local relays.
        if address.endswith("@localhost"):
            return address
        return valid_address(address, public=False)

    @model_validator(mode="after")
    def _credentials_pair(self) -> SmtpConfig:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        if self.username is not None and self.security == "none" and not self.allow_unencrypted_auth:
            raise ValueError(
                'username: security = "none" would send the password unencrypted; use "starttls" or'
                ' "tls", or set smtp.allow_unencrypted_auth = true for a relay on a trusted network'
            )
        return self


class NotifyConfig(_Section):
    """How the worker delivers the outbox."""

    concurrency: int = Field(default=50, ge=1, le=1000)
    request_timeout_s: float = Field(default=10.0, gt=0, le=120)
    max_attempts: int = Field(default=12, ge=1, le=100)
    backoff_base_s: float = Field(default=30.0, gt=0, le=3600)
    backoff_max_s: float = Field(default=3600.0, gt=0, le=86400)
    lease_s: float = Field(default=120.0, ge=2, le=3600)
    disable_after_s: float = Field(default=86400.0, ge=60, le=30 * 86400)
    operator_channel: str | None = Field(default=None, pattern=ID_PATTERN)
    templates_dir: str | None = Field(default=None, max_length=500)


class SubscriptionsConfig(_Section):
    """Public self-service subscriptions at `/subscribe`."""

    email: bool = True
    webhooks: bool = True
    per_client_per_hour: int = Field(default=10, ge=1, le=10_000)
    per_email_per_day: int = Field(default=3, ge=1, le=100)
    confirm_within_s: float = Field(default=172800.0, ge=600, le=30 * 86400)


def channel_problems(channels: list[ChannelConfig], notify: NotifyConfig) -> list[str]:
    """Duplicate channel ids and an operator_channel that names no channel."""
    problems: list[str] = []
    seen: set[str] = set()
    for index, channel in enumerate(channels):
        if channel.id in seen:
            problems.append(f"channels[{index}].id: duplicate id {channel.id!r}")
        seen.add(channel.id)
    if notify.operator_channel is not None and notify.operator_channel not in seen:
        problems.append(f"notify.operator_channel: unknown channel {notify.operator_channel!r}")
    return problems

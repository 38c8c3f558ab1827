"""Mail kinds: smtp, imap and pop3 (greeting, capabilities, STARTTLS or implicit TLS, certificate)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from shared.checks.common import (
    CheckBase,
    Conditions,
    Hostname,
    _placeholders_allowed,
)
from shared.conditions import Condition

MAIL_PORTS: dict[str, dict[str, int]] = {
    "smtp": {"starttls": 25, "implicit": 465, "none": 25},
    "imap": {"starttls": 143, "implicit": 993, "none": 143},
    "pop3": {"starttls": 110, "implicit": 995, "none": 110},
}


class MailCheck(CheckBase):
    """A mail server (SMTP, IMAP or POP3): greeting, capabilities, TLS by STARTTLS or from the
    first byte, and the certificate (chain, host name, days to expiry)."""

    host: Hostname
    port: int | None = Field(default=None, ge=1, le=65535)
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    server_name: str | None = Field(default=None, min_length=1, max_length=253)
    verify_tls: bool = True
    ca_file: str | None = Field(default=None, min_length=1, max_length=1000)
    min_days_left: float = Field(default=14.0, ge=0, le=3650)
    conditions: Conditions

    ALLOWED: ClassVar[frozenset[str]] = frozenset(
        {"BANNER", "CAPABILITIES", "CERTIFICATE_EXPIRATION", "RESPONSE_TIME", "CONNECTED"}
    )

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)

    @model_validator(mode="after")
    def _plain_has_no_certificate(self) -> MailCheck:
        if self.tls == "none" and any(c.placeholder == "CERTIFICATE_EXPIRATION" for c in self.conditions):
            raise ValueError('conditions: [CERTIFICATE_EXPIRATION] needs tls = "starttls" or "implicit"')
        return self

    @property
    def effective_port(self) -> int:
        kind: str = getattr(self, "kind")  # noqa: B009 - every subclass declares its own literal
        return self.port or MAIL_PORTS[kind][self.tls]


class SmtpCheck(MailCheck):
    """SMTP (RFC 5321): 220 greeting, EHLO extensions, STARTTLS (RFC 3207) or implicit TLS (RFC 8314)."""

    kind: Literal["smtp"]
    helo_name: str = Field(
        default="upwatch-agent", min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.\-]+$"
    )


class ImapCheck(MailCheck):
    """IMAP (RFC 9051): OK greeting, CAPABILITY, STARTTLS or implicit TLS."""

    kind: Literal["imap"]


class Pop3Check(MailCheck):
    """POP3 (RFC 1939): +OK greeting, CAPA (RFC 2449), STLS (RFC 2595) or implicit TLS."""

    kind: Literal["pop3"]

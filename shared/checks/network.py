"""Network kinds: tcp, icmp, dns and tls."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Annotated, ClassVar, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from shared.checks.common import (
    CheckBase,
    Conditions,
    Duration,
    Hostname,
    _placeholders_allowed,
)
from shared.conditions import Condition


class TcpCheck(CheckBase):
    """A TCP connect to host:port; optionally send a line and expect text in the answer."""

    kind: Literal["tcp"]
    host: Hostname
    port: int = Field(ge=1, le=65535)
    send: str | None = Field(default=None, max_length=10_000)
    expect: str | None = Field(default=None, min_length=1, max_length=10_000)
    conditions: Conditions

    ALLOWED: ClassVar[frozenset[str]] = frozenset({"CONNECTED", "RESPONSE_TIME", "BODY", "IP"})

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)


class IcmpCheck(CheckBase):
    """ICMP echo (ping): packet loss and round-trip times."""

    kind: Literal["icmp"]
    host: Hostname
    count: int = Field(default=3, ge=1, le=100)
    packet_interval: Duration = timedelta(milliseconds=200)
    packet_timeout: Duration = timedelta(seconds=2)
    max_packet_loss_percent: float = Field(default=20.0, ge=0, le=100)
    conditions: Conditions

    ALLOWED: ClassVar[frozenset[str]] = frozenset({"CONNECTED", "RESPONSE_TIME", "IP"})

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)

    @model_validator(mode="after")
    def _fits_in_timeout(self) -> IcmpCheck:
        # Linux refuses intervals below 200 ms to users without CAP_NET_ADMIN (ping(8)).
        if self.packet_interval < timedelta(milliseconds=200):
            raise ValueError("packet_interval must be at least 200ms")
        needed = self.packet_interval * (self.count - 1) + self.packet_timeout
        if needed > self.timeout:
            raise ValueError(
                f"count x packet_interval + packet_timeout ({needed.total_seconds():g}s) must fit in timeout"
            )
        return self


DNS_RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS")


class DnsCheck(CheckBase):
    """Resolve a name with the system's name server or a given one; optionally expect values."""

    kind: Literal["dns"]
    query: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9_.\-]+$")
    record_type: Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS"] = "A"
    server: str | None = Field(default=None, max_length=45)
    server_port: int = Field(default=53, ge=1, le=65535)
    expect: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=50
    )
    conditions: Conditions

    ALLOWED: ClassVar[frozenset[str]] = frozenset({"DNS_RCODE", "BODY", "RESPONSE_TIME", "IP"})

    @field_validator("server")
    @classmethod
    def _ip_address(cls, server: str | None) -> str | None:
        if server is not None:
            try:
                ipaddress.ip_address(server)
            except ValueError:
                raise ValueError("server must be an IP address (the name server to ask)") from None
        return server

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)


class TlsCheck(CheckBase):
    """Any TLS service: certificate chain, host name, days to expiry; STARTTLS for SMTP."""

    kind: Literal["tls"]
    host: Hostname
    port: int = Field(default=443, ge=1, le=65535)
    server_name: str | None = Field(default=None, min_length=1, max_length=253)
    starttls: Literal["smtp"] | None = None
    min_days_left: float = Field(default=14.0, ge=0, le=3650)
    ca_file: str | None = Field(default=None, max_length=1000)
    conditions: Conditions

    ALLOWED: ClassVar[frozenset[str]] = frozenset({"CERTIFICATE_EXPIRATION", "RESPONSE_TIME", "CONNECTED"})

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)

"""Protocol kinds: ssh, udp, websocket and grpc."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

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

FINGERPRINT_PATTERN = r"^SHA256:[A-Za-z0-9+/]{43}=?$"


class SshCheck(CheckBase):
    """An SSH server: its version banner, and optionally a pinned host key fingerprint
    (`SHA256:...` as `ssh-keygen -lf` prints it); a different key is down."""

    kind: Literal["ssh"]
    host: Hostname
    port: int = Field(default=22, ge=1, le=65535)
    host_key_fingerprint: str | None = Field(default=None, pattern=FINGERPRINT_PATTERN)
    conditions: Conditions

    ALLOWED: ClassVar[frozenset[str]] = frozenset({"BANNER", "RESPONSE_TIME", "CONNECTED"})

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)


class UdpCheck(CheckBase):
    """Send one datagram, wait for the answer; up when it contains `expect` (or any answer
    when there is no `expect`) and the conditions hold."""

    kind: Literal["udp"]
    host: Hostname
    port: int = Field(ge=1, le=65535)
    send: str | None = Field(default=None, max_length=8000)
    send_hex: str | None = Field(default=None, max_length=16000, pattern=r"^([0-9a-fA-F]{2})*$")
    expect: str | None = Field(default=None, min_length=1, max_length=8000)
    expect_hex: str | None = Field(
        default=None, min_length=2, max_length=16000, pattern=r"^([0-9a-fA-F]{2})+$"
    )
    conditions: Conditions

    ALLOWED: ClassVar[frozenset[str]] = frozenset({"BODY", "RESPONSE_TIME", "IP"})

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)

    @model_validator(mode="after")
    def _one_payload(self) -> UdpCheck:
        if self.send is not None and self.send_hex is not None:
            raise ValueError("give send or send_hex, not both")
        if self.send is None and self.send_hex is None:
            raise ValueError("give send (text) or send_hex: UDP servers answer a datagram, not a connection")
        if self.expect is not None and self.expect_hex is not None:
            raise ValueError("give expect or expect_hex, not both")
        return self

    @property
    def payload(self) -> bytes:
        return bytes.fromhex(self.send_hex) if self.send_hex is not None else (self.send or "").encode()

    @property
    def expected(self) -> bytes | None:
        if self.expect_hex is not None:
            return bytes.fromhex(self.expect_hex)
        return None if self.expect is None else self.expect.encode()


class WebSocketCheck(CheckBase):
    """A WebSocket (RFC 6455) handshake on ws:// or wss://; optionally send a message and
    expect a reply containing `expect`; conditions on the reply."""

    kind: Literal["websocket"]
    url: str = Field(max_length=2000)
    headers: dict[str, Annotated[str, Field(max_length=4000)]] = Field(default_factory=dict, max_length=50)
    send: str | None = Field(default=None, max_length=100_000)
    expect: str | None = Field(default=None, min_length=1, max_length=10_000)
    verify_tls: bool = True
    ca_file: str | None = Field(default=None, min_length=1, max_length=1000)
    max_message_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    conditions: Conditions

    ALLOWED: ClassVar[frozenset[str]] = frozenset({"BODY", "RESPONSE_TIME", "CONNECTED"})

    @field_validator("url")
    @classmethod
    def _ws_url(cls, url: str) -> str:
        if not url.startswith(("ws://", "wss://")):
            raise ValueError("url must start with ws:// or wss://")
        return url

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)

    @property
    def waits_for_reply(self) -> bool:
        return self.expect is not None or any(c.placeholder == "BODY" for c in self.conditions)


class GrpcCheck(CheckBase):
    """The standard gRPC health protocol (grpc.health.v1.Health/Check); up when the answer is
    SERVING (or, when a condition tests [GRPC_STATUS], when the conditions hold)."""

    kind: Literal["grpc"]
    host: Hostname
    port: int = Field(ge=1, le=65535)
    service: str = Field(default="", max_length=500)
    tls: bool = False
    # The name the server sees instead of host: TLS SNI and the certificate's name, and :authority.
    server_name: str | None = Field(default=None, min_length=1, max_length=253, pattern=r"^[A-Za-z0-9_.\-]+$")
    verify_tls: bool = True
    ca_file: str | None = Field(default=None, min_length=1, max_length=1000)
    conditions: Conditions

    ALLOWED: ClassVar[frozenset[str]] = frozenset({"GRPC_STATUS", "RESPONSE_TIME", "CONNECTED"})

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)

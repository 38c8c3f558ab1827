"""Check definitions shared by the collector (config, assignments) and the agent (local checks).

A check is declared once, validated once, and travels to agents inside
`Assignments`. Every kind is a pydantic model discriminated by `kind`, so a bad
check is refused with the check id and the field that is wrong.
Adding a kind: a model here, a probe module in `agent/probes/`.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    SecretStr,
    TypeAdapter,
    ValidationError,
    WrapValidator,
    field_validator,
    model_validator,
)

from shared.conditions import Condition, Subject, parse_condition, parse_conditions, parse_value
from shared.metric_rules import parse_metric_rule
from shared.thresholds import Threshold, parse_threshold
from shared.timeutil import parse_duration

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


# Secrets a check names and the agent reads (http headers and bodies, database passwords, SNMP keys).
SECRET_ENV_PREFIX = "UPWATCH_SECRET_"


class SecretSource(BaseModel):
    """A secret the agent reads itself: from its environment, or a file in its credentials
    directory (`$CREDENTIALS_DIRECTORY`, as systemd's `LoadCredential=` provides)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = Field(default=None, max_length=128)
    credential: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")

    @field_validator("env")
    @classmethod
    def _secret_variable(cls, env: str | None) -> str | None:
        # A check from the collector names what the agent reads: only variables set aside for
        # checks, so a tampered assignment cannot send the agent's other environment anywhere.
        if env is not None and not re.fullmatch(rf"{SECRET_ENV_PREFIX}[A-Za-z0-9_]{{1,100}}", env):
            raise ValueError(
                f"must name a variable starting with {SECRET_ENV_PREFIX}, e.g. {SECRET_ENV_PREFIX}PG"
            )
        return env

    @field_validator("credential")
    @classmethod
    def _not_the_token(cls, credential: str | None) -> str | None:
        if credential == "token":
            raise ValueError(
                "'token' is the agent's collector token; give the check's secret its own credential"
            )
        return credential

    @model_validator(mode="after")
    def _one_source(self) -> SecretSource:
        if (self.env is None) == (self.credential is None):
            raise ValueError("give exactly one of env (a variable name) or credential (a file name)")
        return self

    def __str__(self) -> str:
        return f"environment variable {self.env}" if self.env else f"credential {self.credential}"


def _secret(value: Any) -> SecretStr | SecretSource:
    if isinstance(value, SecretStr | SecretSource):
        return value
    if isinstance(value, str):
        if not 1 <= len(value) <= 1000:
            raise ValueError("a secret must have 1 to 1000 characters")
        return SecretStr(value)
    if isinstance(value, dict):
        try:
            return SecretSource.model_validate(value)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            reason = first["msg"].removeprefix("Value error, ")
            raise ValueError(f"{where}: {reason}" if where else reason) from None
    raise ValueError('give the secret as text, { env = "UPWATCH_SECRET_..." } or { credential = "name" }')


def _secret_out(secret: SecretStr | SecretSource) -> Any:
    # An inline secret travels as its value to the agent that needs it; repr and logs show ***.
    return (
        secret.get_secret_value() if isinstance(secret, SecretStr) else secret.model_dump(exclude_none=True)
    )


Secret = Annotated[
    SecretStr | SecretSource,
    PlainValidator(_secret, json_schema_input_type=str | dict[str, str]),
    PlainSerializer(_secret_out),
]

HTTP_PLACEHOLDERS = frozenset(
    {"STATUS", "RESPONSE_TIME", "BODY", "HEADER", "CERTIFICATE_EXPIRATION", "CONNECTED", "IP"}
)


VARIABLE_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,63})\}")
STORE_SOURCES = frozenset({"BODY", "HEADER", "STATUS"})


def _store_expression(value: Any) -> Subject:
    if not isinstance(value, str):
        raise ValueError(
            "a stored value is named like '[BODY].access_token', '[HEADER].location' or '[STATUS]'"
        )
    subject = parse_value(value)
    if subject.placeholder not in STORE_SOURCES:
        raise ValueError(f"{value!r}: store takes [BODY], [BODY].path, [HEADER].name or [STATUS]")
    return subject


StoreExpression = Annotated[
    Subject,
    PlainValidator(_store_expression, json_schema_input_type=str),
    PlainSerializer(lambda subject: subject.text, return_type=str),
]


class HttpStep(BaseModel):
    """One request of an HTTP suite; `store` keeps values of its response for later steps,
    which use them as `{name}` in their url, headers and body."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    url: str = Field(max_length=2000)
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, Annotated[str, Field(max_length=4000)]] = Field(default_factory=dict, max_length=50)
    body: str | None = Field(default=None, max_length=100_000)
    conditions: Conditions
    keyword: str | None = Field(default=None, min_length=1, max_length=1000)
    forbidden_keyword: str | None = Field(default=None, min_length=1, max_length=1000)
    store: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")], StoreExpression] = Field(
        default_factory=dict, max_length=20
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return url

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, HTTP_PLACEHOLDERS)

    def variables(self) -> set[str]:
        """The `{name}`s its url, headers and body use."""
        texts = [self.url, self.body or "", *self.headers.values()]
        return {name for text in texts for name in VARIABLE_RE.findall(text)}


def _suite_problems(check: HttpCheck) -> list[str]:
    """What is wrong with a suite: fields that belong on the steps, variables used before they are stored."""
    problems = []
    if check.url is not None:
        problems.append("url: give url or steps, not both (each step has its own url)")
    for field_name in ("body", "keyword", "forbidden_keyword"):
        if getattr(check, field_name) is not None:
            problems.append(f"{field_name}: set it on the steps of a suite")
    if check.conditions:
        problems.append("conditions: set them on the steps of a suite")
    if check.method != "GET":
        problems.append("method: set it on the steps of a suite")
    names: set[str] = set()
    stored: set[str] = set(check.secrets)
    for index, step in enumerate(check.steps):
        if step.name in names:
            problems.append(f"steps[{index}].name: duplicate step name {step.name!r}")
        names.add(step.name)
        for variable in sorted(step.variables() - stored):
            problems.append(f"steps[{index}]: {{{variable}}} is not stored by an earlier step (nor a secret)")
        stored |= set(step.store)
    return problems


class HttpCheck(CheckBase):
    """An HTTP(S) request; up when the status is below 400 (unless a condition tests [STATUS])
    and every condition holds. With `steps`, a suite: requests in order, values of one response
    stored for the next, down at the first failing step."""

    kind: Literal["http"]
    url: str | None = Field(default=None, max_length=2000)
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, Annotated[str, Field(max_length=4000)]] = Field(default_factory=dict, max_length=50)
    body: str | None = Field(default=None, max_length=100_000)
    follow_redirects: bool = True
    max_redirects: int = Field(default=10, ge=0, le=50)
    verify_tls: bool = True
    ca_file: str | None = Field(default=None, min_length=1, max_length=1000)
    conditions: Conditions
    keyword: str | None = Field(default=None, min_length=1, max_length=1000)
    forbidden_keyword: str | None = Field(default=None, min_length=1, max_length=1000)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    steps: list[HttpStep] = Field(default_factory=list, max_length=20)
    # Values for {name} in the url, headers and body (and a suite's steps), read on the agent.
    secrets: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")], Secret] = Field(
        default_factory=dict, max_length=20
    )

    ALLOWED: ClassVar[frozenset[str]] = HTTP_PLACEHOLDERS

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return url

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)

    @model_validator(mode="after")
    def _url_or_steps(self) -> HttpCheck:
        if self.steps:
            problems = _suite_problems(self)
            if problems:
                raise ValueError("\n".join(problems))
        elif self.url is None:
            raise ValueError("url: give the url to request (or steps, for a suite)")
        return self


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


# ---------------------------------------------------------------- issue 17a kinds
# smtp imap pop3 ssh udp websocket grpc (and http suites, in HttpCheck above).

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
    verify_tls: bool = True
    ca_file: str | None = Field(default=None, min_length=1, max_length=1000)
    conditions: Conditions

    ALLOWED: ClassVar[frozenset[str]] = frozenset({"GRPC_STATUS", "RESPONSE_TIME", "CONNECTED"})

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)


KINDS_17A: tuple[type[CheckBase], ...] = (
    SmtpCheck,
    ImapCheck,
    Pop3Check,
    SshCheck,
    UdpCheck,
    WebSocketCheck,
    GrpcCheck,
)


class ProcessMatch(BaseModel):
    """A process that must run: by exact name, or by a glob over its command line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    cmdline: str | None = Field(default=None, min_length=1, max_length=1000)
    min_count: int = Field(default=1, ge=1, le=10_000)

    @model_validator(mode="after")
    def _one_matcher(self) -> ProcessMatch:
        if (self.name is None) == (self.cmdline is None):
            raise ValueError("give exactly one of name or cmdline")
        return self

    @property
    def label(self) -> str:
        return self.name if self.name is not None else f"cmdline {self.cmdline}"


class HostCheck(CheckBase):
    """Host health read through psutil; each limit is optional (None = not checked)."""

    kind: Literal["host"]
    cpu_percent_max: float | None = Field(default=None, ge=0, le=100)
    memory_percent_max: float | None = Field(default=None, ge=0, le=100)
    swap_percent_max: float | None = Field(default=None, ge=0, le=100)
    load_per_core_max: float | None = Field(default=None, ge=0, le=1000)
    disk_percent_max: float | None = Field(default=None, ge=0, le=100)
    inodes_percent_max: float | None = Field(default=None, ge=0, le=100)
    mounts: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=lambda: ["/"], min_length=1, max_length=20
    )
    thresholds: list[ThresholdText] = Field(default_factory=list, max_length=50)
    processes: list[ProcessMatch] = Field(default_factory=list, max_length=50)
    min_uptime: Duration | None = None

    @field_validator("mounts")
    @classmethod
    def _mounts(cls, mounts: list[str]) -> list[str]:
        for mount in mounts:
            if mount != "*" and not mount.startswith("/"):
                raise ValueError(f"mount {mount!r} must be an absolute path or '*' (every real filesystem)")
        return mounts


class FileCheck(CheckBase):
    """A file (or the newest file matching a glob in a directory) must exist, be fresh and big enough."""

    kind: Literal["file"]
    path: str = Field(min_length=1, max_length=4000)
    glob: str | None = Field(default=None, min_length=1, max_length=500)
    max_age: Duration | None = None
    min_size: int | None = Field(default=None, ge=0)

    @field_validator("path")
    @classmethod
    def _absolute(cls, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError("path must be absolute")
        return path

    @field_validator("glob")
    @classmethod
    def _plain_glob(cls, glob: str | None) -> str | None:
        if glob is not None and ("/" in glob or glob in (".", "..")):
            raise ValueError("glob matches file names inside path; it must not contain '/'")
        return glob


class CommandCheck(CheckBase):
    """Run an argv (never through a shell) under the timeout; exit status 0 is up."""

    kind: Literal["command"]
    argv: list[Annotated[str, Field(max_length=4000)]] = Field(min_length=1, max_length=200)
    cwd: str | None = Field(default=None, max_length=4000)
    env: dict[str, Annotated[str, Field(max_length=4000)]] = Field(default_factory=dict, max_length=100)
    output_lines: int = Field(default=20, ge=0, le=200)

    @field_validator("argv")
    @classmethod
    def _program(cls, argv: list[str]) -> list[str]:
        if not argv[0]:
            raise ValueError("argv[0] (the program) must not be empty")
        return argv


class HeartbeatCheck(CheckBase):
    """Pushed, not probed: a job pings the collector; late or failed pings make it down.

    Evaluated by the collector only (never assigned to agents). `interval` is
    derived (period or the longest gap of the cron schedule, plus grace) so a
    quiet but healthy heartbeat never counts as "no data".
    """

    kind: Literal["heartbeat"]
    period: Duration | None = None
    schedule: str | None = Field(default=None, min_length=1, max_length=200)
    tz: str = Field(default="UTC", max_length=64)
    grace: Duration = timedelta(hours=1)
    # healthchecks.io's slug characters; /ping/<ping-key>/<slug> finds the check by it.
    slug: str | None = Field(default=None, pattern=SLUG_PATTERN)
    failure_threshold: int = Field(default=1, ge=1, le=100)
    success_threshold: int = Field(default=1, ge=1, le=100)

    @property
    def ping_slug(self) -> str | None:
        """The slug of its slug URL: `slug`, else the id when the id is made of slug characters."""
        if self.slug is not None:
            return self.slug
        return self.id if re.match(SLUG_PATTERN, self.id) else None

    @model_validator(mode="before")
    @classmethod
    def _derive_interval(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        derived = _heartbeat_span(data)
        given = data.get("interval")
        if derived is not None:
            if given is not None and _duration(given, None) != derived:
                raise ValueError("interval: not used by heartbeat checks; set period or schedule (and grace)")
            data["interval"] = derived
        return data

    @field_validator("schedule")
    @classmethod
    def _cron(cls, schedule: str | None) -> str | None:
        return None if schedule is None else validate_cron(schedule)

    @field_validator("tz")
    @classmethod
    def _zone(cls, tz: str) -> str:
        validate_timezone(tz)
        return tz

    @model_validator(mode="after")
    def _schedule(self) -> HeartbeatCheck:
        if (self.period is None) == (self.schedule is None):
            raise ValueError("give exactly one of period (e.g. '1d') or schedule (a cron expression)")
        if self.period is not None and self.period < timedelta(minutes=1):
            raise ValueError("period must be at least 1m")
        return self


def _heartbeat_span(data: dict[str, Any]) -> timedelta | None:
    """period (or the cron schedule's longest gap) + grace; None when the fields are invalid
    (their own validators then say why)."""
    try:
        grace = _duration(data.get("grace", timedelta(hours=1)), None)
        if data.get("period") is not None and data.get("schedule") is None:
            return _duration(data["period"], None) + grace
        if data.get("schedule") is not None and data.get("period") is None:
            zone = validate_timezone(data.get("tz", "UTC"))
            return cron_longest_gap(validate_cron(data["schedule"]), zone) + grace
    except ValueError:
        return None
    return None


def validate_cron(expression: Any) -> str:
    """A standard five-field cron expression. Raises ValueError saying what is wrong."""
    if not isinstance(expression, str):
        raise ValueError("schedule must be a cron expression string like '0 3 * * *'")
    from croniter import croniter  # imported on use: agents rarely need it

    fields = expression.split()
    if len(fields) != 5 or not croniter.is_valid(expression):
        raise ValueError(f"schedule {expression!r} is not a valid five-field cron expression")
    return " ".join(fields)


def validate_timezone(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"tz {name!r} is not a known time zone (e.g. 'Europe/Berlin')") from None


def cron_longest_gap(expression: str, zone: ZoneInfo, samples: int = 64) -> timedelta:
    """The longest time between two consecutive runs over the next `samples` runs."""
    from croniter import croniter

    base = datetime(2026, 1, 1, tzinfo=zone)
    times = croniter(expression, base)
    previous = times.get_next(datetime)
    longest = timedelta(0)
    for _ in range(samples):
        current = times.get_next(datetime)
        longest = max(longest, current - previous)
        previous = current
    return longest


# ---------------------------------------------------------------------------- service kinds
# Databases, SNMP, domains and containers (issue 17b). Each kind's library is an optional
# extra the agent imports only when such a check runs; secrets may stay on the agent.


DATABASE_ALLOWED = frozenset({"RESULT", "ROWS", "RESPONSE_TIME", "CONNECTED"})
DatabaseName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")]
UserName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")]
Query = Annotated[str, Field(min_length=1, max_length=10_000)]


class PostgresqlCheck(CheckBase):
    """Connect to PostgreSQL (psycopg 3), log in, run one query in a read-only transaction."""

    kind: Literal["postgresql"]
    host: Hostname
    port: int = Field(default=5432, ge=1, le=65535)
    user: UserName
    password: Secret | None = None
    database: DatabaseName | None = None
    query: Query = "SELECT 1"
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    conditions: Conditions

    ALLOWED: ClassVar[frozenset[str]] = DATABASE_ALLOWED

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)


class MysqlCheck(CheckBase):
    """Connect to MySQL or MariaDB (aiomysql), log in, run one query in a read-only transaction."""

    kind: Literal["mysql"]
    host: Hostname
    port: int = Field(default=3306, ge=1, le=65535)
    user: UserName
    password: Secret | None = None
    database: DatabaseName | None = None
    query: Query = "SELECT 1"
    tls: bool = False
    conditions: Conditions

    ALLOWED: ClassVar[frozenset[str]] = DATABASE_ALLOWED

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)


class RedisCheck(CheckBase):
    """Connect to Redis (redis-py's asyncio client), authenticate, send one command."""

    kind: Literal["redis"]
    host: Hostname
    port: int = Field(default=6379, ge=1, le=65535)
    username: UserName | None = None
    password: Secret | None = None
    database: int = Field(default=0, ge=0, le=1_000_000)
    command: list[Annotated[str, Field(min_length=1, max_length=1000)]] = Field(
        default_factory=lambda: ["PING"], min_length=1, max_length=20
    )
    tls: bool = False
    conditions: Conditions

    ALLOWED: ClassVar[frozenset[str]] = frozenset({"RESULT", "RESPONSE_TIME", "CONNECTED"})

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)


OID = Annotated[str, Field(min_length=1, max_length=200)]
_OID_RE = re.compile(r"^\.?[0-2](\.\d{1,10}){1,60}$")


class SnmpCheck(CheckBase):
    """SNMP GET of one or more OIDs (pysnmp), v2c with a community or v3 with a user (USM)."""

    kind: Literal["snmp"]
    host: Hostname
    port: int = Field(default=161, ge=1, le=65535)
    version: Literal["2c", "3"] = "2c"
    community: Secret | None = None
    user: UserName | None = None
    auth_protocol: Literal["MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"] | None = None
    auth_key: Secret | None = None
    priv_protocol: Literal["DES", "AES", "AES192", "AES256"] | None = None
    priv_key: Secret | None = None
    context: str = Field(default="", max_length=128)
    oids: list[OID] = Field(default_factory=lambda: ["1.3.6.1.2.1.1.3.0"], min_length=1, max_length=50)
    retries: int = Field(default=1, ge=0, le=5)
    conditions: Conditions

    ALLOWED: ClassVar[frozenset[str]] = frozenset({"SNMP", "RESPONSE_TIME"})

    @field_validator("oids")
    @classmethod
    def _plain_oids(cls, oids: list[str]) -> list[str]:
        for oid in oids:
            if not _OID_RE.match(oid):
                raise ValueError(
                    f"{oid!r} is not a numeric OID like 1.3.6.1.2.1.1.3.0 (MIB names are not resolved)"
                )
        return [oid.lstrip(".") for oid in oids]

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)

    @model_validator(mode="after")
    def _credentials(self) -> SnmpCheck:
        if self.version == "2c":
            v3_only = ("user", "auth_protocol", "auth_key", "priv_protocol", "priv_key")
            given = [name for name in v3_only if getattr(self, name) is not None]
            if given:
                raise ValueError(f'{given[0]}: only for version = "3" (v2c uses community)')
            return self
        if self.community is not None:
            raise ValueError('community: only for version = "2c" (v3 uses user and keys)')
        if self.user is None:
            raise ValueError('user: required for version = "3"')
        for protocol, key in (("auth_protocol", "auth_key"), ("priv_protocol", "priv_key")):
            if (getattr(self, protocol) is None) != (getattr(self, key) is None):
                raise ValueError(f"{protocol} and {key}: give both or neither")
        if self.priv_protocol is not None and self.auth_protocol is None:
            raise ValueError("priv_protocol: privacy needs authentication (set auth_protocol and auth_key)")
        return self


class DomainCheck(CheckBase):
    """A domain's registration expiry from RDAP (RFC 9083), the registries' JSON protocol."""

    kind: Literal["domain"]
    # A registered name in ASCII (an IDN as its xn-- form), like RDAP's ldhName.
    domain: str = Field(
        min_length=3, max_length=253, pattern=r"^[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+\.?$"
    )
    rdap_server: str | None = Field(default=None, max_length=2000)
    rdap_bootstrap: str = Field(default="https://data.iana.org/rdap/dns.json", max_length=2000)
    min_days_left: float = Field(default=14.0, ge=0, le=3650)
    conditions: Conditions

    ALLOWED: ClassVar[frozenset[str]] = frozenset({"DOMAIN_EXPIRATION", "RESPONSE_TIME"})

    @field_validator("domain")
    @classmethod
    def _lower(cls, domain: str) -> str:
        return domain.lower().rstrip(".")

    @field_validator("rdap_server", "rdap_bootstrap")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("must start with https:// (or http://)")
        return url

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)


class DockerCheck(CheckBase):
    """A container's state, health and restarts through the Docker Engine API on its unix socket."""

    kind: Literal["docker"]
    container: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    socket: str = Field(default="/var/run/docker.sock", min_length=2, max_length=1000)
    require_healthy: bool = True
    allow_restarts: bool = False
    conditions: Conditions

    ALLOWED: ClassVar[frozenset[str]] = frozenset(
        {"CONTAINER_STATE", "CONTAINER_HEALTH", "RESTART_COUNT", "RESPONSE_TIME"}
    )

    @field_validator("socket")
    @classmethod
    def _absolute(cls, socket: str) -> str:
        if not socket.startswith("/"):
            raise ValueError("socket must be the absolute path of the Docker Engine's unix socket")
        return socket

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)


# Adding a kind: add its model to AnyCheck and CHECK_MODELS, and a probe in agent/probes/.
AnyCheck = (
    HttpCheck
    | TcpCheck
    | IcmpCheck
    | DnsCheck
    | TlsCheck
    | HostCheck
    | FileCheck
    | CommandCheck
    | HeartbeatCheck
    | PostgresqlCheck
    | MysqlCheck
    | RedisCheck
    | SnmpCheck
    | DomainCheck
    | DockerCheck
    | SmtpCheck
    | ImapCheck
    | Pop3Check
    | SshCheck
    | UdpCheck
    | WebSocketCheck
    | GrpcCheck
)
CHECK_MODELS: tuple[type[CheckBase], ...] = (
    HttpCheck,
    TcpCheck,
    IcmpCheck,
    DnsCheck,
    TlsCheck,
    HostCheck,
    FileCheck,
    CommandCheck,
    HeartbeatCheck,
    PostgresqlCheck,
    MysqlCheck,
    RedisCheck,
    SnmpCheck,
    DomainCheck,
    DockerCheck,
    *KINDS_17A,
)
Check = Annotated[AnyCheck, Field(discriminator="kind")]
CHECK_ADAPTER: TypeAdapter[AnyCheck] = TypeAdapter(Check)
KINDS: tuple[str, ...] = tuple(get_args(m.model_fields["kind"].annotation)[0] for m in CHECK_MODELS)
# Kinds the collector evaluates itself; agents are never assigned them.
COLLECTOR_KINDS: frozenset[str] = frozenset({"heartbeat"})
AGENT_KINDS: tuple[str, ...] = tuple(kind for kind in KINDS if kind not in COLLECTOR_KINDS)


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

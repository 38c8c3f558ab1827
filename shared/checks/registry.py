"""The union of every kind: the discriminated `Check` type, the kind lists, parsing and error wording."""

from __future__ import annotations

from typing import Annotated, Any, get_args

from pydantic import (
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)

from shared.checks.common import (
    CheckBase,
)
from shared.checks.databases import MysqlCheck, PostgresqlCheck, RedisCheck
from shared.checks.heartbeat import HeartbeatCheck
from shared.checks.host import CommandCheck, FileCheck, HostCheck
from shared.checks.http import HttpCheck
from shared.checks.mail import ImapCheck, Pop3Check, SmtpCheck
from shared.checks.network import DnsCheck, IcmpCheck, TcpCheck, TlsCheck
from shared.checks.protocols import GrpcCheck, SshCheck, UdpCheck, WebSocketCheck
from shared.checks.services import DockerCheck, DomainCheck, SnmpCheck

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
    SmtpCheck,
    ImapCheck,
    Pop3Check,
    SshCheck,
    UdpCheck,
    WebSocketCheck,
    GrpcCheck,
)
Check = Annotated[AnyCheck, Field(discriminator="kind")]
# Built on first use (see MODEL_CONFIG): agents without local checks never build it.
CHECK_ADAPTER: TypeAdapter[AnyCheck] = TypeAdapter(Check, config=ConfigDict(defer_build=True))
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

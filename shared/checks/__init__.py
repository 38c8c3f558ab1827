"""Check definitions shared by the collector (config, assignments) and the agent (local checks).

A check is declared once, validated once, and travels to agents inside
`Assignments`. Every kind is a pydantic model discriminated by `kind`, so a bad
check is refused with the check id and the field that is wrong.

One module per concept: `common` (ids, durations, conditions, `CheckBase`),
`secret`, `http`, `network` (tcp icmp dns tls), `mail` (smtp imap pop3),
`protocols` (ssh udp websocket grpc), `host` (host file command), `heartbeat`,
`databases` (postgresql mysql redis), `services` (snmp domain docker) and
`registry` (the union, the kind lists, parsing). Every public name stays
importable from `shared.checks`.
Adding a kind: a model in the module of its family, its entry in `registry`,
and a probe module in `agent/probes/`.
"""

from shared.checks.common import (
    ID_PATTERN,
    SLUG_PATTERN,
    CheckBase,
    Conditions,
    ConditionText,
    Duration,
    FailureRate,
    Hostname,
    Selector,
    ThresholdText,
)
from shared.checks.databases import (
    DATABASE_ALLOWED,
    DatabaseName,
    MysqlCheck,
    PostgresqlCheck,
    Query,
    RedisCheck,
    UserName,
)
from shared.checks.heartbeat import HeartbeatCheck, cron_longest_gap, validate_cron, validate_timezone
from shared.checks.host import CommandCheck, FileCheck, HostCheck, ProcessMatch
from shared.checks.http import (
    HTTP_PLACEHOLDERS,
    STORE_SOURCES,
    VARIABLE_RE,
    HttpCheck,
    HttpStep,
    StoreExpression,
)
from shared.checks.mail import MAIL_PORTS, ImapCheck, MailCheck, Pop3Check, SmtpCheck
from shared.checks.network import DNS_RECORD_TYPES, DnsCheck, IcmpCheck, TcpCheck, TlsCheck
from shared.checks.protocols import FINGERPRINT_PATTERN, GrpcCheck, SshCheck, UdpCheck, WebSocketCheck
from shared.checks.registry import (
    AGENT_KINDS,
    CHECK_ADAPTER,
    CHECK_MODELS,
    COLLECTOR_KINDS,
    KINDS,
    AnyCheck,
    Check,
    describe_error,
    parse_check,
)
from shared.checks.secret import SECRET_ENV_PREFIX, Secret, SecretSource
from shared.checks.services import OID, DockerCheck, DomainCheck, SnmpCheck

__all__ = [
    "AGENT_KINDS",
    "CHECK_ADAPTER",
    "CHECK_MODELS",
    "COLLECTOR_KINDS",
    "DATABASE_ALLOWED",
    "DNS_RECORD_TYPES",
    "FINGERPRINT_PATTERN",
    "HTTP_PLACEHOLDERS",
    "ID_PATTERN",
    "KINDS",
    "MAIL_PORTS",
    "OID",
    "SECRET_ENV_PREFIX",
    "SLUG_PATTERN",
    "STORE_SOURCES",
    "VARIABLE_RE",
    "AnyCheck",
    "Check",
    "CheckBase",
    "CommandCheck",
    "ConditionText",
    "Conditions",
    "DatabaseName",
    "DnsCheck",
    "DockerCheck",
    "DomainCheck",
    "Duration",
    "FailureRate",
    "FileCheck",
    "GrpcCheck",
    "HeartbeatCheck",
    "HostCheck",
    "Hostname",
    "HttpCheck",
    "HttpStep",
    "IcmpCheck",
    "ImapCheck",
    "MailCheck",
    "MysqlCheck",
    "Pop3Check",
    "PostgresqlCheck",
    "ProcessMatch",
    "Query",
    "RedisCheck",
    "Secret",
    "SecretSource",
    "Selector",
    "SmtpCheck",
    "SnmpCheck",
    "SshCheck",
    "StoreExpression",
    "TcpCheck",
    "ThresholdText",
    "TlsCheck",
    "UdpCheck",
    "UserName",
    "WebSocketCheck",
    "cron_longest_gap",
    "describe_error",
    "parse_check",
    "validate_cron",
    "validate_timezone",
]

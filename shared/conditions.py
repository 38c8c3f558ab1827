"""The condition language, in the style users know from Gatus.

A condition is one comparison, parsed once when the config is loaded:

    [STATUS] == 200                       [RESPONSE_TIME] < 300        (milliseconds)
    [BODY].status == UP                   [BODY].data[0].id == 42      [BODY].items[-1] != null
    [HEADER].content-type == pat(*json*)  [CERTIFICATE_EXPIRATION] > 48h
    len([BODY].items) >= 1                [STATUS] == any(200, 204)    has([BODY].error) == false
    [CONNECTED] == true                   [DNS_RCODE] == NOERROR       [IP] == 127.0.0.1
    [RESULT] == 1      [ROWS] >= 1        [SNMP].1.3.6.1.2.1.1.3.0 > 0 [DOMAIN_EXPIRATION] > 720h
    [CONTAINER_STATE] == running          [CONTAINER_HEALTH] == healthy [RESTART_COUNT] < 5
    [BANNER] == pat(*Postfix*)            [CAPABILITIES] == pat(*STARTTLS*)
    [GRPC_STATUS] == SERVING

The left side is a placeholder (optionally inside `len()` or `has()`), the right
side a constant, `pat(glob)` or `any(a, b, ...)`. `<`, `<=`, `>`, `>=` compare
numbers; for `[RESPONSE_TIME]` and `[CERTIFICATE_EXPIRATION]` the constant may be
a duration (`300ms`, `48h`). A failed condition explains itself in the words a
person reads in an alert: "[BODY].status: expected UP, got DOWN".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cached_property
from typing import Any, Literal

from shared.timeutil import format_duration, parse_duration

MAX_CONDITION_CHARS = 500
OPERATORS = ("==", "!=", "<=", ">=", "<", ">")
ORDERING = frozenset({"<", "<=", ">", ">="})
PLACEHOLDERS = frozenset(
    {"STATUS", "RESPONSE_TIME", "BODY", "HEADER", "CERTIFICATE_EXPIRATION", "CONNECTED", "IP", "DNS_RCODE"}
    # smtp / imap / pop3 / ssh greetings, mail capabilities, the gRPC health answer
    | {"BANNER", "CAPABILITIES", "GRPC_STATUS"}
)
# Service kinds (databases, SNMP, domains, containers): what their probes fill in.
SERVICE_PLACEHOLDERS = frozenset(
    {"RESULT", "ROWS", "SNMP", "DOMAIN_EXPIRATION", "CONTAINER_STATE", "CONTAINER_HEALTH", "RESTART_COUNT"}
)
PLACEHOLDERS = PLACEHOLDERS | SERVICE_PLACEHOLDERS
# Placeholders measured in milliseconds, whose constants may be written as durations.
TIME_PLACEHOLDERS = frozenset({"RESPONSE_TIME", "CERTIFICATE_EXPIRATION", "DOMAIN_EXPIRATION"})
BOOLEAN_PLACEHOLDERS = frozenset({"CONNECTED"})

_PLACEHOLDER_RE = re.compile(r"^\[([A-Z_]+)\]")
_PATH_PART_RE = re.compile(r"\.([^.\[\]\s]+)|\[(-?\d+)\]")
_HEADER_RE = re.compile(r"^\.([A-Za-z0-9!#$%&'*+.^_`|~-]+)$")
_NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?$")
_OID_RE = re.compile(r"^\.(\d+(?:\.\d+)+)$")


class ConditionError(ValueError):
    """A condition cannot be parsed; the message names the condition and the reason."""


@dataclass(frozen=True)
class Subject:
    """The left side: a placeholder with an optional JSON path or header name, maybe wrapped."""

    text: str
    placeholder: str
    path: tuple[str | int, ...] = ()
    function: Literal["", "len", "has"] = ""


@dataclass(frozen=True)
class Expected:
    """The right side: a constant, a glob pattern or a set of alternatives."""

    text: str
    kind: Literal["constant", "pattern", "any"]
    values: tuple[str, ...]
    number: float | None = None


@dataclass(frozen=True)
class Condition:
    """One parsed comparison. `str(condition)` is the text it was parsed from."""

    text: str
    subject: Subject
    operator: str
    expected: Expected

    def __str__(self) -> str:
        return self.text

    @property
    def placeholder(self) -> str:
        return self.subject.placeholder


@dataclass
class Facts:
    """What a probe observed, for conditions to look at. None means "not measured"."""

    status: int | None = None
    response_time_ms: float | None = None
    body: bytes | str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    certificate_expiration_ms: float | None = None
    connected: bool | None = None
    ip: str | None = None
    dns_rcode: str | None = None
    # Service kinds: a query's first value and row count, SNMP values by OID, domain and container state.
    result: str | int | float | None = None
    rows: int | None = None
    snmp: Mapping[str, str | int | float] | None = None
    domain_expiration_ms: float | None = None
    container_state: str | None = None
    container_health: str | None = None
    restart_count: int | None = None
    banner: str | None = None
    # Space-separated, upper case: [CAPABILITIES] == pat(*STARTTLS*)
    capabilities: str | None = None
    grpc_status: str | None = None

    @cached_property
    def body_text(self) -> str | None:
        if isinstance(self.body, bytes):
            return self.body.decode("utf-8", "replace")
        return self.body

    @cached_property
    def body_json(self) -> tuple[bool, Any]:
        """(parsed, value): the body parsed once as JSON, (False, None) when it is not JSON."""
        if self.body_text is None:
            return False, None
        try:
            return True, json.loads(self.body_text)
        except ValueError:
            return False, None


class _Missing:
    """A value that could not be found; carries the reason shown to people."""

    def __init__(self, reason: str):
        self.reason = reason


# ---------------------------------------------------------------------------- parsing


def parse_condition(text: str) -> Condition:
    """Parse one condition. Raises ConditionError naming the condition and what is wrong."""
    if not isinstance(text, str):
        raise ConditionError("a condition must be a string like '[STATUS] == 200'")
    stripped = text.strip()
    if not stripped:
        raise ConditionError("empty condition; write one like '[STATUS] == 200'")
    if len(stripped) > MAX_CONDITION_CHARS:
        raise ConditionError(f"condition longer than {MAX_CONDITION_CHARS} characters")
    try:
        return _parse(stripped)
    except ConditionError as error:
        raise ConditionError(f"invalid condition {stripped!r}: {error}") from None


def parse_conditions(
    texts: Iterable[str | Condition], allowed: Iterable[str] | None = None
) -> list[Condition]:
    """Parse several conditions; with `allowed`, refuse placeholders outside that set."""
    allowed_set = frozenset(allowed) if allowed is not None else PLACEHOLDERS
    conditions = []
    for text in texts:
        condition = text if isinstance(text, Condition) else parse_condition(text)
        if condition.placeholder not in allowed_set:
            names = ", ".join(f"[{name}]" for name in sorted(allowed_set))
            raise ConditionError(
                f"invalid condition {condition.text!r}: [{condition.placeholder}] is not available here"
                f" (use {names})"
            )
        conditions.append(condition)
    return conditions


def parse_value(text: str) -> Subject:
    """A placeholder on its own (`[BODY].access_token`), as an HTTP suite's `store` names a value.

    Raises ConditionError naming the text and what is wrong.
    """
    try:
        return _parse_placeholder(text.strip())
    except ConditionError as error:
        raise ConditionError(f"invalid value {text!r}: {error}") from None


def value_of(subject: Subject, facts: Facts) -> tuple[str | None, str]:
    """(the value as text, "") or (None, why it is missing). Objects and lists read as their JSON."""
    value = _resolve(subject, facts)
    if isinstance(value, _Missing):
        return None, value.reason
    return _text(value), ""


def _parse(text: str) -> Condition:
    position, operator = _find_operator(text)
    left = text[:position].strip()
    right = text[position + len(operator) :].strip()
    if not left:
        raise ConditionError("nothing left of the operator")
    if not right:
        raise ConditionError("nothing right of the operator")
    subject = _parse_subject(left)
    expected = _parse_expected(right)
    _check_types(subject, operator, expected)
    if expected.kind == "constant" and (subject.placeholder in TIME_PLACEHOLDERS and not subject.function):
        expected = Expected(expected.text, "constant", expected.values, _milliseconds(expected.text))
    return Condition(text, subject, operator, expected)


def _find_operator(text: str) -> tuple[int, str]:
    """The one comparison operator outside brackets and parentheses."""
    found: list[tuple[int, str]] = []
    depth = 0
    index = 0
    while index < len(text):
        char = text[index]
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
            if depth < 0:
                raise ConditionError(f"unbalanced {char!r}")
        elif depth == 0:
            operator = next((op for op in OPERATORS if text.startswith(op, index)), None)
            if operator:
                found.append((index, operator))
                index += len(operator)
                continue
        index += 1
    if depth != 0:
        raise ConditionError("unbalanced brackets or parentheses")
    if not found:
        raise ConditionError("no comparison operator (use one of == != < <= > >=)")
    if len(found) > 1:
        raise ConditionError(f"more than one operator ({', '.join(op for _i, op in found)})")
    return found[0]


def _parse_subject(text: str) -> Subject:
    for function in ("len", "has"):
        if text.startswith(f"{function}("):
            if not text.endswith(")"):
                raise ConditionError(f"{function}( is not closed")
            inner = _parse_placeholder(text[len(function) + 1 : -1].strip())
            return Subject(text, inner.placeholder, inner.path, function)
    if text.startswith(("pat(", "any(")):
        raise ConditionError(f"{text[:3]}() belongs on the right side of == or !=")
    if not text.startswith("["):
        raise ConditionError(f"the left side must be a placeholder like [STATUS], not {text!r}")
    return _parse_placeholder(text)


def _parse_placeholder(text: str) -> Subject:
    match = _PLACEHOLDER_RE.match(text)
    if not match:
        raise ConditionError(f"expected a placeholder like [STATUS] or [BODY].field, got {text!r}")
    name = match.group(1)
    if name not in PLACEHOLDERS:
        known = ", ".join(f"[{p}]" for p in sorted(PLACEHOLDERS))
        raise ConditionError(f"unknown placeholder [{name}] (known: {known})")
    rest = text[match.end() :]
    if name == "HEADER":
        header = _HEADER_RE.match(rest)
        if not header:
            raise ConditionError("[HEADER] needs a header name, e.g. [HEADER].content-type")
        return Subject(text, name, (header.group(1).lower(),))
    if name == "SNMP":
        oid = _OID_RE.match(rest)
        if not oid:
            raise ConditionError("[SNMP] needs a numeric OID, e.g. [SNMP].1.3.6.1.2.1.1.3.0")
        return Subject(text, name, (oid.group(1),))
    if name != "BODY":
        if rest:
            raise ConditionError(f"[{name}] takes no path (found {rest!r})")
        return Subject(text, name)
    return Subject(text, name, _parse_json_path(rest))


def _parse_json_path(rest: str) -> tuple[str | int, ...]:
    path: list[str | int] = []
    position = 0
    while position < len(rest):
        part = _PATH_PART_RE.match(rest, position)
        if not part:
            raise ConditionError(f"invalid JSON path after [BODY] at {rest[position:]!r}")
        path.append(part.group(1) if part.group(1) is not None else int(part.group(2)))
        position = part.end()
    return tuple(path)


def _parse_expected(text: str) -> Expected:
    if text[0] in "=!<>":
        raise ConditionError(f"stray {text[0]!r} after the operator")
    if text.startswith("pat("):
        inner = _inside(text, "pat")
        if not inner:
            raise ConditionError("pat() needs a pattern, e.g. pat(*json*)")
        return Expected(text, "pattern", (inner,))
    if text.startswith("any("):
        inner = _inside(text, "any")
        values = tuple(value.strip() for value in inner.split(","))
        if not inner or any(not value for value in values):
            raise ConditionError("any() needs comma-separated values, e.g. any(200, 204)")
        return Expected(text, "any", values)
    if text.startswith(("len(", "has(", "[")):
        raise ConditionError("the right side must be a constant, pat() or any()")
    number = float(text) if _NUMBER_RE.match(text) else None
    return Expected(text, "constant", (text,), number)


def _inside(text: str, function: str) -> str:
    if not text.endswith(")"):
        raise ConditionError(f"{function}( is not closed")
    return text[len(function) + 1 : -1].strip()


def _check_types(subject: Subject, operator: str, expected: Expected) -> None:
    if expected.kind != "constant" and operator not in ("==", "!="):
        raise ConditionError(
            f"{expected.kind if expected.kind == 'any' else 'pat'}() works only with == or !="
        )
    value = expected.values[0]
    if subject.function == "has" or (subject.placeholder in BOOLEAN_PLACEHOLDERS and not subject.function):
        if operator not in ("==", "!=") or expected.kind != "constant" or value not in ("true", "false"):
            raise ConditionError(f"{subject.text} compares with == true or == false")
        return
    if operator in ORDERING:
        timed = subject.placeholder in TIME_PLACEHOLDERS and not subject.function
        if timed:
            _milliseconds(value)
        elif expected.number is None:
            raise ConditionError(f"{operator} needs a number on the right, got {value!r}")


def _milliseconds(text: str) -> float:
    if _NUMBER_RE.match(text):
        return float(text)
    try:
        return parse_duration(text).total_seconds() * 1000
    except ValueError:
        raise ConditionError(
            f"{text!r} is neither a number of milliseconds nor a duration like 48h"
        ) from None


# ---------------------------------------------------------------------------- evaluation


def evaluate(condition: Condition, facts: Facts) -> str | None:
    """Return None when the condition holds, else a sentence saying what was expected and seen."""
    value = _resolve(condition.subject, facts)
    subject = condition.subject.text
    if isinstance(value, _Missing):
        return f"{subject}: {value.reason}"
    if _holds(condition, value):
        return None
    return f"{subject}: expected {_describe_expected(condition)}, got {_show(condition, value)}"


def failed_conditions(conditions: Iterable[Condition], facts: Facts) -> list[str]:
    """The explanations of every condition that does not hold (empty when all hold)."""
    return [message for condition in conditions if (message := evaluate(condition, facts)) is not None]


def _resolve(subject: Subject, facts: Facts) -> Any:
    value = _raw_value(subject, facts)
    if subject.function == "has":
        return not isinstance(value, _Missing)
    if isinstance(value, _Missing):
        return value
    if subject.function == "len":
        if isinstance(value, str | list | dict):
            return len(value)
        return len(_text(value))
    return value


def _raw_value(subject: Subject, facts: Facts) -> Any:
    name = subject.placeholder
    simple: dict[str, Any] = {
        "STATUS": facts.status,
        "RESPONSE_TIME": facts.response_time_ms,
        "CERTIFICATE_EXPIRATION": facts.certificate_expiration_ms,
        "CONNECTED": facts.connected,
        "IP": facts.ip,
        "DNS_RCODE": facts.dns_rcode,
        "RESULT": facts.result,
        "ROWS": facts.rows,
        "DOMAIN_EXPIRATION": facts.domain_expiration_ms,
        "CONTAINER_STATE": facts.container_state,
        "CONTAINER_HEALTH": facts.container_health,
        "RESTART_COUNT": facts.restart_count,
        "BANNER": facts.banner,
        "CAPABILITIES": facts.capabilities,
        "GRPC_STATUS": facts.grpc_status,
    }
    if name in simple:
        value = simple[name]
        return _Missing(f"not measured ({_unmeasured(name)})") if value is None else value
    if name == "SNMP":
        oid = str(subject.path[0])
        if facts.snmp is None:
            return _Missing("not measured (no SNMP response)")
        if oid not in facts.snmp:
            return _Missing("not in the SNMP response (add the OID to the check's oids)")
        return facts.snmp[oid]
    if name == "HEADER":
        wanted = str(subject.path[0])
        for key, header_value in facts.headers.items():
            if key.lower() == wanted:
                return header_value
        return _Missing("header not present in the response")
    if facts.body_text is None:
        return _Missing("no response body")
    if not subject.path:
        return facts.body_text
    parsed, document = facts.body_json
    if not parsed:
        return _Missing("the response body is not JSON")
    return _walk(document, subject.path)


def _unmeasured(name: str) -> str:
    return {
        "STATUS": "no HTTP response",
        "CERTIFICATE_EXPIRATION": "no TLS certificate",
        "IP": "no address",
        "DNS_RCODE": "no DNS answer",
        "RESULT": "no query result",
        "ROWS": "no query result",
        "DOMAIN_EXPIRATION": "no expiration date in the RDAP answer",
        "CONTAINER_HEALTH": "the container has no health check",
        "BANNER": "no greeting from the server",
        "CAPABILITIES": "no capability list",
        "GRPC_STATUS": "no health answer",
    }.get(name, "no response")


def _walk(document: Any, path: tuple[str | int, ...]) -> Any:
    current = document
    for part in path:
        if isinstance(part, int):
            if not isinstance(current, list) or not -len(current) <= part < len(current):
                return _Missing("not found in the response body")
            current = current[part]
        else:
            if not isinstance(current, dict) or part not in current:
                return _Missing("not found in the response body")
            current = current[part]
    return current


def _holds(condition: Condition, value: Any) -> bool:
    operator, expected = condition.operator, condition.expected
    if expected.kind == "pattern":
        matched = fnmatchcase(_text(value), expected.values[0])
        return matched if operator == "==" else not matched
    if expected.kind == "any":
        matched = any(_equal(value, option) for option in expected.values)
        return matched if operator == "==" else not matched
    if operator == "==":
        return _equal(value, expected.values[0])
    if operator == "!=":
        return not _equal(value, expected.values[0])
    number = _number(value)
    limit = expected.number
    if number is None or limit is None:
        return False
    return {"<": number < limit, "<=": number <= limit, ">": number > limit, ">=": number >= limit}[operator]


def _equal(value: Any, constant: str) -> bool:
    number = _number(value)
    if number is not None and _NUMBER_RE.match(constant):
        return number == float(constant)
    return _text(value) == constant


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _NUMBER_RE.match(value.strip()):
        return float(value)
    return None


def _text(value: Any) -> str:
    """How a value reads in a comparison: JSON's true/null as written, numbers without '.0'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _describe_expected(condition: Condition) -> str:
    prefix = {"==": "", "!=": "not "}.get(condition.operator, f"{condition.operator} ")
    return prefix + condition.expected.text


def _show(condition: Condition, value: Any) -> str:
    subject = condition.subject
    expiring = subject.placeholder in ("CERTIFICATE_EXPIRATION", "DOMAIN_EXPIRATION")
    if expiring and not subject.function and isinstance(value, float):
        from datetime import timedelta

        return format_duration(timedelta(milliseconds=max(0.0, value)))
    if subject.placeholder == "RESPONSE_TIME" and not subject.function and isinstance(value, float):
        return f"{value:.0f}ms"
    shown = _text(value)
    return shown if len(shown) <= 100 else shown[:100] + "..."

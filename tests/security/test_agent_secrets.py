"""What a collector can make an agent do with the agent's own secrets: an assigned check that
names one of this host's secrets (`{ env = "UPWATCH_SECRET_..." }`, `{ credential = ... }`)
uses it only towards the server the agent's `[[allow.secrets]]` names. Otherwise whoever
writes the collector's config could point a redis or postgresql check with the host's
password at a server of their own and read the password off the wire."""

from __future__ import annotations

from typing import Any

import pytest

from agent.allowlist import AllowConfig, AllowList
from agent.daemon import new_session
from agent.probes import run_check
from agent.probes.context import ProbeContext
from shared.checks import parse_check


def redis(host: str = "db.internal", password: Any = None, **fields: Any) -> Any:
    data = {"id": "cache", "kind": "redis", "host": host, "port": 6379, **fields}
    if password is not None:
        data["password"] = password
    return parse_check(data)


ENV = {"env": "UPWATCH_SECRET_REDIS"}
ENTRY = {"env": "UPWATCH_SECRET_REDIS", "host": "db.internal", "check": "cache"}


@pytest.mark.parametrize(
    ("entries", "check", "allowed"),
    [
        ([], redis(password="inline-from-the-collector"), True),  # reveals nothing of the host
        ([], redis(), True),
        ([], redis(password=ENV), False),
        ([ENTRY], redis(password=ENV), True),
        ([ENTRY], redis("DB.Internal.", password=ENV), True),
        ([ENTRY], redis("evil.example", password=ENV), False),  # the exfiltration case
        ([ENTRY], redis(password={"env": "UPWATCH_SECRET_OTHER"}), False),
        ([{**ENTRY, "port": 6380}], redis(password=ENV), False),
        ([{**ENTRY, "check": "other"}], redis(password=ENV), False),
        (
            [{"credential": "redis-pw", "host": "db.internal"}],
            redis(password={"credential": "redis-pw"}),
            True,
        ),
    ],
)
def test_host_secrets_go_only_where_the_host_allows(
    entries: list[dict[str, Any]], check: Any, allowed: bool
) -> None:
    allow = AllowList(AllowConfig.model_validate({"secrets": entries}))
    assert allow.trusts(check) is allowed


def http(url: str, steps: list[str] | None = None) -> Any:
    data: dict[str, Any] = {
        "id": "api",
        "kind": "http",
        "url": url,
        "headers": {"Authorization": "Bearer {tok}"},
    }
    data["secrets"] = {"tok": {"env": "UPWATCH_SECRET_API"}}
    if steps:  # a suite: url or steps, not both
        data["steps"] = [{"name": f"s{i}", "url": step} for i, step in enumerate([data.pop("url"), *steps])]
    return parse_check(data)


HTTP_ENTRY = {"env": "UPWATCH_SECRET_API", "host": "api.internal"}


@pytest.mark.parametrize(
    ("check", "allowed"),
    [
        (http("https://api.internal/health"), True),
        (http("https://evil.example/health"), False),
        (http("https://api.internal/login", ["https://api.internal/me"]), True),
        (http("https://api.internal/login", ["https://evil.example/me"]), False),  # a step elsewhere
    ],
)
def test_http_secrets_go_only_to_the_allowed_host(check: Any, allowed: bool) -> None:
    assert not AllowList().trusts(check)
    assert AllowList(AllowConfig.model_validate({"secrets": [HTTP_ENTRY]})).trusts(check) is allowed


def test_a_local_check_may_use_its_hosts_secrets() -> None:
    local = redis(password=ENV)
    assert AllowList(local_checks=[local]).trusts(local)


async def test_the_refused_check_never_reads_the_secret_or_connects() -> None:
    check = redis("127.0.0.1", password=ENV)
    async with new_session() as session:
        result = await run_check(check, ProbeContext(session=session, allow=AllowList()))
    assert result.status == "down"
    assert result.error is not None and result.error.startswith("refused:")
    assert "[[allow.secrets]]" in result.error and 'env = "UPWATCH_SECRET_REDIS"' in result.error
    assert "CONNECTED" not in str(result.metrics)


def test_bad_secret_entries_name_the_key() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="exactly one of env"):
        AllowConfig.model_validate({"secrets": [{"host": "x"}]})

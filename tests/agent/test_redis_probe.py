"""The redis probe against a real redis-server (requirepass) started once per test session (tests/agent/conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from agent.probes import run_check
from agent.probes.context import ProbeContext
from shared.checks import parse_check
from tests.agent.conftest import closed_port
from tests.servers import Server


def redis_check(server: Server, **fields: Any) -> Any:
    return parse_check(
        {
            "id": "r",
            "kind": "redis",
            "host": server.host,
            "port": server.port,
            "password": server.password,
            "interval": "10s",
            "timeout": "8s",
            **fields,
        }
    )


async def test_ping_with_password(redis_db: Server, context: ProbeContext) -> None:
    result = await run_check(
        redis_check(redis_db, conditions=["[RESULT] == PONG", "[RESPONSE_TIME] < 8s"]), context
    )
    assert result.status == "up", result.error
    assert result.detail["result"] == "PONG"
    assert result.metrics["connect_ms"] > 0


async def test_command_reply_in_conditions(redis_db: Server, context: ProbeContext) -> None:
    check = redis_check(
        redis_db, command=["INFO", "replication"], conditions=["[RESULT] == pat(*role:master*)"]
    )
    assert (await run_check(check, context)).status == "up"
    wrong = redis_check(redis_db, command=["DBSIZE"], conditions=["[RESULT] > 5"])
    result = await run_check(wrong, context)
    assert result.status == "down"
    assert result.error == "[RESULT]: expected > 5, got 0"


async def test_wrong_password_is_an_auth_failure(redis_db: Server, context: ProbeContext) -> None:
    result = await run_check(redis_check(redis_db, password="not-it"), context)
    assert result.status == "down"
    assert result.error is not None and result.error.startswith("authentication failed at 127.0.0.1:")
    assert "not-it" not in result.model_dump_json()


async def test_no_password_is_refused_by_the_server(redis_db: Server, context: ProbeContext) -> None:
    result = await run_check(redis_check(redis_db, password=None), context)
    assert result.status == "down"
    assert result.error == f"authentication failed at 127.0.0.1:{redis_db.port}: Authentication required."


async def test_error_reply_is_down(redis_db: Server, context: ProbeContext) -> None:
    result = await run_check(redis_check(redis_db, command=["NOSUCHCOMMAND"]), context)
    assert result.status == "down"
    assert result.error is not None and result.error.startswith("NOSUCHCOMMAND failed: redis answered ")


async def test_refused_and_wanted_unreachable(context: ProbeContext) -> None:
    server = Server("127.0.0.1", closed_port(), "", "x", Path("/"))
    result = await run_check(redis_check(server), context)
    assert result.status == "down"
    assert result.error is not None and result.error.startswith(
        f"cannot connect to redis at 127.0.0.1:{server.port}"
    )
    wanted = await run_check(redis_check(server, conditions=["[CONNECTED] == false"]), context)
    assert wanted.status == "up"


async def test_silent_server_times_out(silent_port: int, context: ProbeContext) -> None:
    server = Server("127.0.0.1", silent_port, "", "x", Path("/"))
    result = await run_check(redis_check(server, timeout="1s", interval="5s"), context)
    assert (result.status, result.error) == ("down", "timed out after 1s")


async def test_password_from_the_agent_environment(redis_db: Server, context: ProbeContext) -> None:
    context.environ = {"UPWATCH_SECRET_REDIS": redis_db.password}
    result = await run_check(redis_check(redis_db, password={"env": "UPWATCH_SECRET_REDIS"}), context)
    assert result.status == "up", result.error
    context.environ = {}
    missing = await run_check(redis_check(redis_db, password={"env": "UPWATCH_SECRET_REDIS"}), context)
    assert missing.error == "password: environment variable UPWATCH_SECRET_REDIS is not set on this agent"


async def test_missing_extra_is_a_clear_down(
    redis_db: Server, context: ProbeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The one seam: the import of the library fails as on an agent installed without the extra.
    for name in [name for name in sys.modules if name == "redis" or name.startswith("redis.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "redis", None)
    result = await run_check(redis_check(redis_db), context)
    assert result.status == "down"
    assert result.error is not None
    assert result.error.startswith("the redis check kind needs the optional extra upwatch[redis]")
    assert "pip install 'upwatch[redis]'" in result.error


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"port": 0}, "port"),
        ({"command": []}, "command"),
        ({"password": {"env": "UPWATCH_SECRET_A", "credential": "b"}}, "give exactly one of env"),
        ({"conditions": ["[ROWS] > 1"]}, "[ROWS] is not available here"),
        ({"database": -1}, "database"),
    ],
)
def test_bad_config_names_the_key(redis_db: Server, fields: dict[str, Any], message: str) -> None:
    from pydantic import ValidationError

    from shared.checks import describe_error

    with pytest.raises(ValidationError) as caught:
        redis_check(redis_db, **fields)
    described = describe_error(caught.value, "checks[0]")
    assert message in described, described

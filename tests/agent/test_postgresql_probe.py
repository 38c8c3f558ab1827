"""The postgresql probe against a real PostgreSQL server (initdb, SCRAM logins) started once per test session (tests/agent/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.probes import run_check
from agent.probes.context import ProbeContext
from shared.checks import parse_check
from tests.agent.conftest import closed_port
from tests.servers import Server


def pg_check(server: Server, **fields: Any) -> Any:
    return parse_check(
        {
            "id": "pg",
            "kind": "postgresql",
            "host": server.host,
            "port": server.port,
            "user": server.user,
            "password": server.password,
            "interval": "10s",
            "timeout": "3s",
            **fields,
        }
    )


async def test_select_one(postgresql: Server, context: ProbeContext) -> None:
    result = await run_check(pg_check(postgresql, conditions=["[RESULT] == 1", "[ROWS] == 1"]), context)
    assert result.status == "up", result.error
    assert result.detail == {"rows": 1, "result": "1"}
    assert result.metrics["connect_ms"] > 0 and result.metrics["query_ms"] > 0


async def test_conditions_on_a_real_query(postgresql: Server, context: ProbeContext) -> None:
    query = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
    check = pg_check(
        postgresql, database="postgres", query=query, conditions=["[RESULT] >= 1", "[RESULT] < 100"]
    )
    assert (await run_check(check, context)).status == "up"
    none = pg_check(
        postgresql, query="SELECT datname FROM pg_database WHERE datname = 'nope'", conditions=["[ROWS] >= 1"]
    )
    result = await run_check(none, context)
    assert result.status == "down"
    assert result.error == "[ROWS]: expected >= 1, got 0"
    text = pg_check(
        postgresql, query="SELECT current_setting('server_encoding')", conditions=["[RESULT] == LATIN1"]
    )
    result = await run_check(text, context)
    assert result.error == "[RESULT]: expected LATIN1, got UTF8"


async def test_percent_signs_are_sent_as_written(postgresql: Server, context: ProbeContext) -> None:
    check = pg_check(
        postgresql,
        query="SELECT count(*) FROM pg_roles WHERE rolname LIKE 'pg_%'",
        conditions=["[RESULT] > 3"],
    )
    result = await run_check(check, context)
    assert result.status == "up", result.error


async def test_queries_are_read_only(postgresql: Server, context: ProbeContext) -> None:
    result = await run_check(pg_check(postgresql, query="CREATE TABLE upwatch_probe (id int)"), context)
    assert result.status == "down"
    assert result.error == "query failed: cannot execute CREATE TABLE in a read-only transaction"


async def test_query_error_is_down(postgresql: Server, context: ProbeContext) -> None:
    result = await run_check(pg_check(postgresql, query="SELECT * FROM no_such_table"), context)
    assert result.status == "down"
    assert result.error == 'query failed: relation "no_such_table" does not exist'


async def test_wrong_password(postgresql: Server, context: ProbeContext) -> None:
    result = await run_check(pg_check(postgresql, password="Wrong-Horse-9"), context)
    assert result.status == "down"
    assert result.error is not None
    assert result.error.startswith(f"authentication failed at 127.0.0.1:{postgresql.port}: ")
    assert 'password authentication failed for user "postgres"' in result.error
    assert "Wrong-Horse-9" not in result.model_dump_json()


async def test_slow_query_times_out(postgresql: Server, context: ProbeContext) -> None:
    result = await run_check(pg_check(postgresql, query="SELECT pg_sleep(5)", timeout="2s"), context)
    assert result.status == "down"
    assert result.error == "query failed: canceling statement due to statement timeout"


async def test_refused(context: ProbeContext) -> None:
    port = closed_port()
    server = Server("127.0.0.1", port, "postgres", "x", Path("/"))
    result = await run_check(pg_check(server), context)
    assert result.status == "down"
    assert result.error is not None
    assert result.error.startswith(f"cannot connect to postgresql at 127.0.0.1:{port}: ")
    assert "Connection refused" in result.error


async def test_silent_server_times_out(silent_port: int, context: ProbeContext) -> None:
    server = Server("127.0.0.1", silent_port, "postgres", "x", Path("/"))
    result = await run_check(pg_check(server, timeout="1s", interval="5s"), context)
    assert result.status == "down"
    assert result.error == "timed out after 1s"


async def test_password_from_the_credentials_directory(
    postgresql: Server, context: ProbeContext, tmp_path: Path
) -> None:
    (tmp_path / "pg-password").write_text(postgresql.password + "\n")
    context.environ = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    check = pg_check(postgresql, password={"credential": "pg-password"})
    result = await run_check(check, context)
    assert result.status == "up", result.error
    missing = await run_check(pg_check(postgresql, password={"credential": "other"}), context)
    assert missing.status == "down"
    assert missing.error == "password: cannot read credential other: No such file or directory"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"user": ""}, "checks[0].user:"),
        ({"sslmode": "always"}, "checks[0].sslmode:"),
        ({"query": ""}, "checks[0].query:"),
        ({"conditions": ["[SNMP].1.3.6 > 1"]}, "[SNMP] is not available here"),
        (
            {"password": {"env": "PGPASSWORD"}},
            "checks[0].password: env: must name a variable starting with UPWATCH_SECRET_",
        ),
        (
            {"password": {"credential": "token"}},
            "checks[0].password: credential: 'token' is the agent's collector token",
        ),
        ({"password": 5}, 'checks[0].password: give the secret as text, { env = "UPWATCH_SECRET_..." }'),
    ],
)
def test_bad_config_names_the_key(fields: dict[str, Any], message: str) -> None:
    from pydantic import ValidationError

    from shared.checks import describe_error

    server = Server("127.0.0.1", 5432, "postgres", "x", Path("/"))
    with pytest.raises(ValidationError) as caught:
        pg_check(server, **fields)
    assert message in describe_error(caught.value, "checks[0]")

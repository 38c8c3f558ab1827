"""The mysql probe against a real MariaDB server (mariadb-install-db) started once per test session (tests/agent/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.probes import run_check
from agent.probes.context import ProbeContext
from shared.checks import parse_check
from tests.agent.conftest import closed_port
from tests.servers import Server


def my_check(server: Server, **fields: Any) -> Any:
    return parse_check(
        {
            "id": "my",
            "kind": "mysql",
            "host": server.host,
            "port": server.port,
            "user": server.user,
            "password": server.password,
            "interval": "10s",
            "timeout": "3s",
            **fields,
        }
    )


async def test_select_one(mariadb: Server, context: ProbeContext) -> None:
    result = await run_check(my_check(mariadb, conditions=["[RESULT] == 1", "[ROWS] == 1"]), context)
    assert result.status == "up", result.error
    assert result.detail["rows"] == 1 and result.detail["result"] == "1"
    assert "MariaDB" in str(result.detail["server"])


async def test_conditions_on_a_real_query(mariadb: Server, context: ProbeContext) -> None:
    check = my_check(mariadb, query="SHOW GLOBAL STATUS LIKE 'Threads_connected'", conditions=["[ROWS] == 1"])
    assert (await run_check(check, context)).status == "up"
    version = my_check(
        mariadb, query="SELECT @@version_comment", conditions=["[RESULT] == pat(*PostgreSQL*)"]
    )
    result = await run_check(version, context)
    assert result.status == "down"
    assert result.error is not None and result.error.startswith("[RESULT]: expected pat(*PostgreSQL*), got ")
    empty = my_check(
        mariadb, query="SELECT user FROM mysql.user WHERE user = 'nobody-here'", conditions=["[ROWS] >= 1"]
    )
    result = await run_check(empty, context)
    assert result.error == "[ROWS]: expected >= 1, got 0"


async def test_queries_are_read_only(mariadb: Server, context: ProbeContext) -> None:
    result = await run_check(my_check(mariadb, query="INSERT INTO probe.ticks VALUES (1)"), context)
    assert result.status == "down"
    assert result.error == "query failed: Cannot execute statement in a READ ONLY transaction (error 1792)"
    count = await run_check(
        my_check(mariadb, query="SELECT count(*) FROM probe.ticks", conditions=["[RESULT] == 0"]), context
    )
    assert count.status == "up", count.error


async def test_query_error_is_down(mariadb: Server, context: ProbeContext) -> None:
    result = await run_check(my_check(mariadb, query="SELECT * FROM mysql.no_such_table"), context)
    assert result.status == "down"
    assert result.error == "query failed: Table 'mysql.no_such_table' doesn't exist (error 1146)"


async def test_slow_query_hits_the_statement_limit(mariadb: Server, context: ProbeContext) -> None:
    result = await run_check(my_check(mariadb, query="SELECT SLEEP(5)", timeout="2s"), context)
    assert result.status == "down"
    assert (
        result.error
        == "query failed: Query execution was interrupted (max_statement_time exceeded) (error 1969)"
    )


async def test_wrong_password(mariadb: Server, context: ProbeContext) -> None:
    result = await run_check(my_check(mariadb, password="Wrong-Horse-9"), context)
    assert result.status == "down"
    assert result.error is not None
    assert result.error.startswith(
        f"authentication failed at 127.0.0.1:{mariadb.port}: Access denied for user 'watcher'"
    )
    assert "Wrong-Horse-9" not in result.model_dump_json()


async def test_refused(context: ProbeContext) -> None:
    port = closed_port()
    result = await run_check(my_check(Server("127.0.0.1", port, "u", "p", Path("/"))), context)
    assert result.status == "down"
    assert result.error is not None and result.error.startswith(
        f"cannot connect to mysql at 127.0.0.1:{port}: "
    )


async def test_silent_server_times_out(silent_port: int, context: ProbeContext) -> None:
    check = my_check(Server("127.0.0.1", silent_port, "u", "p", Path("/")), timeout="1s", interval="5s")
    result = await run_check(check, context)
    assert (result.status, result.error) == ("down", "timed out after 1s")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"port": 70000}, "checks[0].port:"),
        ({"tls": "maybe"}, "checks[0].tls:"),
        ({"conditions": ["[DOMAIN_EXPIRATION] > 1h"]}, "[DOMAIN_EXPIRATION] is not available here"),
        ({"database": "a\nb"}, "checks[0].database:"),
    ],
)
def test_bad_config_names_the_key(fields: dict[str, Any], message: str) -> None:
    from pydantic import ValidationError

    from shared.checks import describe_error

    with pytest.raises(ValidationError) as caught:
        my_check(Server("127.0.0.1", 3306, "u", "p", Path("/")), **fields)
    assert message in describe_error(caught.value, "checks[0]")

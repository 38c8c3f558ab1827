"""MySQL and MariaDB probe (aiomysql, extra `upwatch[mysql]`): connect, log in, run one query.

As with postgresql, the query (default `SELECT 1`) runs in a read-only
transaction that is rolled back, with the server's own statement limit set just
inside the check's timeout (`max_statement_time` on MariaDB, `max_execution_time`
on MySQL). `[RESULT]` is the first column of the first row, `[ROWS]` the number
of rows. Metrics: `connect_ms` (TCP, TLS and authentication), `query_ms`.
"""

from __future__ import annotations

import ssl
import time
from typing import Any

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from agent.probes.extras import MissingExtra
from agent.probes.verdict import excerpt, judged, result_value
from agent.secrets import SecretUnavailable, reveal
from shared.checks import MysqlCheck
from shared.conditions import Facts

# Server error codes (MySQL's and MariaDB's errmsg lists): a login the server refused.
ACCESS_DENIED_CODES = frozenset({1044, 1045, 1698, 1251})
STATEMENT_SHARE_OF_TIMEOUT = 0.9


@register("mysql")
async def probe_mysql(check: MysqlCheck, context: ProbeContext) -> Outcome:
    """Up when the server accepts the login and the query runs without an error."""
    try:
        import aiomysql
        import pymysql
    except ImportError as error:
        raise MissingExtra("mysql", error) from None
    try:
        password = reveal(check.password, "password", context.environ)
    except SecretUnavailable as error:
        return Outcome("down", str(error))
    where = f"{check.host}:{check.port}"
    timeout_s = check.timeout.total_seconds()
    began = time.perf_counter()
    try:
        connection = await aiomysql.connect(
            host=check.host,
            port=check.port,
            user=check.user,
            password=password or "",
            db=check.database,
            connect_timeout=timeout_s,
            ssl=ssl.create_default_context() if check.tls else None,
            program_name="upwatch",
            autocommit=False,
        )
    except pymysql.err.OperationalError as error:
        return _connect_failure(check, where, error)
    except (pymysql.err.MySQLError, OSError) as error:
        outcome = Outcome("down", f"cannot connect to mysql at {where}: {_message(error)}")
        return judged(outcome, check.conditions, Facts(connected=False))
    connect_ms = (time.perf_counter() - began) * 1000
    try:
        first, rows = await _query(connection, check.query, timeout_s * STATEMENT_SHARE_OF_TIMEOUT)
    except (pymysql.err.MySQLError, OSError) as error:
        return Outcome("down", f"query failed: {_message(error)}", {"connect_ms": round(connect_ms, 3)})
    finally:
        connection.close()
    total_ms = (time.perf_counter() - began) * 1000
    metrics = {"connect_ms": round(connect_ms, 3), "query_ms": round(total_ms - connect_ms, 3)}
    detail: dict[str, str | int | bool | None] = {"rows": rows, "server": connection.get_server_info()}
    if first is not None:
        detail["result"] = excerpt(first)
    facts = Facts(connected=True, result=first, rows=rows, response_time_ms=total_ms)
    return judged(Outcome("up", None, metrics, detail), check.conditions, facts)


async def _query(
    connection: Any, query: str, statement_timeout_s: float
) -> tuple[str | int | float | None, int]:
    """(first value, row count) of `query`, run read-only and rolled back."""
    async with connection.cursor() as cursor:
        if "MariaDB" in connection.get_server_info():
            await cursor.execute(f"SET SESSION max_statement_time = {statement_timeout_s:.3f}")
        else:
            await cursor.execute(f"SET SESSION max_execution_time = {int(statement_timeout_s * 1000)}")
        await cursor.execute("START TRANSACTION READ ONLY")
        try:
            # args=None: sent as written, no %-placeholder parsing of the operator's query.
            await cursor.execute(query, None)
            row = await cursor.fetchone() if cursor.description else None
            rows = max(cursor.rowcount, 0)
        finally:
            await connection.rollback()
    return (result_value(row[0]) if row else None), rows


def _connect_failure(check: MysqlCheck, where: str, error: Exception) -> Outcome:
    code = error.args[0] if error.args and isinstance(error.args[0], int) else None
    if code in ACCESS_DENIED_CODES:
        return Outcome("down", f"authentication failed at {where}: {_message(error)}")
    outcome = Outcome("down", f"cannot connect to mysql at {where}: {_message(error)}")
    return judged(outcome, check.conditions, Facts(connected=False))


def _message(error: Exception) -> str:
    # PyMySQL errors are (code, message) pairs; people read the message.
    if len(error.args) >= 2 and isinstance(error.args[1], str):
        return f"{error.args[1]} (error {error.args[0]})"
    return str(error) or type(error).__name__

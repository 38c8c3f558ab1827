"""PostgreSQL probe (psycopg 3, extra `upwatch[postgresql]`): connect, log in, run one query.

The query (default `SELECT 1`) runs in a read-only transaction that is always
rolled back, under a statement timeout just inside the check's timeout, so a
check can never change data or hold a lock past its run. `[RESULT]` is the first
column of the first row, `[ROWS]` the number of rows. Metrics: `connect_ms`
(TCP, TLS and authentication), `query_ms`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from agent.probes.extras import MissingExtra
from agent.probes.verdict import excerpt, judged, result_value
from agent.secrets import SecretUnavailable, reveal
from shared.checks import PostgresqlCheck
from shared.conditions import Facts

if TYPE_CHECKING:
    from psycopg import AsyncConnection

# SQLSTATE class 28: invalid authorization (28P01 wrong password, 28000 no pg_hba entry).
AUTH_SQLSTATE_CLASS = "28"
STATEMENT_SHARE_OF_TIMEOUT = 0.9


@register("postgresql")
async def probe_postgresql(check: PostgresqlCheck, context: ProbeContext) -> Outcome:
    """Up when the server accepts the login and the query runs without an error."""
    try:
        import psycopg
    except ImportError as error:
        raise MissingExtra("postgresql", error) from None
    try:
        password = reveal(check.password, "password", context.environ)
    except SecretUnavailable as error:
        return Outcome("down", str(error))
    where = f"{check.host}:{check.port}"
    timeout_s = check.timeout.total_seconds()
    began = time.perf_counter()
    try:
        connection = await psycopg.AsyncConnection.connect(
            host=check.host,
            port=check.port,
            user=check.user,
            password=password,
            dbname=check.database or check.user,
            sslmode=check.sslmode,
            connect_timeout=max(2, round(timeout_s)),  # libpq's minimum is 2 seconds
            application_name="upwatch",
        )
    except psycopg.OperationalError as error:
        return _connect_failure(check, where, error)
    connect_ms = (time.perf_counter() - began) * 1000
    try:
        async with connection:
            first, rows = await _query(connection, check.query, timeout_s * STATEMENT_SHARE_OF_TIMEOUT)
    except psycopg.Error as error:
        return Outcome("down", f"query failed: {_first_line(error)}", {"connect_ms": round(connect_ms, 3)})
    total_ms = (time.perf_counter() - began) * 1000
    metrics = {"connect_ms": round(connect_ms, 3), "query_ms": round(total_ms - connect_ms, 3)}
    detail: dict[str, str | int | bool | None] = {"rows": rows}
    if first is not None:
        detail["result"] = excerpt(first)
    facts = Facts(connected=True, result=first, rows=rows, response_time_ms=total_ms)
    return judged(Outcome("up", None, metrics, detail), check.conditions, facts)


async def _query(
    connection: AsyncConnection, query: str, statement_timeout_s: float
) -> tuple[str | int | float | None, int]:
    """(first value, row count) of `query`, run read-only and rolled back."""
    async with connection.transaction(force_rollback=True):
        await connection.execute("SET TRANSACTION READ ONLY")
        timeout_ms = max(1, int(statement_timeout_s * 1000))
        await connection.execute(f"SET LOCAL statement_timeout = {timeout_ms}")
        # Sent as written (no parameters, so no placeholder parsing): the operator's own query.
        cursor = await connection.execute(query.encode())
        row = await cursor.fetchone() if cursor.description else None
        rows = max(cursor.rowcount, 0)
    first = result_value(row[0]) if row else None
    return first, rows


def _connect_failure(check: PostgresqlCheck, where: str, error: Exception) -> Outcome:
    message = _first_line(error)
    sqlstate = getattr(error, "sqlstate", None) or ""
    if sqlstate.startswith(AUTH_SQLSTATE_CLASS) or "authentication failed" in message:
        return Outcome("down", f"authentication failed at {where}: {message}")
    outcome = Outcome("down", f"cannot connect to postgresql at {where}: {message}")
    return judged(outcome, check.conditions, Facts(connected=False))


def _first_line(error: Exception) -> str:
    """libpq's messages span lines (DETAIL, HINT, one line per address tried): keep the cause."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__

"""Redis probe (redis-py's asyncio client, extra `upwatch[redis]`): connect, authenticate, one command.

The command defaults to PING. Its raw reply is `[RESULT]` (PING answers PONG;
`INFO replication` answers the text block, so `[RESULT] == pat(*role:master*)`).
An error reply (`-ERR ...`, `-NOAUTH ...`) is `down` with the server's words.
Metrics: `connect_ms` (TCP, TLS, AUTH and SELECT), `command_ms`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from agent.probes.extras import MissingExtra
from agent.probes.verdict import excerpt, judged, result_value
from agent.secrets import SecretUnavailable, reveal
from shared.checks import RedisCheck
from shared.conditions import Facts


@register("redis")
async def probe_redis(check: RedisCheck, context: ProbeContext) -> Outcome:
    """Up when the server accepts the login and answers the command without an error."""
    try:
        import redis.asyncio
        import redis.exceptions
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError as error:
        raise MissingExtra("redis", error) from None
    try:
        password = reveal(check.password, "password", context.environ)
    except SecretUnavailable as error:
        return Outcome("down", str(error))
    timeout_s = check.timeout.total_seconds()
    where = f"{check.host}:{check.port}"
    client = redis.asyncio.Redis(
        host=check.host,
        port=check.port,
        db=check.database,
        username=check.username,
        password=password,
        ssl=check.tls,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        decode_responses=True,
        encoding_errors="replace",
        retry=Retry(NoBackoff(), 0),  # the check's own schedule is the retry
        single_connection_client=True,
        client_name="upwatch",
        protocol=2,  # RESP2: no HELLO, so servers before Redis 6 (and look-alikes) answer too
    )
    # No reply parsing: PING's raw PONG, not redis-py's True, is what a person writes in a condition.
    client.response_callbacks.clear()
    began = time.perf_counter()
    try:
        try:
            await client.initialize()
        except redis.exceptions.AuthenticationError as error:
            return Outcome("down", f"authentication failed at {where}: {error}")
        except redis.exceptions.ResponseError as error:
            return Outcome("down", f"redis at {where} refused the login: {error}")
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as error:
            return judged(
                Outcome("down", f"cannot connect to redis at {where}: {error}"),
                check.conditions,
                Facts(connected=False),
            )
        connect_ms = (time.perf_counter() - began) * 1000
        try:
            reply = await client.execute_command(*check.command)
        except redis.exceptions.ResponseError as error:
            return Outcome("down", f"{check.command[0]} failed: redis answered {error}")
        except (redis.exceptions.RedisError, OSError) as error:
            return Outcome("down", f"{check.command[0]} failed at {where}: {error}")
    finally:
        await client.aclose()
    total_ms = (time.perf_counter() - began) * 1000
    result = result_value(_flat(reply))
    metrics = {"connect_ms": round(connect_ms, 3), "command_ms": round(total_ms - connect_ms, 3)}
    detail: dict[str, str | int | bool | None] = {"result": excerpt(result)}
    facts = Facts(connected=True, result=result, response_time_ms=total_ms)
    return judged(Outcome("up", None, metrics, detail), check.conditions, facts)


def _flat(reply: Any) -> Any:
    # Arrays and maps (LRANGE, HGETALL, RESP3) compare as their JSON text.
    if isinstance(reply, list | dict | set | tuple):
        return json.dumps(reply if not isinstance(reply, set | tuple) else list(reply), default=str)
    return reply

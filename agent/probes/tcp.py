"""TCP probe: connect to host:port, measure the handshake; optionally send, then expect text.

Metrics: `connect_ms` (like blackbox_exporter's tcp `probe_duration_seconds`),
`total_ms` including the exchange.
"""

from __future__ import annotations

import asyncio
import time

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from shared.checks import TcpCheck
from shared.conditions import Facts, failed_conditions

MAX_READ_BYTES = 64 * 1024
READ_SHARE_OF_TIMEOUT = 0.8


@register("tcp")
async def probe_tcp(check: TcpCheck, context: ProbeContext) -> Outcome:
    """Up when the connection is accepted (and `expect` appears in what the peer sends)."""
    began = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection(check.host, check.port)
    except ConnectionRefusedError:
        return _judge(
            check, Outcome("down", f"connection refused ({check.host}:{check.port})"), Facts(connected=False)
        )
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        message = f"cannot connect to {check.host}:{check.port}: {reason}"
        return _judge(check, Outcome("down", message), Facts(connected=False))
    connect_ms = (time.perf_counter() - began) * 1000
    peer = writer.get_extra_info("peername")
    buffer = bytearray()
    try:
        if check.send is not None:
            writer.write(check.send.encode())
            await writer.drain()
        if check.expect is not None or any(c.placeholder == "BODY" for c in check.conditions):
            # Stop reading a little before the check's timeout, so the result can say what did arrive.
            budget_s = check.timeout.total_seconds() * READ_SHARE_OF_TIMEOUT - (time.perf_counter() - began)
            try:
                async with asyncio.timeout(max(0.0, budget_s)):
                    await _read_until(reader, check.expect.encode() if check.expect else None, buffer)
            except TimeoutError:
                pass
    except OSError as error:
        return Outcome("down", f"connection to {check.host}:{check.port} failed: {error.strerror or error}")
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass  # the peer may reset at once; what we needed already happened
    total_ms = (time.perf_counter() - began) * 1000
    received = bytes(buffer)
    metrics = {"connect_ms": round(connect_ms, 3), "total_ms": round(total_ms, 3)}
    ip = str(peer[0]) if peer else None
    detail: dict[str, str | int | bool | None] = {"ip": ip}
    if check.send is not None or check.expect is not None:
        detail["received_excerpt"] = received[:512].decode("utf-8", "replace")
    outcome = Outcome("up", None, metrics, detail)
    if check.expect is not None and check.expect.encode() not in received:
        shown = received[:80].decode("utf-8", "replace")
        message = f"expected {check.expect!r} from the peer, got {shown!r}"
        outcome = Outcome("down", message, metrics, detail)
    facts = Facts(connected=True, response_time_ms=connect_ms, body=received, ip=ip)
    return _judge(check, outcome, facts)


async def _read_until(reader: asyncio.StreamReader, expected: bytes | None, received: bytearray) -> None:
    """Read into `received` until `expected` shows up, the peer closes, or MAX_READ_BYTES."""
    while len(received) < MAX_READ_BYTES:
        chunk = await reader.read(MAX_READ_BYTES - len(received))
        if not chunk:
            return
        received += chunk
        if expected is None or expected in received:
            return


def _judge(check: TcpCheck, outcome: Outcome, facts: Facts) -> Outcome:
    problems = failed_conditions(check.conditions, facts)
    # A condition like "[CONNECTED] == false" turns a refused connection into the wanted result.
    if outcome.status == "down" and facts.connected is False and check.conditions:
        tests_connected = any(c.placeholder == "CONNECTED" for c in check.conditions)
        if tests_connected and not problems:
            return Outcome("up", None, outcome.metrics, outcome.detail)
    if problems and outcome.status == "up":
        return Outcome("down", "; ".join(problems), outcome.metrics, outcome.detail)
    return outcome

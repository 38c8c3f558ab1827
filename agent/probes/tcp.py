"""TCP probe: connect to host:port and measure how long the handshake took."""

from __future__ import annotations

import asyncio
import time

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from shared.checks import TcpCheck


@register("tcp")
async def probe_tcp(check: TcpCheck, context: ProbeContext) -> Outcome:
    """Up when the connection is accepted; the socket is closed at once."""
    began = time.perf_counter()
    try:
        _reader, writer = await asyncio.open_connection(check.host, check.port)
    except ConnectionRefusedError:
        return Outcome("down", f"connection refused ({check.host}:{check.port})")
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        return Outcome("down", f"cannot connect to {check.host}:{check.port}: {reason}")
    connect_ms = (time.perf_counter() - began) * 1000
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass  # the peer may reset at once; the connect already succeeded
    return Outcome("up", None, {"connect_ms": connect_ms})

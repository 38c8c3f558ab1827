"""UDP probe: send one datagram, wait for the answer, look for the expected bytes in it.

UDP has no connection to refuse; a closed port shows up only as the ICMP "port
unreachable" the kernel hands to a connected socket (as ConnectionRefusedError),
and a silent service or a dropped packet as no answer before the deadline.
The answer is `[BODY]`; metrics `rtt_ms` (send to answer).
"""

from __future__ import annotations

import asyncio
import time

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from shared.checks import UdpCheck
from shared.conditions import Facts, failed_conditions

MAX_DATAGRAM_BYTES = 65_535
# Give up waiting a little before the check's timeout, so the result can say so itself.
WAIT_SHARE_OF_TIMEOUT = 0.9


class _Receiver(asyncio.DatagramProtocol):
    """Hands the first datagram (or the first error) to a future."""

    def __init__(self) -> None:
        self.answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if not self.answer.done():
            self.answer.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)


@register("udp")
async def probe_udp(check: UdpCheck, context: ProbeContext) -> Outcome:
    """Up when an answer arrives in time, contains `expect` (when set) and the conditions hold."""
    where = f"{check.host}:{check.port}"
    loop = asyncio.get_running_loop()
    began = time.perf_counter()
    try:
        transport, receiver = await loop.create_datagram_endpoint(
            _Receiver, remote_addr=(check.host, check.port)
        )
    except OSError as error:
        return Outcome("down", f"cannot reach {where}: {error.strerror or error}")
    try:
        peer = transport.get_extra_info("peername")
        sent_at = time.perf_counter()
        transport.sendto(check.payload)
        wait_s = check.timeout.total_seconds() * WAIT_SHARE_OF_TIMEOUT - (sent_at - began)
        try:
            async with asyncio.timeout(max(0.0, wait_s)):
                answer = await receiver.answer
        except TimeoutError:
            return Outcome("down", f"no answer from {where} within {max(0.0, wait_s):.1f}s")
        except ConnectionRefusedError:
            return Outcome("down", f"port unreachable ({where} answered ICMP port unreachable)")
        except OSError as error:
            return Outcome("down", f"UDP exchange with {where} failed: {error.strerror or error}")
    finally:
        transport.close()
    rtt_ms = (time.perf_counter() - sent_at) * 1000
    ip = str(peer[0]) if peer else None
    metrics = {"rtt_ms": round(rtt_ms, 3), "answer_bytes": float(len(answer))}
    detail: dict[str, str | int | bool | None] = {
        "received_excerpt": answer[:512].decode("utf-8", "replace"),
        "received_hex": answer[:64].hex(),
        "ip": ip,
    }
    expected = check.expected
    if expected is not None and expected not in answer:
        wanted = check.expect if check.expect is not None else f"hex {check.expect_hex}"
        shown = answer[:80].decode("utf-8", "replace")
        return Outcome("down", f"expected {wanted!r} in the answer, got {shown!r}", metrics, detail)
    problems = failed_conditions(check.conditions, Facts(body=answer, response_time_ms=rtt_ms, ip=ip))
    if problems:
        return Outcome("down", "; ".join(problems), metrics, detail)
    return Outcome("up", None, metrics, detail)

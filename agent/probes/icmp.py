"""ICMP echo (ping) probe through icmplib: packet loss and round-trip times.

Linux lets an unprivileged process ping through "ping sockets" when its group
is inside `net.ipv4.ping_group_range` (icmp(7)); otherwise raw sockets need
root or CAP_NET_RAW. The probe tries the unprivileged socket first, then a
raw one, and otherwise says what to configure. Metrics (like blackbox_exporter's
icmp module): `rtt_min_ms`, `rtt_avg_ms`, `rtt_max_ms`, `packet_loss_percent`,
`packets_sent`, `packets_received`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from shared.checks import IcmpCheck
from shared.conditions import Facts, failed_conditions

if TYPE_CHECKING:
    import icmplib

# icmplib is imported when an icmp check first runs (memory an agent without them should not carry).
PING_GROUP_RANGE = Path("/proc/sys/net/ipv4/ping_group_range")


def permission_help() -> str:
    """What to configure so this process may ping."""
    try:
        current = " ".join(PING_GROUP_RANGE.read_text().split())
    except OSError:
        current = "unknown"
    return (
        f"ICMP not permitted for this agent (uid {os.geteuid()}, gid {os.getegid()}): allow unprivileged"
        f' ping sockets with sysctl net.ipv4.ping_group_range="0 2147483647" (now "{current}"),'
        " or give the agent CAP_NET_RAW (systemd: AmbientCapabilities=CAP_NET_RAW)"
    )


async def ping(check: IcmpCheck) -> tuple[icmplib.Host, str]:
    """Ping with the first socket kind the kernel allows; returns (host, "unprivileged" | "raw").

    Raises icmplib.SocketPermissionError when neither is allowed.
    """
    import icmplib

    options = {
        "count": check.count,
        "interval": check.packet_interval.total_seconds(),
        "timeout": check.packet_timeout.total_seconds(),
    }
    try:
        return await icmplib.async_ping(check.host, privileged=False, **options), "unprivileged"
    except icmplib.SocketPermissionError:
        return await icmplib.async_ping(check.host, privileged=True, **options), "raw"


@register("icmp")
async def probe_icmp(check: IcmpCheck, context: ProbeContext) -> Outcome:
    """Down when no reply came back; degraded when loss exceeds max_packet_loss_percent."""
    import icmplib

    try:
        host, mode = await ping(check)
    except icmplib.SocketPermissionError:
        return Outcome("down", permission_help())
    except icmplib.NameLookupError:
        return Outcome("down", f"cannot resolve host {check.host}")
    except (icmplib.ICMPLibError, OSError) as error:
        return Outcome("down", f"ping {check.host} failed: {error}")
    loss_percent = round(host.packet_loss * 100, 3)
    metrics = {
        "packet_loss_percent": loss_percent,
        "packets_sent": float(host.packets_sent),
        "packets_received": float(host.packets_received),
    }
    if host.packets_received:
        metrics.update({"rtt_min_ms": host.min_rtt, "rtt_avg_ms": host.avg_rtt, "rtt_max_ms": host.max_rtt})
    detail: dict[str, str | int | bool | None] = {"address": host.address, "socket": mode}
    facts = Facts(
        connected=host.packets_received > 0,
        response_time_ms=host.avg_rtt if host.packets_received else None,
        ip=host.address,
    )
    problems = failed_conditions(check.conditions, facts)
    if not host.packets_received:
        return Outcome(
            "down", f"no reply from {check.host} ({host.packets_sent} packets sent)", metrics, detail
        )
    if problems:
        return Outcome("down", "; ".join(problems), metrics, detail)
    if loss_percent > check.max_packet_loss_percent:
        message = f"packet loss {loss_percent:g}% (max {check.max_packet_loss_percent:g}%)"
        return Outcome("degraded", message, metrics, detail)
    return Outcome("up", None, metrics, detail)

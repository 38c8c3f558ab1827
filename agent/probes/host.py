"""Host health through psutil: CPU, memory and disk use against optional limits.

Metric names follow what node_exporter users know by meaning:
`cpu_percent` ~ 1 - rate(node_cpu_seconds_total{mode="idle"}),
`memory_used_percent` ~ 1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes,
`disk_used_percent:<mount>` ~ 1 - node_filesystem_avail_bytes / node_filesystem_size_bytes,
`load1_per_core` ~ node_load1 / count(node_cpu_seconds_total{mode="idle"}).
"""

from __future__ import annotations

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from shared.checks import HostCheck


@register("host")
async def probe_host(check: HostCheck, context: ProbeContext) -> Outcome:
    """Read the host's figures; `degraded` when any configured limit is exceeded."""
    ps = context.psutil
    # interval=None compares with the previous call: no blocking sleep in the event loop.
    metrics: dict[str, float] = {
        "cpu_percent": float(ps.cpu_percent(interval=None)),
        "memory_used_percent": float(ps.virtual_memory().percent),
        "load1_per_core": float(ps.getloadavg()[0]) / max(1, ps.cpu_count() or 1),
    }
    breaches: list[str] = []
    for mount in check.mounts:
        try:
            usage = ps.disk_usage(mount)
        except OSError as error:
            return Outcome("down", f"cannot read disk usage of {mount}: {error.strerror or error}")
        metrics[f"disk_used_percent:{mount}"] = float(usage.percent)
        if check.disk_percent_max is not None and usage.percent > check.disk_percent_max:
            breaches.append(f"disk {mount} {usage.percent:.1f}% > {check.disk_percent_max:g}%")
    if check.cpu_percent_max is not None and metrics["cpu_percent"] > check.cpu_percent_max:
        breaches.append(f"cpu {metrics['cpu_percent']:.1f}% > {check.cpu_percent_max:g}%")
    memory = metrics["memory_used_percent"]
    if check.memory_percent_max is not None and memory > check.memory_percent_max:
        breaches.append(f"memory {memory:.1f}% > {check.memory_percent_max:g}%")
    if breaches:
        return Outcome("degraded", "; ".join(breaches), metrics)
    return Outcome("up", None, metrics)

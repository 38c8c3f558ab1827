"""Host health through psutil (passed in as `context.psutil`, so tests replay recorded values).

Metrics and the node_exporter expression of the same meaning:

    cpu_percent                  100 * (1 - avg(rate(node_cpu_seconds_total{mode=~"idle|iowait"}[i])))
    load1_per_core               node_load1 / count(node_cpu_seconds_total{mode="idle"})
    memory_used_percent          100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)
    swap_used_percent            100 * (1 - node_memory_SwapFree_bytes / node_memory_SwapTotal_bytes)
    disk_used_percent:<mount>    100 * (1 - node_filesystem_avail_bytes / node_filesystem_size_bytes)
                                 (psutil leaves root-reserved blocks out of the total, as `df` does)
    inodes_used_percent:<mount>  100 * (1 - node_filesystem_files_free / node_filesystem_files)
    uptime_s                     node_time_seconds - node_boot_time_seconds
    processes:<name>             no node_exporter metric; process-exporter's namedprocess_namegroup_num_procs

CPU is measured between two runs of the same check (the first run samples
over a quarter second). Limits (`*_max`) and `thresholds` make the result
`degraded`; a threshold with a duration (`cpu > 90 for 5m`) only once it has
held that long. A missing process is `down`. `mounts = ["*"]` measures every
real filesystem, skipping the pseudo ones node_exporter skips by default,
and tmpfs/ramfs (memory, not disk).
"""

from __future__ import annotations

import asyncio
import fnmatch
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from shared.checks import HostCheck
from shared.schema import MAX_METRICS
from shared.thresholds import Threshold, parse_threshold
from shared.timeutil import format_duration

# node_exporter's default --collector.filesystem.fs-types-exclude, plus tmpfs and ramfs.
PSEUDO_FILESYSTEMS = frozenset(
    (
        "tmpfs ramfs autofs binfmt_misc bpf cgroup cgroup2 configfs debugfs devpts devtmpfs fusectl"
        " hugetlbfs iso9660 mqueue nsfs overlay proc procfs pstore rpc_pipefs securityfs selinuxfs"
        " squashfs erofs sysfs tracefs"
    ).split()
)
MAX_MOUNTS = 20
CPU_FIRST_SAMPLE_S = 0.25
_METRIC_UNSAFE = re.compile(r"[^a-zA-Z0-9_.:/-]")


def legacy_thresholds(check: HostCheck) -> list[Threshold]:
    """The `*_max` fields as thresholds without a duration."""
    limits = {
        "cpu": check.cpu_percent_max,
        "memory": check.memory_percent_max,
        "swap": check.swap_percent_max,
        "load": check.load_per_core_max,
        "disk": check.disk_percent_max,
        "inodes": check.inodes_percent_max,
    }
    return [parse_threshold(f"{metric} > {limit:g}") for metric, limit in limits.items() if limit is not None]


async def cpu_percent(ps: Any, memory: dict[str, Any]) -> float:
    """Busy percent since this check's previous run (idle and iowait count as not busy)."""
    previous = memory.get("cpu_times")
    if previous is None:
        previous = ps.cpu_times()
        await asyncio.sleep(CPU_FIRST_SAMPLE_S)
    current = ps.cpu_times()
    memory["cpu_times"] = current

    def idle(times: Any) -> float:
        return float(times.idle) + float(getattr(times, "iowait", 0.0))

    total = sum(current) - sum(previous)
    if total <= 0:
        return 0.0
    return round(max(0.0, min(100.0, 100.0 * (1 - (idle(current) - idle(previous)) / total))), 3)


def mounts_to_measure(check: HostCheck, ps: Any) -> list[str]:
    mounts: list[str] = []
    for mount in check.mounts:
        if mount == "*":
            for partition in ps.disk_partitions(all=True):
                if partition.fstype not in PSEUDO_FILESYSTEMS and partition.mountpoint not in mounts:
                    mounts.append(partition.mountpoint)
        elif mount not in mounts:
            mounts.append(mount)
    return mounts[:MAX_MOUNTS]


def inodes_used_percent(statvfs: Callable[[str], Any], mount: str) -> float | None:
    """None for filesystems without an inode count (btrfs reports 0)."""
    stats = statvfs(mount)
    if not stats.f_files:
        return None
    return round(100.0 * (stats.f_files - stats.f_ffree) / stats.f_files, 3)


def count_processes(ps: Any, check: HostCheck) -> dict[str, int]:
    counts = {match.label: 0 for match in check.processes}
    if not check.processes:
        return counts
    for process in ps.process_iter(["name", "cmdline"]):
        info = process.info
        name = info.get("name") or ""
        cmdline = " ".join(info.get("cmdline") or [])
        for match in check.processes:
            if match.name is not None and name == match.name:
                counts[match.label] += 1
            elif match.cmdline is not None and cmdline and fnmatch.fnmatchcase(cmdline, match.cmdline):
                counts[match.label] += 1
    return counts


@register("host")
async def probe_host(check: HostCheck, context: ProbeContext) -> Outcome:
    """Read the host's figures; `degraded` when a limit is exceeded, `down` when a process is missing."""
    ps = context.psutil
    memory = context.memory_of(check.id)
    now = context.clock()
    metrics: dict[str, float] = {"cpu_percent": await cpu_percent(ps, memory)}
    metrics["load1_per_core"] = round(float(ps.getloadavg()[0]) / max(1, ps.cpu_count() or 1), 3)
    metrics["memory_used_percent"] = float(ps.virtual_memory().percent)
    swap = ps.swap_memory()
    metrics["swap_used_percent"] = float(swap.percent) if swap.total else 0.0
    metrics["uptime_s"] = round(max(0.0, now.timestamp() - float(ps.boot_time())), 3)
    subjects: dict[str, list[tuple[str, float]]] = {
        "cpu": [("cpu", metrics["cpu_percent"])],
        "load": [("load per core", metrics["load1_per_core"])],
        "memory": [("memory", metrics["memory_used_percent"])],
        "swap": [("swap", metrics["swap_used_percent"])],
        "disk": [],
        "inodes": [],
    }
    for mount in mounts_to_measure(check, ps):
        try:
            used = float(ps.disk_usage(mount).percent)
            inodes = inodes_used_percent(context.statvfs, mount)
        except OSError as error:
            return Outcome("down", f"cannot read disk usage of {mount}: {error.strerror or error}", metrics)
        _add_metric(metrics, f"disk_used_percent:{mount}", used)
        subjects["disk"].append((f"disk {mount}", used))
        if inodes is not None:
            _add_metric(metrics, f"inodes_used_percent:{mount}", inodes)
            subjects["inodes"].append((f"inodes {mount}", inodes))
    breaches = _breaches(legacy_thresholds(check) + list(check.thresholds), subjects, memory, now)
    problems: list[str] = []
    counts = count_processes(ps, check)
    for match in check.processes:
        _add_metric(metrics, f"processes:{match.label}", float(counts[match.label]))
        if counts[match.label] < match.min_count:
            problems.append(f"process {match.label} not running ({counts[match.label]} of {match.min_count})")
    if check.min_uptime is not None and metrics["uptime_s"] < check.min_uptime.total_seconds():
        uptime = format_duration(timedelta(seconds=metrics["uptime_s"]))
        breaches.append(
            f"host rebooted {uptime} ago (uptime below min_uptime {format_duration(check.min_uptime)})"
        )
    if problems:
        return Outcome("down", "; ".join(problems + breaches), metrics)
    if breaches:
        return Outcome("degraded", "; ".join(breaches), metrics)
    return Outcome("up", None, metrics)


def _breaches(
    thresholds: list[Threshold],
    subjects: dict[str, list[tuple[str, float]]],
    memory: dict[str, Any],
    now: datetime,
) -> list[str]:
    """Thresholds breached for at least their duration; remembers since when each one holds."""
    since: dict[str, datetime] = memory.setdefault("breached_since", {})
    seen: set[str] = set()
    messages: list[str] = []
    for threshold in thresholds:
        for subject, value in subjects[threshold.metric]:
            key = f"{threshold.text}|{subject}"
            if not threshold.breached_by(value):
                continue
            seen.add(key)
            started = since.setdefault(key, now)
            held_for = now - started
            if held_for >= threshold.duration:
                messages.append(threshold.describe(subject, value, held_for if threshold.duration else None))
    for key in set(since) - seen:
        del since[key]  # back within limits: the next breach starts its clock again
    return messages


def _add_metric(metrics: dict[str, float], name: str, value: float) -> None:
    if len(metrics) < MAX_METRICS:
        metrics[_METRIC_UNSAFE.sub("_", name)[:64]] = value

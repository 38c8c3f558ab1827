"""The host probe through recorded psutil figures (a replaying fake at the one psutil seam),
plus one real read of this machine."""

from __future__ import annotations

import json
from collections import namedtuple
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest

from agent.probes import run_check
from agent.probes.context import ProbeContext
from shared.checks import parse_check
from tests.conftest import FrozenClock

FIXTURES = Path(__file__).parent / "fixtures"


class RecordedPsutil:
    """Answers like psutil from a JSON recording; cpu_times replays its samples in order."""

    def __init__(self, name: str):
        self.data = json.loads((FIXTURES / name).read_text())
        self._cpu = iter(self.data["cpu_times"])
        self.cpu_fields = namedtuple("scputimes", self.data["cpu_times"][0])  # type: ignore[misc]

    def cpu_times(self) -> Any:
        return self.cpu_fields(**next(self._cpu))

    def virtual_memory(self) -> Any:
        return SimpleNamespace(**self.data["virtual_memory"])

    def swap_memory(self) -> Any:
        return SimpleNamespace(**self.data["swap_memory"])

    def getloadavg(self) -> tuple[float, float, float]:
        return tuple(self.data["loadavg"])  # type: ignore[return-value]

    def cpu_count(self) -> int:
        return int(self.data["cpu_count"])

    def boot_time(self) -> float:
        return float(self.data["boot_time"])

    def disk_partitions(self, all: bool = False) -> list[Any]:
        return [SimpleNamespace(**p) for p in self.data["disk_partitions"]]

    def disk_usage(self, mount: str) -> Any:
        if mount not in self.data["disk_usage"]:
            raise FileNotFoundError(2, "No such file or directory")
        return SimpleNamespace(**self.data["disk_usage"][mount])

    def statvfs(self, mount: str) -> Any:
        return SimpleNamespace(**self.data["statvfs"][mount])

    def process_iter(self, attrs: list[str]) -> list[Any]:
        return [SimpleNamespace(info=p) for p in self.data["processes"]]


@pytest.fixture
def recorded(context: ProbeContext) -> ProbeContext:
    fake = RecordedPsutil("host_busy.json")
    context.psutil = fake
    context.statvfs = fake.statvfs
    # 20 minutes after the recorded boot time.
    context.clock = FrozenClock(datetime.fromtimestamp(fake.boot_time() + 1200, tz=UTC))
    return context


def host_check(**fields: Any) -> Any:
    return parse_check({"id": "host", "kind": "host", "interval": "1m", **fields})


async def test_metrics_from_recorded_figures(recorded: ProbeContext) -> None:
    result = await run_check(host_check(mounts=["*"]), recorded)
    assert result.status == "up"
    m = result.metrics
    assert m["cpu_percent"] == pytest.approx(100 * 19 / 19.5, abs=0.01)  # 19 busy of 19.5 seconds
    assert m["load1_per_core"] == pytest.approx(1.916, abs=0.001)
    assert m["memory_used_percent"] == 92.5
    assert m["swap_used_percent"] == 50.0
    assert m["uptime_s"] == 1200
    # Pseudo filesystems (proc, sysfs, devtmpfs, tmpfs, cgroup2, overlay) are ignored.
    assert sorted(k for k in m if k.startswith("disk_used_percent")) == [
        "disk_used_percent:/",
        "disk_used_percent:/var/lib/postgresql",
    ]
    assert m["inodes_used_percent:/var/lib/postgresql"] == 98.0


async def test_limits_make_it_degraded(recorded: ProbeContext) -> None:
    check = host_check(
        mounts=["/", "/var/lib/postgresql"], memory_percent_max=90, disk_percent_max=85, inodes_percent_max=95
    )
    result = await run_check(check, recorded)
    assert result.status == "degraded"
    assert result.error == (
        "memory 92.5% > 90; disk /var/lib/postgresql 90.0% > 85; inodes /var/lib/postgresql 98.0% > 95"
    )


async def test_threshold_with_duration_waits(recorded: ProbeContext) -> None:
    clock = recorded.clock
    assert isinstance(clock, FrozenClock)
    check = host_check(thresholds=["cpu > 90 for 5m", "load > 1.5"])
    first = await run_check(check, recorded)
    assert first.status == "degraded"
    assert first.error == "load per core 1.9 > 1.5"  # the cpu breach has only just started
    clock.advance(minutes=5, seconds=10)
    second = await run_check(check, recorded)
    assert second.error == "cpu 89.7% > 90 for 5m 10s; load per core 1.9 > 1.5" or second.error.startswith(
        "cpu"
    )


async def test_threshold_clock_restarts_after_recovery(recorded: ProbeContext) -> None:
    check = host_check(thresholds=["memory > 90 for 10m"])
    memory = recorded.memory_of("host")
    clock = recorded.clock
    assert isinstance(clock, FrozenClock)
    await run_check(check, recorded)
    assert memory["breached_since"]
    recorded.psutil.data["virtual_memory"]["percent"] = 40.0
    clock.advance(minutes=11)
    result = await run_check(check, recorded)
    assert result.status == "up"
    assert memory["breached_since"] == {}


async def test_processes_by_name_and_cmdline(recorded: ProbeContext) -> None:
    check = host_check(
        processes=[
            {"name": "postgres", "min_count": 2},
            {"cmdline": "*gunicorn*statuspage*"},
            {"name": "nginx"},
        ]
    )
    result = await run_check(check, recorded)
    assert result.status == "down"
    assert result.error == "process nginx not running (0 of 1)"
    assert result.metrics["processes:postgres"] == 2
    assert result.metrics["processes:cmdline__gunicorn_statuspage_"] == 1


async def test_recent_reboot(recorded: ProbeContext) -> None:
    result = await run_check(host_check(min_uptime="1h"), recorded)
    assert result.status == "degraded"
    assert result.error == "host rebooted 20m ago (uptime below min_uptime 1h)"


async def test_unknown_mount(recorded: ProbeContext) -> None:
    result = await run_check(host_check(mounts=["/srv/none"]), recorded)
    assert result.error == "cannot read disk usage of /srv/none: No such file or directory"


async def test_real_read_of_this_machine(context: ProbeContext) -> None:
    check = host_check(mounts=["/"], processes=[{"cmdline": "*pytest*"}])
    result = await run_check(check, context)
    assert result.status == "up", result.error
    assert 0 <= result.metrics["cpu_percent"] <= 100
    assert result.metrics["uptime_s"] == pytest.approx(
        context.clock().timestamp() - psutil.boot_time(), abs=60
    )
    assert result.metrics["processes:cmdline__pytest_"] >= 1
    assert timedelta(seconds=result.metrics["uptime_s"]) > timedelta(0)

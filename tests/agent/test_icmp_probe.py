"""The icmp probe: ping 127.0.0.1 for real, in this process and inside network namespaces the
test creates (where it sets net.ipv4.ping_group_range itself and may drop CAP_NET_RAW)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.probes import run_check
from agent.probes.context import ProbeContext
from shared.checks import parse_check

ROOT = Path(__file__).resolve().parents[2]
CHECK = {
    "id": "ping",
    "kind": "icmp",
    "host": "127.0.0.1",
    "count": 2,
    "packet_timeout": "1s",
    "timeout": "3s",
}
RUN_PROBE = f"""
import asyncio
from agent.daemon import new_session
from agent.probes import run_check
from agent.probes.context import ProbeContext
from shared.checks import parse_check

async def main():
    async with new_session() as session:
        result = await run_check(parse_check({CHECK!r}), ProbeContext(session=session))
    print(result.model_dump_json())

asyncio.run(main())
"""


def in_namespace(ping_group_range: str, *, drop_raw: bool) -> dict[str, Any]:
    """Run the probe in a fresh network namespace; skip (saying why) where one cannot be made."""
    if not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("needs unshare(1) and ip(8) to build a network namespace")
    prefix = "setpriv --bounding-set=-net_raw --inh-caps=-net_raw " if drop_raw else ""
    script = (
        "ip link set lo up && "
        f"sysctl -qw net.ipv4.ping_group_range='{ping_group_range}' && "
        f'{prefix}"$0" -c "$1"'
    )
    completed = subprocess.run(
        ["unshare", "--net", "sh", "-c", script, sys.executable, RUN_PROBE],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if completed.returncode != 0 and "unshare failed" in completed.stderr:
        pytest.skip(f"cannot create a network namespace here: {completed.stderr.strip()[:200]}")
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def ping_allowed_here() -> bool:
    low, high = (int(x) for x in Path("/proc/sys/net/ipv4/ping_group_range").read_text().split())
    return os.geteuid() == 0 or low <= os.getegid() <= high


@pytest.mark.skipif(not ping_allowed_here(), reason="this host forbids ping sockets and we are not root")
async def test_ping_loopback_in_this_process(context: ProbeContext) -> None:
    result = await run_check(parse_check(CHECK), context)
    assert result.status == "up", result.error
    assert result.metrics["packet_loss_percent"] == 0
    assert result.metrics["packets_received"] == 2
    assert 0 <= result.metrics["rtt_min_ms"] <= result.metrics["rtt_avg_ms"] <= result.metrics["rtt_max_ms"]


def test_unprivileged_ping_socket_in_namespace() -> None:
    result = in_namespace("0 2147483647", drop_raw=True)
    assert result["status"] == "up", result["error"]
    assert result["detail"]["socket"] == "unprivileged"


def test_raw_socket_when_ping_sockets_are_forbidden() -> None:
    if os.geteuid() != 0:
        pytest.skip("raw ICMP sockets need root")
    result = in_namespace("1 0", drop_raw=False)
    assert result["status"] == "up", result["error"]
    assert result["detail"]["socket"] == "raw"


def test_neither_allowed_says_what_to_configure() -> None:
    result = in_namespace("1 0", drop_raw=True)
    assert result["status"] == "down"
    assert 'net.ipv4.ping_group_range="0 2147483647" (now "1 0")' in result["error"]
    assert "CAP_NET_RAW" in result["error"]

"""Agent benchmark (prints figures; not a test).

1. Footprint: one real `upwatch-agent run` with 200 HTTP checks at a 10 s
   interval plus a host check, against a local target, for 60 s (after a 12 s
   warm-up so every check has started): peak RSS and mean CPU % of the agent
   process. Targets: RSS <= 60 MB, CPU <= 5 % of one core.
2. Throughput: the most HTTP checks per second one agent process sustains
   against a local target, every check on a fresh connection (the agent's
   session closes each connection, as in production). Target: >= 1,000/s.

The target and the stand-in collector run in separate processes so only the
agent's own work is measured. Run: .venv/bin/python bench/agent.py
(`--seconds N` shortens part 1; `--only footprint|throughput`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Target(asyncio.Protocol):
    """The cheapest honest HTTP/1.1 server: read the request head, answer 200, close."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if b"\r\n\r\n" in self.buffer:
            self.transport.write(RESPONSE)  # type: ignore[attr-defined]
            self.transport.close()


async def serve_target(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Target, "127.0.0.1", port, reuse_port=True, backlog=4096)
    async with server:
        await server.serve_forever()


async def serve_collector(port: int, counter_file: Path) -> None:
    """Stand-in for the collector's agent API: empty assignments, acknowledge every report."""
    from aiohttp import web

    received = 0

    async def assignments(_request: web.Request) -> web.Response:
        body = {"protocol": 1, "agent": "bench", "generated_at": "2026-11-27T12:00:00+00:00", "checks": []}
        return web.json_response(body, headers={"ETag": '"bench"'})

    async def reports(request: web.Request) -> web.Response:
        nonlocal received
        report = await request.json()
        ids = [result["id"] for result in report["results"]]
        received += len(ids)
        counter_file.write_text(str(received))
        return web.json_response({"accepted": len(ids), "duplicates": 0, "acknowledged": ids})

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get("/api/v1/agent/assignments", assignments)
    app.router.add_post("/api/v1/agent/reports", reports)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


def start_helper(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, *args], start_new_session=True)  # noqa: S603


def wait_port(port: int, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"port {port} never opened")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def footprint(seconds: float, checks: int = 200, warmup_s: float = 12.0) -> dict[str, float]:
    import psutil

    target_port, collector_port = free_port(), free_port()
    workdir = Path(tempfile.mkdtemp(prefix="upwatch-bench-"))
    counter = workdir / "received"
    helpers = [
        start_helper("--serve-target", str(target_port)),
        start_helper("--serve-collector", str(collector_port), str(counter)),
    ]
    lines = []
    for index in range(checks):
        lines += [
            "[[checks]]",
            f'id = "http-{index}"',
            'kind = "http"',
            f'url = "http://127.0.0.1:{target_port}/item/{index}"',
            'interval = "10s"',
            'timeout = "5s"',
            "",
        ]
    lines += ["[[checks]]", 'id = "host"', 'kind = "host"', 'interval = "10s"', 'mounts = ["*"]', ""]
    config = workdir / "agent.toml"
    config.write_text("\n".join(lines))
    env = {
        **os.environ,
        "UPWATCH_AGENT_CONFIG": str(config),
        "UPWATCH_AGENT_COLLECTOR_URL": f"http://127.0.0.1:{collector_port}",
        "UPWATCH_AGENT_TOKEN": "uwa_bench",
        "UPWATCH_AGENT_NAME": "bench",
        "UPWATCH_AGENT_SPOOL_PATH": str(workdir / "spool.db"),
    }
    agent_bin = Path(sys.executable).parent / "upwatch-agent"
    try:
        for helper_port in (target_port, collector_port):
            wait_port(helper_port)
        log = (workdir / "agent.log").open("wb")
        agent = subprocess.Popen(  # noqa: S603
            [str(agent_bin), "run"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        process = psutil.Process(agent.pid)
        time.sleep(warmup_s)
        peak_rss = process.memory_info().rss
        cpu_start = sum(process.cpu_times()[:2])
        received_start = int(counter.read_text()) if counter.exists() else 0
        began = time.monotonic()
        while time.monotonic() - began < seconds:
            time.sleep(0.5)
            peak_rss = max(peak_rss, process.memory_info().rss)
        elapsed = time.monotonic() - began
        cpu_used = sum(process.cpu_times()[:2]) - cpu_start
        received = int(counter.read_text()) - received_start
        stop(agent)
    finally:
        for helper in helpers:
            stop(helper)
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "seconds": round(elapsed, 1),
        "peak_rss_mb": round(peak_rss / 1e6, 1),
        "cpu_percent_of_one_core": round(100 * cpu_used / elapsed, 2),
        "results_per_s": round(received / elapsed, 1),
    }


async def _throughput_run(port: int, concurrency: int, seconds: float) -> tuple[float, int, int, float]:
    from agent.daemon import new_session
    from agent.probes import run_check
    from agent.probes.context import ProbeContext
    from shared.checks import parse_check

    check = parse_check(
        {"id": "t", "kind": "http", "url": f"http://127.0.0.1:{port}/", "interval": "10s", "timeout": "5s"}
    )
    ok = failed = 0
    async with new_session() as session:
        context = ProbeContext(session=session)
        deadline = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal ok, failed
            while time.monotonic() < deadline:
                result = await run_check(check, context)
                if result.status == "up":
                    ok += 1
                else:
                    failed += 1

        began = time.monotonic()
        cpu_began = time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - began
        cpu_s = time.process_time() - cpu_began
    return ok / elapsed, ok, failed, cpu_s


def throughput(seconds: float = 8.0) -> dict[str, object]:
    port = free_port()
    targets = [start_helper("--serve-target", str(port)) for _ in range(2)]  # reuse_port: 2 processes
    try:
        wait_port(port)
        rates = {}
        for concurrency in (25, 50, 100):
            rate, ok, failed, cpu_s = asyncio.run(_throughput_run(port, concurrency, seconds))
            rates[concurrency] = {
                "checks_per_s": round(rate),
                "ok": ok,
                "failed": failed,
                # Load-independent: what one core would sustain if the agent had it to itself.
                "checks_per_cpu_s": round(ok / cpu_s) if cpu_s else 0,
                "cpu_share_of_one_core": round(cpu_s / seconds, 2),
            }
    finally:
        for target in targets:
            stop(target)
    best = max(rates.items(), key=lambda item: item[1]["checks_per_s"])
    return {
        "by_concurrency": rates,
        "best_checks_per_s": best[1]["checks_per_s"],
        "best_concurrency": best[0],
        "checks_per_cpu_s": best[1]["checks_per_cpu_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve-target", type=int)
    parser.add_argument("--serve-collector", nargs=2)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--only", choices=["footprint", "throughput"])
    args = parser.parse_args()
    if args.serve_target:
        asyncio.run(serve_target(args.serve_target))
        return
    if args.serve_collector:
        asyncio.run(serve_collector(int(args.serve_collector[0]), Path(args.serve_collector[1])))
        return
    import psutil

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start", flush=True)
    if args.only in (None, "footprint"):
        figures = footprint(args.seconds)
        print("footprint (200 HTTP checks at 10 s + host check, real agent process):", json.dumps(figures))
        print(
            f"  peak RSS {figures['peak_rss_mb']} MB (target <= 60), "
            f"CPU {figures['cpu_percent_of_one_core']} % of one core (target <= 5)",
            flush=True,
        )
    if args.only in (None, "throughput"):
        figures_t = throughput()
        print("throughput (fresh connection per check):", json.dumps(figures_t))
        print(
            f"  best {figures_t['best_checks_per_s']} checks/s wall clock (target >= 1000);"
            f" {figures_t['checks_per_cpu_s']} checks per CPU-second of the agent process",
            flush=True,
        )
    print(f"load average {psutil.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()

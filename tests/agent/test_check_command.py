"""`upwatch-agent check --json` runs every kind once, as a real subprocess against local things."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from aiohttp import web

from tests.agent.conftest import ServeFn
from tests.agent.test_dns_probe import Responder
from tests.agent.test_icmp_probe import ping_allowed_here
from tests.agent.tlsutil import Pki
from tests.helpers import BIN


async def test_every_agent_kind_through_the_check_command(tmp_path: Path, serve: ServeFn, pki: Pki) -> None:
    app = web.Application()

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "UP"})

    app.router.add_get("/health", health)
    http_port = await serve(app)
    tls_port = await serve(web.Application(), pki.server_context("valid"))
    loop = asyncio.get_running_loop()
    dns_transport, _ = await loop.create_datagram_endpoint(Responder, local_addr=("127.0.0.1", 0))
    dns_port = dns_transport.get_extra_info("sockname")[1]
    (tmp_path / "backup.tar").write_bytes(b"x" * 2048)
    checks = f"""
[[checks]]
id = "k-http"
kind = "http"
url = "http://127.0.0.1:{http_port}/health"
conditions = ["[STATUS] == 200", "[BODY].status == UP"]

[[checks]]
id = "k-tcp"
kind = "tcp"
host = "127.0.0.1"
port = {http_port}

[[checks]]
id = "k-icmp"
kind = "icmp"
host = "127.0.0.1"
count = 1

[[checks]]
id = "k-dns"
kind = "dns"
query = "www.acme.test"
server = "127.0.0.1"
server_port = {dns_port}
expect = ["192.0.2.10"]

[[checks]]
id = "k-tls"
kind = "tls"
host = "127.0.0.1"
port = {tls_port}
server_name = "localhost"
ca_file = "{pki.ca_file}"

[[checks]]
id = "k-host"
kind = "host"
mounts = ["/"]

[[checks]]
id = "k-file"
kind = "file"
path = "{tmp_path / "backup.tar"}"
max_age = "1h"
min_size = 1024

[[checks]]
id = "k-command"
kind = "command"
argv = ["true"]
"""
    (tmp_path / "agent.toml").write_text(checks)
    env = {**os.environ, "UPWATCH_AGENT_CONFIG": str(tmp_path / "agent.toml")}
    env.pop("UPWATCH_AGENT_COLLECTOR_URL", None)
    process = await asyncio.create_subprocess_exec(
        str(BIN / "upwatch-agent"),
        "check",
        "--json",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    dns_transport.close()
    results = {r["check_id"]: r for r in map(json.loads, stdout.decode().splitlines())}
    assert sorted(results) == sorted(
        ["k-http", "k-tcp", "k-icmp", "k-dns", "k-tls", "k-host", "k-file", "k-command"]
    ), stderr.decode()
    for check_id, result in results.items():
        if check_id == "k-icmp" and not ping_allowed_here():
            assert "net.ipv4.ping_group_range" in result["error"]
            continue
        assert result["status"] == "up", (check_id, result["error"])
    assert process.returncode == (0 if ping_allowed_here() else 1)

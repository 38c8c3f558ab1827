"""`upwatch-agent check` (the table) runs the mail, SSH, UDP, WebSocket, gRPC and HTTP-suite kinds
as a real subprocess, and names the missing extra of a kind whose library is not installed;
the same checks survive the trip through assignments (JSON) unchanged."""

from __future__ import annotations

import asyncio
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import WSMsgType, web
from aiosmtpd.controller import Controller

from shared.checks import parse_check
from shared.schema import Assignments
from tests.agent.conftest import ServeFn
from tests.agent.loopback_servers import sshd_server
from tests.agent.test_udp_websocket_probes import Echo
from tests.agent.tlsutil import Pki
from tests.helpers import BIN, free_port


class Sink:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


def checks_toml(ports: dict[str, int], pki: Pki) -> str:
    return f"""
[[checks]]
id = "m-smtp"
kind = "smtp"
host = "127.0.0.1"
port = {ports["smtp"]}
ca_file = "{pki.ca_file}"
conditions = ["[BANNER] == pat(*SMTP*)"]

[[checks]]
id = "m-ssh"
kind = "ssh"
host = "127.0.0.1"
port = {ports["ssh"]}

[[checks]]
id = "m-udp"
kind = "udp"
host = "127.0.0.1"
port = {ports["udp"]}
send = "ping"
expect = "pong"

[[checks]]
id = "m-websocket"
kind = "websocket"
url = "ws://127.0.0.1:{ports["http"]}/ws"
send = "ping"
expect = "pong"

[[checks]]
id = "m-suite"
kind = "http"
steps = [
  {{ name = "token", url = "http://127.0.0.1:{ports["http"]}/token", store = {{ token = "[BODY].token" }} }},
  {{ name = "use it", url = "http://127.0.0.1:{ports["http"]}/private", headers = {{ Authorization = "Bearer {{token}}" }} }},
]

[[checks]]
id = "m-grpc"
kind = "grpc"
host = "127.0.0.1"
port = {ports["closed"]}
"""


async def test_more_kinds_through_the_check_command(tmp_path: Path, serve: ServeFn, pki: Pki) -> None:
    if not (shutil.which("sshd") or shutil.which("/usr/sbin/sshd")):
        pytest.skip("sshd is not installed (scripts/test-setup.sh installs openssh-server)")

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await ws.send_str("pong")
        return ws

    async def token(_request: web.Request) -> web.Response:
        return web.json_response({"token": "t-1"})

    async def private(request: web.Request) -> web.Response:
        ok = request.headers.get("Authorization") == "Bearer t-1"
        return web.json_response({"ok": ok}, status=200 if ok else 401)

    app = web.Application()
    app.add_routes([web.get("/ws", websocket), web.get("/token", token), web.get("/private", private)])
    loop = asyncio.get_running_loop()
    udp, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
    smtp = Controller(Sink(), hostname="127.0.0.1", port=free_port(), tls_context=pki.server_context("valid"))
    smtp.start()
    # grpclib "not installed": a package on PYTHONPATH whose import fails as a missing one does.
    blocked = tmp_path / "blocked" / "grpclib"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'grpclib'\", name='grpclib')\n"
    )
    try:
        with sshd_server() as sshd:
            ports = {
                "smtp": smtp.port,
                "ssh": sshd.port,
                "udp": udp.get_extra_info("sockname")[1],
                "http": await serve(app),
                "closed": free_port(),
            }
            (tmp_path / "agent.toml").write_text(checks_toml(ports, pki))
            env = {
                **os.environ,
                "UPWATCH_AGENT_CONFIG": str(tmp_path / "agent.toml"),
                "PYTHONPATH": str(tmp_path / "blocked"),
            }
            env.pop("UPWATCH_AGENT_COLLECTOR_URL", None)
            process = await asyncio.create_subprocess_exec(
                str(BIN / "upwatch-agent"),
                "check",
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        smtp.stop()
        udp.close()
    rows = {line.split()[0]: line for line in stdout.decode().splitlines()[1:]}
    assert sorted(rows) == ["m-grpc", "m-smtp", "m-ssh", "m-suite", "m-udp", "m-websocket"], stderr.decode()
    for check_id in ("m-smtp", "m-ssh", "m-suite", "m-udp", "m-websocket"):
        assert rows[check_id].split()[1] == "up", rows[check_id]
    assert rows["m-grpc"].split()[1] == "down"
    assert rows["m-grpc"].endswith(
        "the grpc check kind needs the optional extra upwatch[grpc] (pip install 'upwatch[grpc]');"
        " missing module: grpclib"
    )
    assert process.returncode == 1


def test_new_kinds_travel_in_assignments_unchanged(tmp_path: Path, pki: Pki) -> None:
    """What the collector sends (JSON) is what the agent parses back, field for field."""
    import tomllib

    ports = {"smtp": 25, "ssh": 22, "udp": 53, "http": 8080, "closed": 1}
    extra = [
        {
            "id": "m-imap",
            "kind": "imap",
            "host": "mail.test",
            "tls": "implicit",
            "conditions": ["[CAPABILITIES] == pat(*IDLE*)"],
        },
        {"id": "m-pop3", "kind": "pop3", "host": "mail.test", "min_days_left": 7},
        {"id": "m-pin", "kind": "ssh", "host": "b.test", "host_key_fingerprint": "SHA256:" + "b" * 43},
        {
            "id": "m-grpc-tls",
            "kind": "grpc",
            "host": "g.test",
            "port": 443,
            "tls": True,
            "service": "orders",
            "server_name": "orders.acme.test",
        },
    ]
    declared = [parse_check(c) for c in tomllib.loads(checks_toml(ports, pki))["checks"] + extra]
    wire = Assignments(agent="edge-1", generated_at=datetime.now(UTC), checks=declared).model_dump_json()
    assert Assignments.model_validate_json(wire).checks == declared

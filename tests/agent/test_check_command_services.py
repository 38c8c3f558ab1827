"""`upwatch-agent check --json` runs the service kinds as a real subprocess against real servers.

PostgreSQL, MariaDB, Redis and snmpd are the session's throwaway servers; RDAP
and the Docker Engine are loopback stand-ins. Secrets come from the agent's
environment and credentials directory and never show in what the command prints.
A second run shadows the optional libraries, as on an agent installed without
the extras: those checks are down with a message naming the extra.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.agent.conftest import ServeFn
from tests.agent.test_docker_probe import RUNNING
from tests.agent.test_domain_probe import rdap_app
from tests.helpers import BIN
from tests.servers import Server, SnmpAgent

EXTRAS = {"k-postgresql": "postgresql", "k-mysql": "mysql", "k-redis": "redis", "k-snmp": "snmp"}


def agent_toml(
    pg: Server, my: Server, rd: Server, snmp: SnmpAgent, rdap_port: int, docker_socket: str
) -> str:
    return f"""
[[checks]]
id = "k-postgresql"
kind = "postgresql"
host = "127.0.0.1"
port = {pg.port}
user = "{pg.user}"
password = {{ env = "UPWATCH_SECRET_PG" }}
conditions = ["[RESULT] == 1"]

[[checks]]
id = "k-mysql"
kind = "mysql"
host = "127.0.0.1"
port = {my.port}
user = "{my.user}"
password = {{ credential = "mysql-password" }}

[[checks]]
id = "k-redis"
kind = "redis"
host = "127.0.0.1"
port = {rd.port}
password = {{ env = "UPWATCH_SECRET_REDIS" }}
conditions = ["[RESULT] == PONG"]

[[checks]]
id = "k-snmp"
kind = "snmp"
host = "127.0.0.1"
port = {snmp.port}
version = "3"
user = "{snmp.user}"
auth_protocol = "SHA"
auth_key = {{ env = "UPWATCH_SECRET_SNMP_AUTH" }}
priv_protocol = "AES"
priv_key = {{ credential = "snmp-priv" }}
conditions = ["[SNMP].1.3.6.1.2.1.1.3.0 > 0"]

[[checks]]
id = "k-domain"
kind = "domain"
domain = "acme-shop.com"
rdap_server = "http://127.0.0.1:{rdap_port}/com/v1/"
conditions = ["[DOMAIN_EXPIRATION] > 1h"]

[[checks]]
id = "k-docker"
kind = "docker"
container = "web"
socket = "{docker_socket}"
"""


async def run_agent_check(tmp_path: Path, env: dict[str, str]) -> tuple[int, dict[str, Any], str]:
    process = await asyncio.create_subprocess_exec(
        str(BIN / "upwatch-agent"),
        "check",
        "--json",
        env={
            key: value for key, value in {**os.environ, **env}.items() if key != "UPWATCH_AGENT_COLLECTOR_URL"
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=90)
    results = {r["check_id"]: r for r in map(json.loads, stdout.decode().splitlines())}
    return int(process.returncode or 0), results, stdout.decode() + stderr.decode()


async def test_service_kinds_through_the_check_command(
    tmp_path: Path, serve: ServeFn, postgresql: Server, mariadb: Server, redis_db: Server, snmpd: SnmpAgent
) -> None:
    rdap_port = await serve(rdap_app([]))
    engine = web.Application()

    async def inspect(_request: web.Request) -> web.Response:
        return web.json_response(RUNNING)

    engine.router.add_get("/containers/{name}/json", inspect)
    runner = web.AppRunner(engine, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    docker_socket = str(tmp_path / "docker.sock")
    await web.UnixSite(runner, docker_socket).start()
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "mysql-password").write_text(mariadb.password + "\n")
    (credentials / "snmp-priv").write_text(snmpd.priv_key)
    (tmp_path / "agent.toml").write_text(
        agent_toml(postgresql, mariadb, redis_db, snmpd, rdap_port, docker_socket)
    )
    env = {
        "UPWATCH_AGENT_CONFIG": str(tmp_path / "agent.toml"),
        "CREDENTIALS_DIRECTORY": str(credentials),
        "UPWATCH_SECRET_PG": postgresql.password,
        "UPWATCH_SECRET_REDIS": redis_db.password,
        "UPWATCH_SECRET_SNMP_AUTH": snmpd.auth_key,
    }
    secrets = [postgresql.password, mariadb.password, redis_db.password, snmpd.auth_key, snmpd.priv_key]
    try:
        code, results, output = await run_agent_check(tmp_path, env)
        assert sorted(results) == sorted([*EXTRAS, "k-domain", "k-docker"]), output
        for check_id, result in results.items():
            assert result["status"] == "up", (check_id, result["error"])
        assert code == 0
        assert not [secret for secret in secrets if secret in output]

        # Without the extras (their packages shadowed by modules that fail to import).
        shadow = tmp_path / "no-extras"
        for package in ("psycopg", "aiomysql", "redis", "pysnmp"):
            (shadow / package).mkdir(parents=True)
            (shadow / package / "__init__.py").write_text(
                f"raise ModuleNotFoundError({f'No module named {package!r}'!r}, name={package!r})\n"
            )
        code, results, output = await run_agent_check(tmp_path, {**env, "PYTHONPATH": str(shadow)})
        assert code == 1
        for check_id, extra in EXTRAS.items():
            assert results[check_id]["status"] == "down"
            assert results[check_id]["error"].startswith(
                f"the {extra} check kind needs the optional extra upwatch[{extra}] (pip install 'upwatch[{extra}]')"
            ), results[check_id]
        assert results["k-domain"]["status"] == results["k-docker"]["status"] == "up"
    finally:
        await runner.cleanup()

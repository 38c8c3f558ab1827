"""The docker probe against a Docker Engine API stand-in on a unix socket.

This machine runs no Docker daemon, so an aiohttp app on a unix socket answers
`GET /containers/<name>/json` with inspect documents shaped like the Engine's
(trimmed from `docker inspect` of Engine 27), and the Engine's 404 body.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from agent.probes import run_check
from agent.probes.context import ProbeContext
from shared.checks import parse_check

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
RUNNING: dict[str, Any] = {
    "Id": "4f7c1a0e9b7d2c3e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a",
    "Created": "2026-11-30T09:59:58.412876123Z",
    "Path": "/docker-entrypoint.sh",
    "Args": ["nginx", "-g", "daemon off;"],
    "State": {
        "Status": "running",
        "Running": True,
        "Paused": False,
        "Restarting": False,
        "OOMKilled": False,
        "Dead": False,
        "Pid": 2417,
        "ExitCode": 0,
        "Error": "",
        "StartedAt": "2026-12-01T11:00:00.123456789Z",
        "FinishedAt": "0001-01-01T00:00:00Z",
        "Health": {
            "Status": "healthy",
            "FailingStreak": 0,
            "Log": [
                {
                    "Start": "2026-12-01T11:59:30.1Z",
                    "End": "2026-12-01T11:59:30.2Z",
                    "ExitCode": 0,
                    "Output": "ok",
                }
            ],
        },
    },
    "Name": "/web",
    "RestartCount": 0,
    "Driver": "overlay2",
    "Config": {
        "Hostname": "4f7c1a0e9b7d",
        "Env": ["DATABASE_URL=postgresql://app:S3cret@db/app", "NGINX_VERSION=1.27.3"],
        "Image": "nginx:1.27",
        "Healthcheck": {
            "Test": ["CMD-SHELL", "curl -fsS http://localhost/ || exit 1"],
            "Interval": 30000000000,
        },
    },
}


class Engine:
    """The stand-in's containers, changed by the tests between runs."""

    def __init__(self) -> None:
        self.containers: dict[str, dict[str, Any]] = {"web": copy.deepcopy(RUNNING)}
        self.requests: list[str] = []

    def app(self) -> web.Application:
        async def inspect(request: web.Request) -> web.Response:
            self.requests.append(request.path)
            name = request.match_info["name"]
            if name == "hang":
                await asyncio.Event().wait()
            if name == "broken":
                return web.json_response(
                    {"message": "error during connect: context deadline exceeded"}, status=500
                )
            if name not in self.containers:
                return web.json_response({"message": f"No such container: {name}"}, status=404)
            return web.json_response(self.containers[name])

        app = web.Application()
        app.router.add_get("/containers/{name}/json", inspect)
        return app


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[tuple[Engine, str]]:
    engine = Engine()
    runner = web.AppRunner(engine.app(), handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    path = str(tmp_path / "docker.sock")
    await web.UnixSite(runner, path).start()
    yield engine, path
    await runner.cleanup()


def docker_check(socket: str, container: str = "web", **fields: Any) -> Any:
    return parse_check(
        {
            "id": "c",
            "kind": "docker",
            "container": container,
            "socket": socket,
            "interval": "30s",
            "timeout": "2s",
            **fields,
        }
    )


@pytest.fixture
def clocked(context: ProbeContext) -> ProbeContext:
    context.clock = lambda: NOW
    return context


async def test_running_and_healthy(engine: tuple[Engine, str], clocked: ProbeContext) -> None:
    stand_in, socket = engine
    result = await run_check(docker_check(socket), clocked)
    assert result.status == "up", result.error
    assert result.detail["state"] == "running" and result.detail["health"] == "healthy"
    assert result.detail["image"] == "nginx:1.27"
    assert result.metrics["uptime_s"] == pytest.approx(3599.877, abs=0.01)
    assert stand_in.requests == ["/containers/web/json"]
    # The inspect document carries the container's environment: none of it is reported.
    assert "S3cret" not in result.model_dump_json()


async def test_unhealthy_and_starting(engine: tuple[Engine, str], clocked: ProbeContext) -> None:
    stand_in, socket = engine
    health = stand_in.containers["web"]["State"]["Health"]
    health.update(Status="unhealthy", FailingStreak=3)
    health["Log"][-1].update(ExitCode=1, Output="curl: (7) Failed to connect to localhost port 80\n")
    result = await run_check(docker_check(socket), clocked)
    assert result.status == "down"
    assert (
        result.error
        == "container web is unhealthy (3 failed health checks in a row): curl: (7) Failed to connect to localhost port 80"
    )
    assert (await run_check(docker_check(socket, require_healthy=False), clocked)).status == "up"
    health["Status"] = "starting"
    result = await run_check(docker_check(socket), clocked)
    assert result.error == "container web is still starting (its health check has not passed yet)"


async def test_exited_with_the_reason(engine: tuple[Engine, str], clocked: ProbeContext) -> None:
    stand_in, socket = engine
    stand_in.containers["web"]["State"].update(Status="exited", Running=False, ExitCode=137, OOMKilled=True)
    del stand_in.containers["web"]["State"]["Health"]
    result = await run_check(docker_check(socket), clocked)
    assert result.status == "down"
    assert result.error == "container web is not running: exited (exit code 137, killed for lack of memory)"
    assert "uptime_s" not in result.metrics


async def test_rising_restart_count_is_down_once(engine: tuple[Engine, str], clocked: ProbeContext) -> None:
    stand_in, socket = engine
    check = docker_check(socket)
    assert (await run_check(check, clocked)).status == "up"
    stand_in.containers["web"]["RestartCount"] = 2
    result = await run_check(check, clocked)
    assert result.status == "down"
    assert result.error == "container web restarted 2 time(s) since the last check (restart count 2)"
    assert result.metrics["restart_count"] == 2
    # The count is remembered: no new restarts, up again.
    assert (await run_check(check, clocked)).status == "up"
    stand_in.containers["web"]["RestartCount"] = 3
    assert (await run_check(docker_check(socket, allow_restarts=True), clocked)).status == "up"


async def test_conditions_name_the_value(engine: tuple[Engine, str], clocked: ProbeContext) -> None:
    stand_in, socket = engine
    stand_in.containers["web"]["RestartCount"] = 7
    check = docker_check(socket, conditions=["[RESTART_COUNT] < 5", "[CONTAINER_HEALTH] == healthy"])
    result = await run_check(check, clocked)
    assert result.error == "[RESTART_COUNT]: expected < 5, got 7"
    stand_in.containers["web"]["State"].update(Status="paused", Paused=True)
    wanted = docker_check(socket, conditions=["[CONTAINER_STATE] == any(running, paused)"])
    assert (await run_check(wanted, clocked)).status == "up"
    del stand_in.containers["web"]["State"]["Health"]
    result = await run_check(docker_check(socket, conditions=["[CONTAINER_HEALTH] == healthy"]), clocked)
    assert (
        result.error
        == "container web is not running: paused; [CONTAINER_HEALTH]: not measured (the container has no health check)"
    )


async def test_engine_failures(engine: tuple[Engine, str], clocked: ProbeContext, tmp_path: Path) -> None:
    _stand_in, socket = engine
    result = await run_check(docker_check(socket, "db"), clocked)
    assert (result.status, result.error) == (
        "down",
        f"no such container: db (the Docker Engine at unix://{socket})",
    )
    result = await run_check(docker_check(socket, "broken"), clocked)
    assert (
        result.error
        == f"the Docker Engine at unix://{socket} answered HTTP 500: error during connect: context deadline exceeded"
    )
    missing = str(tmp_path / "nothing.sock")
    result = await run_check(docker_check(missing), clocked)
    assert result.error == f"cannot reach the Docker Engine at unix://{missing}: No such file or directory"
    result = await run_check(docker_check(socket, "hang", timeout="1s", interval="5s"), clocked)
    assert (result.status, result.error) == ("down", "timed out after 1s")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"socket": "docker.sock"}, "checks[0].socket: Value error, socket must be the absolute path"),
        ({"container": "../etc"}, "checks[0].container:"),
        ({"conditions": ["[ROWS] > 1"]}, "[ROWS] is not available here"),
        ({"allow_restarts": "sometimes"}, "checks[0].allow_restarts:"),
    ],
)
def test_bad_config_names_the_key(fields: dict[str, Any], message: str) -> None:
    from pydantic import ValidationError

    from shared.checks import describe_error

    with pytest.raises(ValidationError) as caught:
        docker_check(**{"socket": "/run/docker.sock", **fields})
    assert message.replace("Value error, ", "") in describe_error(caught.value, "checks[0]")

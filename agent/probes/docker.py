"""Docker probe: a container's state, health and restarts from the Docker Engine API on its unix socket.

One `GET /containers/<name>/json` (the unversioned path: every Engine, and
Podman's compatible API, answers it with its newest version) through aiohttp's
UnixConnector. Up when the container is running, healthy if it has a health
check (`require_healthy`), and has not restarted since the previous run
(`allow_restarts = false`): the agent keeps the last restart count per check
while it runs, so a container in a crash loop is caught even when it is up at
the moment it is asked. Conditions on `[CONTAINER_STATE]`, `[CONTAINER_HEALTH]`
or `[RESTART_COUNT]` replace the matching built-in rule.
Metrics: `restart_count`, `api_ms`, `uptime_s` (while running).
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from shared.checks import DockerCheck
from shared.conditions import Facts, failed_conditions
from shared.timeutil import from_iso

MAX_INSPECT_BYTES = 4 * 1024 * 1024
HEALTH_OUTPUT_CHARS = 200


class EngineError(Exception):
    """The Engine could not be asked, or answered an error; the message is for an alert."""


@register("docker")
async def probe_docker(check: DockerCheck, context: ProbeContext) -> Outcome:
    """Up when the container runs, is healthy (if it has a health check) and did not restart."""
    began = time.perf_counter()
    try:
        inspect = await _inspect(check.socket, check.container)
    except EngineError as error:
        return Outcome("down", str(error))
    api_ms = (time.perf_counter() - began) * 1000
    state = _object(inspect, "State")
    status = str(state.get("Status") or "unknown")
    health_doc = _object(state, "Health") or None
    health = str(health_doc.get("Status")) if health_doc else None
    restarts = int(inspect.get("RestartCount") or 0)
    memory = context.memory_of(check.id)
    previous = memory.get("restart_count")
    memory["restart_count"] = restarts

    metrics = {"restart_count": float(restarts), "api_ms": round(api_ms, 3)}
    started_at = _started_at(state)
    if status == "running" and started_at is not None:
        metrics["uptime_s"] = round(max(0.0, (context.clock() - started_at).total_seconds()), 3)
    config = _object(inspect, "Config")
    detail: dict[str, str | int | bool | None] = {
        "state": status,
        "health": health,
        "restart_count": restarts,
        "image": str(config.get("Image") or "")[:300] or None,
        "started_at": started_at.isoformat() if started_at else None,
    }
    tested = {c.placeholder for c in check.conditions}
    problems = []
    if "CONTAINER_STATE" not in tested and status != "running":
        problems.append(_not_running(check.container, status, state))
    if "CONTAINER_HEALTH" not in tested and check.require_healthy and health not in (None, "healthy"):
        problems.append(_unhealthy(check.container, health, health_doc))
    if (
        "RESTART_COUNT" not in tested
        and not check.allow_restarts
        and previous is not None
        and restarts > previous
    ):
        problems.append(
            f"container {check.container} restarted {restarts - previous} time(s) since the last check"
            f" (restart count {restarts})"
        )
    facts = Facts(
        container_state=status, container_health=health, restart_count=restarts, response_time_ms=api_ms
    )
    problems += failed_conditions(check.conditions, facts)
    return Outcome("down" if problems else "up", "; ".join(problems) or None, metrics, detail)


async def _inspect(socket_path: str, container: str) -> dict[str, Any]:
    where = f"the Docker Engine at unix://{socket_path}"
    # The host part is ignored on a unix socket; "docker" reads well in the Engine's logs.
    url = f"http://docker/containers/{quote(container, safe='')}/json"
    try:
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=socket_path)) as session:
            async with session.get(url) as response:
                body = await response.content.read(MAX_INSPECT_BYTES)
                if response.status == 404:
                    raise EngineError(f"no such container: {container} ({where})")
                if response.status >= 400:
                    raise EngineError(f"{where} answered HTTP {response.status}: {_engine_message(body)}")
                document = _json(body)
    except aiohttp.ClientConnectorError as error:
        reason = error.os_error.strerror or str(error.os_error)
        hint = " (the agent's user needs access to the socket, e.g. the docker group)"
        raise EngineError(
            f"cannot reach {where}: {reason}{hint if error.os_error.errno == 13 else ''}"
        ) from None
    except aiohttp.ClientError as error:
        raise EngineError(f"cannot reach {where}: {error or type(error).__name__}") from None
    if not isinstance(document, dict):
        raise EngineError(f"{where} answered something that is not a container")
    return document


def _object(document: dict[str, Any], key: str) -> dict[str, Any]:
    value = document.get(key)
    return value if isinstance(value, dict) else {}


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise EngineError("the Docker Engine answered something that is not JSON") from None


def _engine_message(body: bytes) -> str:
    try:
        document = _json(body)
    except EngineError:
        return body[:200].decode("utf-8", "replace")
    return str(document.get("message", ""))[:300] if isinstance(document, dict) else ""


def _started_at(state: dict[str, Any]) -> datetime | None:
    text = state.get("StartedAt")
    if not isinstance(text, str) or text.startswith("0001-"):  # Go's zero time: never started
        return None
    try:
        return from_iso(text)
    except ValueError:
        return None


def _not_running(container: str, status: str, state: dict[str, Any]) -> str:
    if status == "exited":
        reasons = [f"exit code {state.get('ExitCode')}"]
        if state.get("OOMKilled"):
            reasons.append("killed for lack of memory")
        if state.get("Error"):
            reasons.append(str(state["Error"])[:200])
        return f"container {container} is not running: exited ({', '.join(reasons)})"
    return f"container {container} is not running: {status}"


def _unhealthy(container: str, health: str | None, health_doc: dict[str, Any] | None) -> str:
    if health == "starting":
        return f"container {container} is still starting (its health check has not passed yet)"
    log = health_doc.get("Log") if health_doc else None
    last = log[-1] if isinstance(log, list) and log and isinstance(log[-1], dict) else {}
    output = str(last.get("Output") or "").strip()[:HEALTH_OUTPUT_CHARS]
    streak = health_doc.get("FailingStreak") if health_doc else None
    said = f": {output}" if output else ""
    return f"container {container} is {health} ({streak} failed health checks in a row){said}"

"""Probe registry: one module per kind, each registering an async `probe(check, context)`.

A probe returns an `Outcome` (status, error, metrics, detail) and raises nothing
for failures of the target: a refused connection is a `down` outcome with a
message a person understands. `run_check` adds the envelope every result needs
(id, start time, latency, the check's timeout).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from agent.probes.context import ProbeContext
from agent.probes.extras import MissingExtra
from agent.secrets import revealed_values, scrub
from shared.checks import AnyCheck
from shared.ids import new_result_id
from shared.schema import Result, Status

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What a probe observed."""

    status: Status
    error: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    detail: dict[str, str | int | bool | None] = field(default_factory=dict)


Probe = Callable[[Any, ProbeContext], Awaitable[Outcome]]
PROBES: dict[str, Probe] = {}


def register(kind: str) -> Callable[[Probe], Probe]:
    """Class-free registry: `@register("http")` on the probe coroutine of a module."""

    def decorator(probe: Probe) -> Probe:
        PROBES[kind] = probe
        return probe

    return decorator


async def run_check(check: AnyCheck, context: ProbeContext) -> Result:
    """Run one check under its timeout and wrap the outcome in a Result. Never raises."""
    started_at = context.clock()
    began = time.perf_counter()
    probe = PROBES[check.kind]
    drill = context.drills.active(check.id, started_at)
    refusal = context.allow.refusal(check) if context.allow is not None else None
    try:
        if refusal is not None:
            outcome = Outcome("down", refusal, detail={"refused": True})
        elif drill is not None:
            outcome = _drill_outcome(check.id, drill, context)
        else:
            async with asyncio.timeout(check.timeout.total_seconds()):
                outcome = await probe(check, context)
    except TimeoutError:
        outcome = Outcome("down", f"timed out after {check.timeout.total_seconds():g}s")
    except MissingExtra as error:
        outcome = Outcome("down", str(error))
    except Exception as error:  # noqa: BLE001 - a probe bug must not kill the scheduler
        outcome = _crashed(check, error, context)
    latency_ms = (time.perf_counter() - began) * 1000
    outcome = _scrubbed(check, outcome, context)
    return Result(
        id=new_result_id(),
        check_id=check.id,
        started_at=started_at,
        latency_ms=round(latency_ms, 3),
        status=outcome.status,
        error=outcome.error[:1000] if outcome.error else None,
        metrics=outcome.metrics,
        detail={key: _bounded(value) for key, value in list(outcome.detail.items())[:32]},
    )


def _crashed(check: AnyCheck, error: Exception, context: ProbeContext) -> Outcome:
    secrets = revealed_values(check, context.environ)
    message = scrub(f"probe error: {type(error).__name__}: {error}", secrets)
    if secrets:
        # A traceback repeats the exception's text, which may hold a secret: log the scrubbed line only.
        log.error("probe crashed check=%s kind=%s error=%s", check.id, check.kind, message)
    else:
        log.exception("probe crashed check=%s kind=%s", check.id, check.kind)
    return Outcome("down", message[:1000])


def _scrubbed(check: AnyCheck, outcome: Outcome, context: ProbeContext) -> Outcome:
    """The outcome with every secret of the check masked (a driver may echo what it was given)."""
    secrets = revealed_values(check, context.environ)
    if not secrets:
        return outcome
    detail = {
        key: scrub(value, secrets) if isinstance(value, str) else value
        for key, value in outcome.detail.items()
    }
    error = scrub(outcome.error, secrets) if outcome.error else outcome.error
    return Outcome(outcome.status, error, outcome.metrics, detail)


def _drill_outcome(check_id: str, drill: int | str, context: ProbeContext) -> Outcome:
    until = context.drills.until(check_id)
    label = "local drill" if drill == "local" else f"drill #{drill}"
    ending = f" until {until:%H:%M:%S} UTC" if until else ""
    return Outcome("down", f"drill: failure injected on purpose ({label}{ending})", detail={"drill": drill})


def _bounded(value: str | int | bool | None) -> str | int | bool | None:
    if isinstance(value, str):
        return value[:2000]
    return value


def _load_builtin_probes() -> None:
    # Importing the modules runs their @register decorators.
    # The service kinds (mysql, postgresql, redis ...) import their optional libraries only when run,
    # and so do ssh (host key pinning) and grpc.
    from agent.probes import (  # noqa: F401
        command,
        dns,
        docker,
        domain,
        file,
        grpc,
        host,
        http,
        icmp,
        imap,
        mysql,
        pop3,
        postgresql,
        redis,
        smtp,
        snmp,
        ssh,
        tcp,
        tls,
        udp,
        websocket,
    )


_load_builtin_probes()

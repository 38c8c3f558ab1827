"""HTTP suites: the `steps` of an http check, run in order as one check.

Each step is one request through the http probe's exchange (same timing, TLS, conditions
and keyword rules). `store = { token = "[BODY].access_token" }` keeps a value of
its response (a JSON path of the body, a header, the status); later steps use it
as `{token}` in their url, headers and body. The suite stops at the first step
that fails and says which (`step 2 "profile": HTTP status 401`); every step run
is timed (`step1_ms`, `step2_ms`, ...; `total_ms` for the whole suite).
The check-level `headers` go with every step (a step's own win), as do
`verify_tls`, `ca_file`, redirects and `max_body_bytes`. The check's `secrets`
(`{ password = { env = "UPWATCH_SECRET_API" } }`) are read on the agent and fill
`{password}` like a stored value; run_check scrubs them from what is reported.
"""

from __future__ import annotations

import asyncio
import time

from agent.probes import Outcome
from agent.probes.context import ProbeContext
from agent.probes.http_exchange import exchange, substitute
from shared.checks import HttpCheck, HttpStep
from shared.conditions import Facts, value_of

# Stop a step a little before the check's own timeout, so the result can name the step that hung.
STEP_SHARE_OF_TIMEOUT = 0.9


def step_check(check: HttpCheck, step: HttpStep, values: dict[str, str]) -> HttpCheck:
    """The single request a step makes, as an http check the http probe runs."""
    headers = {**check.headers, **step.headers}
    return check.model_copy(
        update={
            "url": substitute(step.url, values),
            "method": step.method,
            "headers": {name: substitute(value, values) for name, value in headers.items()},
            "body": None if step.body is None else substitute(step.body, values),
            "conditions": step.conditions,
            "keyword": step.keyword,
            "forbidden_keyword": step.forbidden_keyword,
            "steps": [],
        }
    )


async def run_suite(check: HttpCheck, context: ProbeContext, secrets: dict[str, str]) -> Outcome:
    """Run the steps in order (`secrets` are the check's revealed secrets, by name); down at the
    first failing one, naming it. Never raises for the target."""
    began = time.perf_counter()
    deadline = began + check.timeout.total_seconds() * STEP_SHARE_OF_TIMEOUT
    values: dict[str, str] = dict(secrets)
    metrics: dict[str, float] = {}
    ran: list[str] = []
    for number, step in enumerate(check.steps, start=1):
        label = f'step {number} "{step.name}"'
        step_began = time.perf_counter()
        request = step_check(check, step, values)
        if not request.url or not request.url.startswith(("http://", "https://")):
            return _failed(check, number, f"{label}: url {request.url!r} is not http(s)", metrics, ran, began)
        try:
            async with asyncio.timeout(max(0.0, deadline - step_began)):
                outcome, facts = await exchange(request, context)
        except TimeoutError:
            waited = time.perf_counter() - step_began
            return _failed(check, number, f"{label}: no response within {waited:.1f}s", metrics, ran, began)
        metrics[f"step{number}_ms"] = round((time.perf_counter() - step_began) * 1000, 3)
        ran.append(f"{step.name} {metrics[f'step{number}_ms']:.0f}ms {outcome.status}")
        if outcome.status != "up":
            return _failed(check, number, f"{label}: {outcome.error}", metrics, ran, began, outcome)
        assert facts is not None  # an up outcome always has the response it was judged on
        problem = _store(step, facts, values)
        if problem:
            return _failed(check, number, f"{label}: {problem}", metrics, ran, began, outcome)
    metrics["total_ms"] = round((time.perf_counter() - began) * 1000, 3)
    metrics["steps_passed"] = float(len(check.steps))
    return Outcome("up", None, metrics, {"steps": "; ".join(ran)[:2000]})


def _store(step: HttpStep, facts: Facts, values: dict[str, str]) -> str | None:
    """Keep the step's stored values; a sentence when one is missing from the response."""
    for name, subject in step.store.items():
        value, reason = value_of(subject, facts)
        if value is None:
            return f"cannot store {name} from {subject.text}: {reason}"
        values[name] = value
    return None


def _failed(
    check: HttpCheck,
    number: int,
    message: str,
    metrics: dict[str, float],
    ran: list[str],
    began: float,
    outcome: Outcome | None = None,
) -> Outcome:
    metrics = {**metrics, "total_ms": round((time.perf_counter() - began) * 1000, 3)}
    metrics["steps_passed"] = float(number - 1)
    detail: dict[str, str | int | bool | None] = {
        "failed_step": check.steps[number - 1].name,
        "failed_step_number": number,
        "steps": "; ".join(ran)[:2000],
    }
    if outcome is not None:
        for key in ("status_code", "body_excerpt"):
            if key in outcome.detail:
                detail[key] = outcome.detail[key]
    return Outcome("down", message, metrics, detail)

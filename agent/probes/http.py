"""HTTP(S) probe: one request through the agent's shared session, conditions on what came back.

Up when the status is below 400 (or, when a condition tests `[STATUS]`, when the
conditions hold), the keyword is present and the forbidden keyword absent.
The body is read up to `max_body_bytes` and no further, so a huge or endless
response costs at most that much memory and the probe's timeout.

The request itself (timing, TLS, body cap, judging) is `agent/probes/http_exchange.py`;
a check with `steps` runs as a suite (`agent/probes/http_suite.py`).
"""

from __future__ import annotations

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from agent.probes.http_exchange import exchange, substitute
from agent.probes.http_suite import run_suite
from agent.secrets import SecretUnavailable, reveal
from shared.checks import HttpCheck


@register("http")
async def probe_http(check: HttpCheck, context: ProbeContext) -> Outcome:
    """Send the request (or, with `steps`, run the suite) and judge the answer; a refused
    connection or TLS error is `down`."""
    values: dict[str, str] = {}
    if check.secrets:
        try:
            values = {
                name: str(reveal(secret, f"secrets.{name}", context.environ))
                for name, secret in check.secrets.items()
            }
        except SecretUnavailable as error:
            return Outcome("down", str(error))
    if check.steps:
        return await run_suite(check, context, values)
    if values:
        check = check.model_copy(
            update={
                "url": substitute(check.url or "", values),
                "headers": {name: substitute(value, values) for name, value in check.headers.items()},
                "body": None if check.body is None else substitute(check.body, values),
            }
        )
    outcome, _facts = await exchange(check, context)
    return outcome

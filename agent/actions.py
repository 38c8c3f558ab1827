"""Remediation actions this host allows (the agent's own TOML), run on the collector's orders.

The trust model, after Zabbix's `AllowKey` and Monit's "N restarts within M
cycles": the host's owner declares every command the agent may ever run, as
`[[actions]]` in the agent's own config file (id, argv, timeout, a circuit
breaker of `max_runs` within `window`, optional env and cwd). The collector
can only name one of those ids in an order: no shell, no arguments, no
templating; an agent with no `[[actions]]` runs nothing. So a compromised
collector can at most ask for an action the host's owner already allowed, at
most `max_runs` times before a person on the host must reset the breaker.
`[[actions]]` is to remediation what `[allow]` (agent.allowlist) is to assigned
command and file checks: the host's own list of what the collector may make it
do; here the list holds the whole command, so the collector supplies only an id.

Each order runs at most once per agent (its id is claimed in the spool file
before the command starts, see agent.action_ledger), never after it expires,
and its result (exit code, duration, the start of stdout and stderr) goes
back to the collector until acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.action_ledger import ActionLedger, Breaker
from agent.client import CollectorError
from shared.checks import ID_PATTERN, Duration, describe_error
from shared.schema import MAX_ACTION_OUTPUT_CHARS, ActionOrder, ActionResult
from shared.timeutil import Clock, utcnow

log = logging.getLogger(__name__)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RETRY_DELIVERY_S = 5.0
Deliver = Callable[[ActionResult], Awaitable[None]]


class ActionConfig(BaseModel):
    """One `[[actions]]` table of the agent's config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=ID_PATTERN)
    argv: list[Annotated[str, Field(min_length=1, max_length=4096)]] = Field(min_length=1, max_length=256)
    timeout: Duration = timedelta(seconds=60)
    max_runs: int = Field(default=3, ge=1, le=1000)
    window: Duration = timedelta(minutes=30)
    env: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], str] = Field(
        default_factory=dict, max_length=100
    )
    cwd: str | None = Field(default=None, max_length=4096)

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=1) <= value <= timedelta(hours=1):
            raise ValueError("timeout must be between 1s and 1h")
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=1) <= value <= timedelta(days=30):
            raise ValueError("window must be between 1s and 30d")
        return value

    @field_validator("cwd")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError("cwd must be an absolute path")
        return value

    @field_validator("argv", mode="before")
    @classmethod
    def _argv_is_a_list(cls, value: Any) -> Any:
        # A string would be split by nobody (there is no shell): say so plainly.
        if not isinstance(value, list):
            raise ValueError('must be a list of strings, e.g. ["systemctl", "restart", "api"] (no shell)')
        return value


def parse_actions(raw: Any) -> list[ActionConfig]:
    """Validate `[[actions]]`. Raises ValueError with lines naming the key (`actions[0].argv: ...`)."""
    if not isinstance(raw, list):
        raise ValueError("actions: must be an array of tables ([[actions]])")
    actions: list[ActionConfig] = []
    for index, item in enumerate(raw):
        try:
            action = ActionConfig.model_validate(item)
        except ValidationError as error:
            raise ValueError(describe_error(error, f"actions[{index}]")) from None
        if any(existing.id == action.id for existing in actions):
            raise ValueError(f"actions[{index}].id: duplicate action id {action.id!r}")
        actions.append(action)
    return actions


class ActionRunner:
    """Runs orders for declared actions, one at a time, and delivers their results.

    `submit()` takes the orders of each assignments document (repeats are
    harmless); `serve()` runs them and sends every result not yet acknowledged.
    """

    def __init__(self, actions: list[ActionConfig], ledger: ActionLedger, clock: Clock = utcnow):
        self._actions = {action.id: action for action in actions}
        self._ledger = ledger
        self._clock = clock
        self._queue: asyncio.Queue[ActionOrder] = asyncio.Queue()
        self._queued: set[str] = set()

    @property
    def offered(self) -> list[str]:
        """The ids this host allows, as reported to the collector (never their command lines)."""
        return sorted(self._actions)

    def recover(self) -> int:
        """After a restart: orders claimed by a process that died mid-run are reported
        as interrupted, never run again. Returns how many."""
        interrupted = self._ledger.claimed_without_result()
        for order_id, action_id in interrupted:
            self._ledger.record_result(
                ActionResult(
                    order_id=order_id,
                    action_id=action_id,
                    outcome="interrupted",
                    reason="the agent stopped while the action ran; it is not run again",
                )
            )
        return len(interrupted)

    def submit(self, orders: list[ActionOrder]) -> None:
        for order in orders:
            key = str(order.order_id)
            if key not in self._queued:
                self._queued.add(key)
                self._queue.put_nowait(order)

    async def serve(self, deliver: Deliver) -> None:
        """Run queued orders and deliver results until cancelled."""
        while True:
            try:
                order: ActionOrder | None = await asyncio.wait_for(self._queue.get(), RETRY_DELIVERY_S)
            except TimeoutError:
                order = None
            try:
                if order is not None:
                    await self.execute(order)
                await self.deliver_pending(deliver)
            except Exception:  # noqa: BLE001 - one bad order (a full disk) must not end the loop
                log.exception("action runner pass failed order=%s", order.order_id if order else None)

    async def deliver_pending(self, deliver: Deliver) -> int:
        """Send every unacknowledged result; return how many the collector acknowledged."""
        sent = 0
        for result in self._ledger.unacknowledged():
            try:
                await deliver(result)
            except CollectorError as error:
                if not error.permanent:
                    log.warning("action result not delivered order=%s error=%s", result.order_id, error)
                    return sent
                # The collector will never take it (an order it does not know): stop resending.
                log.error("action result refused order=%s error=%s", result.order_id, error)
            self._ledger.acknowledge(result.order_id, time.time())
            sent += 1
        return sent

    async def execute(self, order: ActionOrder) -> ActionResult | None:
        """Run one order unless it was claimed before; store and return its result (None: a repeat)."""
        if not self._ledger.claim(order.order_id, order.action_id, time.time()):
            # Sent again (a collector that lost our result, or a replay): never run it twice,
            # but send the result we have once more, so the collector can close the order.
            self._ledger.resend(order.order_id)
            return None
        result = await self._decide_and_run(order)
        self._ledger.record_result(result)
        log.info(
            "action order=%s action=%s outcome=%s exit_code=%s reason=%s",
            order.order_id,
            order.action_id,
            result.outcome,
            result.exit_code,
            result.reason,
        )
        return result

    async def _decide_and_run(self, order: ActionOrder) -> ActionResult:
        def refused(outcome: str, reason: str) -> ActionResult:
            return ActionResult.model_validate(
                {
                    "order_id": order.order_id,
                    "action_id": order.action_id,
                    "outcome": outcome,
                    "reason": reason,
                }
            )

        now = self._clock()
        if now >= order.expires_at:
            return refused(
                "expired", f"the order expired at {order.expires_at:%H:%M:%S} UTC before it arrived"
            )
        action = self._actions.get(order.action_id)
        if action is None:
            return refused(
                "refused", f"action {order.action_id!r} is not declared in this agent's configuration"
            )
        breaker = self._ledger.admit_run(
            action.id, action.max_runs, action.window.total_seconds(), time.time()
        )
        if breaker is not None:
            return refused("refused", _breaker_reason(breaker))
        return await run_action(action, order, now)


def _breaker_reason(breaker: Breaker) -> str:
    return (
        f"circuit breaker open ({breaker.reason}); a person must reset it on the host:"
        f" upwatch-agent actions reset {breaker.action_id}"
    )


async def run_action(action: ActionConfig, order: ActionOrder, started_at: datetime) -> ActionResult:
    """Run the argv (no shell) in its own process group under the timeout; keep the start of its output."""
    env = {"PATH": os.environ.get("PATH", DEFAULT_PATH), "LANG": "C.UTF-8", **action.env}
    began = time.perf_counter()
    base = {"order_id": order.order_id, "action_id": action.id, "started_at": started_at}
    try:
        process = await asyncio.create_subprocess_exec(
            *action.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=action.cwd,
            env=env,  # never the agent's own environment: it holds the agent's token
            start_new_session=True,
        )
    except OSError as error:
        reason = f"cannot run {action.argv[0]}: {error.strerror or error}"
        return ActionResult.model_validate({**base, "outcome": "failed", "reason": reason})
    assert process.stdout is not None and process.stderr is not None
    timed_out = False
    try:
        async with asyncio.timeout(action.timeout.total_seconds()):
            stdout, stderr, _ = await asyncio.gather(
                _bounded(process.stdout), _bounded(process.stderr), process.wait()
            )
    except TimeoutError:
        timed_out = True
        stdout = stderr = ""
    finally:
        if process.returncode is None:  # timed out, or cancelled at shutdown
            _kill_group(process.pid)
            await process.wait()
    duration_s = round(time.perf_counter() - began, 3)
    return ActionResult.model_validate(
        {
            **base,
            "outcome": "ran",
            "exit_code": process.returncode,
            "timed_out": timed_out,
            "duration_s": duration_s,
            "stdout": stdout,
            "stderr": stderr,
            "reason": f"timed out after {action.timeout.total_seconds():g}s and was killed"
            if timed_out
            else None,
        }
    )


async def _bounded(stream: asyncio.StreamReader) -> str:
    """The start of a stream (bounded in memory); the rest is read and counted, not kept."""
    kept = b""
    dropped = 0
    while chunk := await stream.read(65536):
        room = MAX_ACTION_OUTPUT_CHARS - len(kept)
        kept += chunk[: max(0, room)]
        dropped += max(0, len(chunk) - max(0, room))
    text = kept.decode("utf-8", "replace")
    if dropped:
        marker = f"\n[… {dropped} more bytes not kept]"
        text = text[: MAX_ACTION_OUTPUT_CHARS - len(marker)] + marker
    return text[:MAX_ACTION_OUTPUT_CHARS]


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass

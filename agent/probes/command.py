"""Command probe: run an argv directly (never through a shell) under the check's timeout.

Exit status 0 is up, anything else down; the last `output_lines` lines of
stdout and stderr (interleaved) are kept, bounded in memory however much the
command prints. On timeout or shutdown the whole process group is killed.
Metrics: `exit_status`, `duration_ms`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import deque

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from shared.checks import CommandCheck

MAX_LINE_BYTES = 1000


@register("command")
async def probe_command(check: CommandCheck, context: ProbeContext) -> Outcome:
    """Run the command; down with the exit status and its last output line when it fails."""
    began = time.perf_counter()
    env = {**os.environ, **check.env} if check.env else None
    try:
        process = await asyncio.create_subprocess_exec(
            *check.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=check.cwd,
            env=env,
            start_new_session=True,  # its own process group, so a timeout kills its children too
        )
    except FileNotFoundError:
        return Outcome("down", f"command not found: {check.argv[0]}")
    except PermissionError:
        return Outcome("down", f"permission denied running {check.argv[0]}")
    except OSError as error:
        return Outcome("down", f"cannot run {check.argv[0]}: {error.strerror or error}")
    tail: deque[str] = deque(maxlen=max(1, check.output_lines))
    try:
        assert process.stdout is not None
        pending = b""
        while chunk := await process.stdout.read(65536):
            *lines, pending = (pending + chunk).split(b"\n")
            tail.extend(_text(line) for line in lines[-(tail.maxlen or 1) :])
            pending = pending[:MAX_LINE_BYTES]  # a line without end keeps only its start
        if pending:
            tail.append(_text(pending))
        exit_status = await process.wait()
    finally:
        if process.returncode is None:  # timed out or cancelled at shutdown
            _kill_group(process.pid)
            await process.wait()
    duration_ms = (time.perf_counter() - began) * 1000
    output = "\n".join(tail) if check.output_lines else ""
    metrics = {"exit_status": float(exit_status), "duration_ms": round(duration_ms, 3)}
    detail: dict[str, str | int | bool | None] = {"output": output[-2000:]}
    if exit_status == 0:
        return Outcome("up", None, metrics, detail)
    last = tail[-1] if tail else ""
    reason = f"killed by signal {-exit_status}" if exit_status < 0 else f"exit status {exit_status}"
    return Outcome("down", f"{reason}: {last}" if last else reason, metrics, detail)


def _text(line: bytes) -> str:
    return line[:MAX_LINE_BYTES].decode("utf-8", "replace").rstrip("\r")


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # already gone

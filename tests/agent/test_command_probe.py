"""The command probe with real subprocesses: exit status, bounded output, timeouts."""

from __future__ import annotations

import sys
import time
from typing import Any

from agent.probes import run_check
from agent.probes.context import ProbeContext
from shared.checks import parse_check


def command_check(*argv: str, **fields: Any) -> Any:
    return parse_check({"id": "cmd", "kind": "command", "argv": list(argv), "timeout": "5s", **fields})


async def test_true_is_up(context: ProbeContext) -> None:
    result = await run_check(command_check("true"), context)
    assert result.status == "up"
    assert result.metrics["exit_status"] == 0


async def test_false_is_down(context: ProbeContext) -> None:
    result = await run_check(command_check("false"), context)
    assert result.status == "down"
    assert result.error == "exit status 1"


async def test_output_tail_is_kept_and_bounded(context: ProbeContext) -> None:
    script = "import sys\nfor i in range(100000): print('line', i)\n"
    script += "print('disk full', file=sys.stderr)\nsys.exit(3)"
    result = await run_check(command_check(sys.executable, "-c", script, output_lines=3), context)
    assert result.error == "exit status 3: disk full"
    assert result.detail["output"] == "line 99998\nline 99999\ndisk full"


async def test_no_shell_is_involved(context: ProbeContext) -> None:
    result = await run_check(command_check("echo", "$HOME", ";", "false"), context)
    assert result.status == "up"
    assert result.detail["output"] == "$HOME ; false"


async def test_sleep_is_killed_at_the_timeout(context: ProbeContext) -> None:
    check = parse_check({"id": "cmd", "kind": "command", "argv": ["sleep", "30"], "timeout": "300ms"})
    began = time.monotonic()
    result = await run_check(check, context)
    assert result.error == "timed out after 0.3s"
    assert time.monotonic() - began < 5


async def test_missing_program(context: ProbeContext) -> None:
    result = await run_check(command_check("/nonexistent/backup-job"), context)
    assert result.error == "command not found: /nonexistent/backup-job"

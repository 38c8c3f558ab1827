"""Remediation actions on the agent: real commands (a script that records its runs), the real
ledger file; once per order across restarts, the breaker, refusals, expiry, bounded output."""

from __future__ import annotations

import os
import stat
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from agent.action_ledger import ActionLedger
from agent.actions import ActionConfig, ActionRunner
from agent.settings import ConfigError, load_config
from shared.schema import ActionOrder, ActionResult
from shared.timeutil import utcnow

SCRIPT = """#!{python}
import os, sys
with open(sys.argv[1], "a") as log:
    log.write(os.environ.get("RUN_TAG", "run") + "\\n")
print("restarted", sys.argv[1:])
print("to stderr", file=sys.stderr)
sys.exit(int(os.environ.get("EXIT_CODE", "0")))
"""


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "restart.py"
    path.write_text(SCRIPT.format(python=sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def action(script: Path, runs: Path, **extra: object) -> ActionConfig:
    return ActionConfig.model_validate({"id": "restart-api", "argv": [str(script), str(runs)], **extra})


def order(action_id: str = "restart-api", expires_in: timedelta = timedelta(minutes=5)) -> ActionOrder:
    return ActionOrder(order_id=uuid.uuid4(), action_id=action_id, expires_at=utcnow() + expires_in)


def count(runs: Path) -> int:
    return len(runs.read_text().splitlines()) if runs.exists() else 0


async def test_an_order_runs_once_with_its_output_and_exit_code(tmp_path: Path, script: Path) -> None:
    runs = tmp_path / "runs.txt"
    ledger = ActionLedger(tmp_path / "spool.db")
    runner = ActionRunner([action(script, runs, env={"EXIT_CODE": "3", "RUN_TAG": "tagged"})], ledger)
    first = order()
    result = await runner.execute(first)
    assert result is not None and result.outcome == "ran"
    assert result.exit_code == 3 and result.duration_s is not None
    assert "restarted" in result.stdout and "to stderr" in result.stderr
    assert runs.read_text() == "tagged\n"
    # the same order again (the collector resends it until the result arrives): not run again
    assert await runner.execute(first) is None
    assert count(runs) == 1
    assert [r.order_id for r in ledger.unacknowledged()] == [first.order_id]


async def test_the_agent_environment_does_not_leak_into_actions(tmp_path: Path) -> None:
    os.environ["UPWATCH_AGENT_TOKEN"] = "uwa_secret"
    try:
        printer = ActionConfig(id="env", argv=[sys.executable, "-c", "import os; print(sorted(os.environ))"])
        runner = ActionRunner([printer], ActionLedger(tmp_path / "spool.db"))
        result = await runner.execute(order("env"))
    finally:
        del os.environ["UPWATCH_AGENT_TOKEN"]
    assert result is not None and "UPWATCH_AGENT_TOKEN" not in result.stdout and "PATH" in result.stdout


async def test_an_order_survives_a_restart_without_running_twice(tmp_path: Path, script: Path) -> None:
    runs = tmp_path / "runs.txt"
    the_order = order()
    first = ActionRunner([action(script, runs)], ActionLedger(tmp_path / "spool.db"))
    await first.execute(the_order)
    # a new process on the same spool file receives the same order again
    restarted = ActionRunner([action(script, runs)], ActionLedger(tmp_path / "spool.db"))
    assert restarted.recover() == 0
    assert await restarted.execute(the_order) is None
    assert count(runs) == 1


async def test_an_order_interrupted_by_a_crash_is_reported_not_rerun(tmp_path: Path, script: Path) -> None:
    runs = tmp_path / "runs.txt"
    the_order = order()
    crashed = ActionLedger(tmp_path / "spool.db")
    assert crashed.claim(the_order.order_id, "restart-api", 0.0)  # claimed, then the process died
    runner = ActionRunner([action(script, runs)], ActionLedger(tmp_path / "spool.db"))
    assert runner.recover() == 1
    assert await runner.execute(the_order) is None
    assert count(runs) == 0
    [reported] = ActionLedger(tmp_path / "spool.db").unacknowledged()
    assert reported.outcome == "interrupted"


async def test_the_breaker_refuses_the_fourth_run_until_reset(tmp_path: Path, script: Path) -> None:
    runs = tmp_path / "runs.txt"
    ledger = ActionLedger(tmp_path / "spool.db")
    runner = ActionRunner([action(script, runs, max_runs=3, window="30m")], ledger)
    outcomes = [await runner.execute(order()) for _ in range(4)]
    assert [r.outcome for r in outcomes if r] == ["ran", "ran", "ran", "refused"]
    assert count(runs) == 3
    refused = outcomes[3]
    assert refused is not None and "circuit breaker open" in (refused.reason or "")
    assert "upwatch-agent actions reset restart-api" in (refused.reason or "")
    # it stays open after a restart, until a person resets it
    again = ActionRunner([action(script, runs, max_runs=3)], ActionLedger(tmp_path / "spool.db"))
    assert (await again.execute(order())).outcome == "refused"  # type: ignore[union-attr]
    assert ledger.reset("restart-api")
    assert (await again.execute(order())).outcome == "ran"  # type: ignore[union-attr]
    assert count(runs) == 4


async def test_an_undeclared_action_is_refused_and_reported(tmp_path: Path, script: Path) -> None:
    runs = tmp_path / "runs.txt"
    runner = ActionRunner([action(script, runs)], ActionLedger(tmp_path / "spool.db"))
    result = await runner.execute(order("rm-rf"))
    assert result is not None and result.outcome == "refused"
    assert "not declared" in (result.reason or "")
    assert count(runs) == 0
    nothing = ActionRunner([], ActionLedger(tmp_path / "other.db"))
    assert nothing.offered == []
    assert (await nothing.execute(order())).outcome == "refused"  # type: ignore[union-attr]


async def test_an_expired_order_never_runs(tmp_path: Path, script: Path) -> None:
    runs = tmp_path / "runs.txt"
    runner = ActionRunner([action(script, runs)], ActionLedger(tmp_path / "spool.db"))
    result = await runner.execute(order(expires_in=timedelta(seconds=-1)))
    assert result is not None and result.outcome == "expired"
    assert count(runs) == 0


async def test_a_timeout_kills_the_action_and_output_is_bounded(tmp_path: Path) -> None:
    slow = ActionConfig(id="slow", argv=[sys.executable, "-c", "import time; time.sleep(30)"], timeout="1s")
    chatty = ActionConfig(id="chatty", argv=[sys.executable, "-c", "print('x' * 100000)"])
    runner = ActionRunner([slow, chatty], ActionLedger(tmp_path / "spool.db"))
    timed_out = await runner.execute(order("slow"))
    assert timed_out is not None and timed_out.timed_out and timed_out.outcome == "ran"
    loud = await runner.execute(order("chatty"))
    assert loud is not None and len(loud.stdout) <= 4000 and "more bytes not kept" in loud.stdout
    missing = ActionConfig(id="missing", argv=["/nonexistent/restart"])
    failed = await ActionRunner([missing], ActionLedger(tmp_path / "spool.db")).execute(order("missing"))
    assert (
        failed is not None and failed.outcome == "failed" and "/nonexistent/restart" in (failed.reason or "")
    )


async def test_results_are_resent_until_acknowledged(tmp_path: Path, script: Path) -> None:
    from agent.client import CollectorError

    runner = ActionRunner([action(script, tmp_path / "runs.txt")], ActionLedger(tmp_path / "spool.db"))
    await runner.execute(order())
    delivered: list[ActionResult] = []

    async def down(result: ActionResult) -> None:
        raise CollectorError("collector down", permanent=False)

    async def up(result: ActionResult) -> None:
        delivered.append(result)

    assert await runner.deliver_pending(down) == 0
    assert await runner.deliver_pending(up) == 1
    assert await runner.deliver_pending(up) == 0
    assert len(delivered) == 1


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('id = "a"\nargv = "systemctl restart api"', "actions[0].argv: must be a list"),
        ('id = "a"\nargv = ["x"]\ntimeout = "-5s"', "actions[0].timeout"),
        ('id = "a"\nargv = ["x"]\ntimeout = -5', "actions[0].timeout"),
        ('id = "a"\nargv = []', "actions[0].argv"),
        ('id = "a"\nargv = ["x"]\nmax_runs = 0', "actions[0].max_runs"),
        ('id = "a"\nargv = ["x"]\ncwd = "relative"', "actions[0].cwd"),
        ('id = "a"\nargv = ["x"]\nshell = true', "actions[0].shell"),
        ('id = "A B"\nargv = ["x"]', "actions[0].id"),
    ],
)
def test_bad_action_config_names_the_key(tmp_path: Path, table: str, message: str) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(f"[[actions]]\n{table}\n")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config({"UPWATCH_AGENT_CONFIG": str(path)})


def test_duplicate_action_ids_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text('[[actions]]\nid = "a"\nargv = ["x"]\n[[actions]]\nid = "a"\nargv = ["y"]\n')
    with pytest.raises(ConfigError, match=r"actions\[1\].id: duplicate"):
        load_config({"UPWATCH_AGENT_CONFIG": str(path)})


def test_actions_load_from_the_agent_file(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(
        '[[actions]]\nid = "restart-api"\nargv = ["systemctl", "restart", "api"]\ntimeout = "30s"\n'
        'max_runs = 3\nwindow = "30m"\nenv = { LANG = "C" }\ncwd = "/"\n'
    )
    config = load_config({"UPWATCH_AGENT_CONFIG": str(path)})
    [loaded] = config.actions
    assert loaded.argv == ["systemctl", "restart", "api"] and loaded.timeout == timedelta(seconds=30)
    assert isinstance(utcnow(), datetime)

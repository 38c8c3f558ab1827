"""Command line: `upwatch-agent run | check [--json] | version`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shlex
import sys
import time
from datetime import timedelta

from agent import __version__
from agent.action_ledger import ActionLedger
from agent.client import CollectorClient, CollectorError
from agent.daemon import merge_checks, new_session, run_agent
from agent.drill import DrillBook, clear_local_drill, write_local_drill
from agent.probes import run_check
from agent.probes.context import ProbeContext
from agent.settings import AgentConfig, ConfigError, load_config
from agent.spool import SpoolLocked
from shared.logging_setup import configure_logging
from shared.schema import DrillOrder, Result
from shared.timeutil import parse_duration, utcnow


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="upwatch-agent", description="upwatch probe agent")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run checks on their intervals and report to the collector")
    check = sub.add_parser("check", help="run every assigned and local check once, print a table")
    check.add_argument("--json", action="store_true", help="print results as JSON lines")
    drill = sub.add_parser("drill", help="make a check fail on purpose for a set time (drill mode)")
    drill.add_argument("check_id", nargs="?", help="the check to fail (omit with --stop to end all)")
    drill.add_argument("--for", dest="duration", default="5m", help="how long, e.g. 90s, 5m (default 5m)")
    drill.add_argument("--stop", action="store_true", help="end the drill of CHECK (or all) now")
    actions = sub.add_parser("actions", help="list this host's remediation actions, or reset a breaker")
    actions.add_argument("verb", choices=["list", "reset"], help="list actions and breakers, or reset one")
    actions.add_argument("action_id", nargs="?", help="the action whose breaker to reset")
    sub.add_parser("version", help="print the agent version")
    args = parser.parse_args(argv)

    if args.command == "version":
        print(__version__)
        return 0
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr
    )
    try:
        config = load_config()
    except ConfigError as error:
        print(f"upwatch-agent: configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(config.settings.log_format, config.settings.log_level)
    if args.command == "drill":
        return _drill(config, args)
    if args.command == "actions":
        return _actions(config, args)
    if args.command == "run":
        if not config.settings.collectors() or not config.settings.token:
            print(
                "upwatch-agent: set UPWATCH_AGENT_COLLECTOR_URL (or _COLLECTOR_URLS) and UPWATCH_AGENT_TOKEN",
                file=sys.stderr,
            )
            return 2
        try:
            asyncio.run(run_agent(config))
        except SpoolLocked as error:
            print(f"upwatch-agent: {error}", file=sys.stderr)
            return 2
        return 0
    return asyncio.run(_check_once(config, as_json=args.json))


async def _check_once(config: AgentConfig, *, as_json: bool) -> int:
    settings = config.settings
    async with new_session() as session:
        assigned = []
        assignments_drills: list[DrillOrder] = []
        if settings.collectors() and settings.token:
            urls = settings.collectors()
            client = CollectorClient(session, urls, settings.token, settings.request_timeout_s)
            try:
                assignments, _etag = await client.fetch_assignments(
                    None, settings.labels, sorted(action.id for action in config.actions)
                )
            except CollectorError as error:
                print(f"upwatch-agent: cannot fetch assignments: {error}", file=sys.stderr)
                return 2
            assigned = list(assignments.checks) if assignments else []
            assignments_drills = list(assignments.drills) if assignments else []
        checks = merge_checks(assigned, config.local_checks)
        context = ProbeContext(session=session, drills=DrillBook(config.drill_file), allow=config.allow)
        if assignments_drills:
            context.drills.update(assignments_drills)
        results = await asyncio.gather(*(run_check(check, context) for check in checks))
    _print_results(results, as_json=as_json)
    return 0 if all(result.status == "up" for result in results) else 1


def _drill(config: AgentConfig, args: argparse.Namespace) -> int:
    path = config.drill_file
    now = utcnow()
    if args.stop:
        ended = clear_local_drill(path, args.check_id, now)
        print(f"ended {ended} local drill(s)")
        return 0
    if not args.check_id:
        print("upwatch-agent drill: name the check to fail", file=sys.stderr)
        return 2
    try:
        duration = parse_duration(args.duration)
    except ValueError as error:
        print(f"upwatch-agent drill: --for: {error}", file=sys.stderr)
        return 2
    if not timedelta(seconds=1) <= duration <= timedelta(hours=24):
        print("upwatch-agent drill: --for must be between 1s and 24h", file=sys.stderr)
        return 2
    write_local_drill(path, args.check_id, now + duration, now)
    print(f"check {args.check_id!r} fails on purpose until {now + duration:%Y-%m-%d %H:%M:%S} UTC ({path})")
    return 0


def _actions(config: AgentConfig, args: argparse.Namespace) -> int:
    """`actions list`: declared actions with their breaker; `actions reset ID`: close a breaker."""
    ledger = ActionLedger(config.settings.spool_file())
    try:
        if args.verb == "reset":
            if not args.action_id:
                print("upwatch-agent actions reset: name the action", file=sys.stderr)
                return 2
            if args.action_id not in {action.id for action in config.actions}:
                print(f"upwatch-agent actions reset: no action {args.action_id!r} declared", file=sys.stderr)
                return 2
            was_open = ledger.reset(args.action_id)
            print(
                f"breaker of {args.action_id!r} {'reset' if was_open else 'was not open; run count cleared'}"
            )
            return 0
        if not config.actions:
            print("no [[actions]] declared: this agent runs no remediation actions")
            return 0
        breakers = {breaker.action_id: breaker for breaker in ledger.breakers()}
        for action in config.actions:
            window_s = action.window.total_seconds()
            runs = ledger.runs_since(action.id, time.time() - window_s)
            breaker = breakers.get(action.id)
            state = f"OPEN ({breaker.reason}): reset it to allow runs" if breaker else "closed"
            print(
                f"{action.id}\t{shlex.join(action.argv)}\truns in window: {runs}/{action.max_runs}"
                f"\tbreaker {state}"
            )
        return 0
    finally:
        ledger.close()


def _print_results(results: list[Result], *, as_json: bool) -> None:
    if as_json:
        for result in results:
            print(result.model_dump_json())
        return
    rows = [("CHECK", "STATUS", "LATENCY", "ERROR")]
    rows += [
        (r.check_id, r.status, f"{r.latency_ms:.1f} ms", r.error or "")
        for r in sorted(results, key=lambda r: r.check_id)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])
    if not results:
        print("(no checks assigned or configured)")


if __name__ == "__main__":
    sys.exit(main())

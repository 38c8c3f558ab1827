"""Command line of the collector: serve, worker, migrate, agent-token, config check,
backup, restore, doctor."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from shared.logging_setup import configure_logging
from shared.timeutil import utcnow
from statuspage import heartbeat_commands
from statuspage.db import SchemaError
from statuspage.notify import commands as notify_commands
from statuspage.oncall import commands as oncall_commands
from statuspage.settings import ConfigError, Settings, load_settings
from statuspage.storage import sql  # noqa: I001

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
LABEL_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="upwatch-statuspage", description="upwatch collector")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web server (gunicorn) and the worker")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to bind (default 8080)")
    serve.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    serve.add_argument("--threads", type=int, default=4, help="threads per worker process")
    serve.add_argument("--no-worker", action="store_true", help="do not start the background worker")

    worker = sub.add_parser("worker", help="run only the background worker")
    worker.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)

    sub.add_parser("migrate", help="apply pending database migrations")

    sink = sub.add_parser("mail-sink", help="demo only: catch mail on a local port, shown in the admin")
    sink.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sink.add_argument("--port", type=int, default=8025, help="port to bind (default 8025)")

    token = sub.add_parser("agent-token", help="create, list or revoke agent tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create an agent and print its token (last line)")
    create.add_argument("name", help="the agent's name (letters, digits, _ . -)")
    create.add_argument("--label", action="append", default=[], help="a label; repeat for more")
    create.add_argument("--replace", action="store_true", help="revoke the agent's current token first")
    token_sub.add_parser("list", help="list agents with live tokens")
    revoke = token_sub.add_parser("revoke", help="revoke an agent's token at once")
    revoke.add_argument("name")
    approve = token_sub.add_parser("approve-labels", help="approve the labels an agent declared (audited)")
    approve.add_argument("name")
    approve.add_argument("--label", action="append", default=[], help="only this pending label; repeat")

    report = sub.add_parser("report", help="SLA report per component: uptime, incidents, MTTA, MTTR")
    report.add_argument("--period", required=True, help="2026-11 (month), 2026-Q4 (quarter) or 2026 (year)")
    report.add_argument("--component", action="append", default=[], help="a component id; repeat for more")
    report.add_argument("--format", choices=["table", "csv", "json"], default="table")
    export = sub.add_parser(
        "export-static", help="write the public page, feeds, badges and JSON API as files"
    )
    export.add_argument("dir", type=Path, help="output folder (created; existing files are overwritten)")

    postmortem = sub.add_parser("postmortem", help="postmortem template, action items, publishing")
    pm_sub = postmortem.add_subparsers(dest="postmortem_command", required=True)
    pm_draft = pm_sub.add_parser("draft", help="print the pre-filled postmortem template of an incident")
    pm_draft.add_argument("incident", type=int)
    pm_publish = pm_sub.add_parser(
        "publish", help="publish a postmortem (markdown file) on the incident page"
    )
    pm_publish.add_argument("incident", type=int)
    pm_publish.add_argument("file", type=Path)
    pm_publish.add_argument("--notify-subscribers", action="store_true", help="also tell subscribers")
    pm_publish.add_argument("--actor", default="cli", help="who publishes (recorded on the timeline)")
    pm_item = pm_sub.add_parser("action-item", help="add an action item with an owner")
    pm_item.add_argument("incident", type=int)
    pm_item.add_argument("description")
    pm_item.add_argument("--owner", required=True)
    pm_item.add_argument("--due", type=_date, default=None, help="YYYY-MM-DD")
    pm_item.add_argument("--actor", default="cli")

    problem = sub.add_parser("problem", help="problem records: linked incidents and total impact")
    problem_sub = problem.add_subparsers(dest="problem_command", required=True)
    problem_sub.add_parser("list", help="problems with their incident counts")
    problem_show = problem_sub.add_parser("show", help="a problem's incidents and total impact")
    problem_show.add_argument("problem", type=int)

    drill = sub.add_parser("drill", help="rehearse: a synthetic failure through the real pipeline")
    drill_what = drill.add_mutually_exclusive_group(required=True)
    drill_what.add_argument("--component", help="the component whose checks the agents fail on purpose")
    drill_what.add_argument("--list", action="store_true", help="list past drills")
    drill_what.add_argument("--show", type=int, metavar="DRILL", help="print a drill's report (JSON)")
    drill.add_argument("--duration", default="2m", help="how long agents fail the checks (default 2m)")
    drill.add_argument("--wait", default="10m", help="how long to wait for an acknowledgement (default 10m)")
    drill.add_argument(
        "--notify-subscribers", action="store_true", help="also tell subscribers (default: never)"
    )
    drill.add_argument("--actor", default="cli", help="who runs the drill (recorded)")

    from statuspage.admin.cli import add_commands as add_admin_commands

    add_admin_commands(sub)

    backup = sub.add_parser("backup", help="take a consistent online copy of the database")
    backup.add_argument("file", type=Path, help="where to write the copy")
    backup.add_argument("--force", action="store_true", help="replace FILE if it exists")

    restore = sub.add_parser("restore", help="replace the database with a backup, then migrate it")
    restore.add_argument("file", type=Path, help="a file written by `backup`")
    restore.add_argument(
        "--force", action="store_true", help="overwrite an existing (possibly live) database"
    )

    copy = sub.add_parser(
        "copy-database", help="copy every row into an empty database (SQLite <-> PostgreSQL)"
    )
    copy.add_argument("source", help="a SQLite file or postgresql:// URL, at this version's schema")
    copy.add_argument("target", help="an empty SQLite file or postgresql:// URL (migrated first)")

    sub.add_parser("doctor", help="check config, database, disk, clock, SMTP and agents; say what to fix")

    config = sub.add_parser("config", help="configuration tools")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    check = config_sub.add_parser("check", help="validate a config file; name the key of each error")
    check.add_argument("file", type=Path)

    notify_commands.add_parsers(sub)
    heartbeat_commands.add_parsers(sub)
    oncall_commands.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr
    )
    if args.command == "config":
        return _config_check(args.file)
    if args.command == "copy-database":
        from statuspage.copy_database import command as copy_command

        configure_logging("text", "WARNING")
        return copy_command(args.source, args.target)
    try:
        settings = load_settings()
    except ConfigError as error:
        if args.command == "doctor":
            print(f"FAIL  config    {error}\n{'':<15} fix: correct the key named above", file=sys.stderr)
            return 1
        print(f"upwatch-statuspage: configuration error:\n{error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    handlers: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
        "serve": _serve,
        "worker": _worker,
        "migrate": _migrate,
        "mail-sink": _mail_sink,
        "agent-token": _agent_token,
        "user": _user,
        "api-token": _api_token,
        "report": _report,
        "postmortem": _postmortem,
        "problem": _problem,
        "drill": _drill,
        **dict.fromkeys(notify_commands.COMMANDS, notify_commands.run),
        **dict.fromkeys(heartbeat_commands.COMMANDS, heartbeat_commands.run),
        **dict.fromkeys(oncall_commands.COMMANDS, oncall_commands.run),
        "export-static": _export_static,
        "backup": _backup,
        "restore": _restore,
        "doctor": _doctor,
    }
    try:
        return handlers[args.command](settings, args)
    except SchemaError as error:
        # A newer database or a failed migration: one clear message, no traceback.
        print(f"upwatch-statuspage: {error}", file=sys.stderr)
        return 2
    except ConfigError as error:  # checks that need the database (escalation targets of schedules)
        print(f"upwatch-statuspage: configuration error:\n{error}", file=sys.stderr)
        return 2


def _user(settings: Settings, args: argparse.Namespace) -> int:
    from statuspage.admin.cli import user_command

    return user_command(settings, args)


def _api_token(settings: Settings, args: argparse.Namespace) -> int:
    from statuspage.admin.cli import api_token_command

    return api_token_command(settings, args)


def _config_check(path: Path) -> int:
    try:
        settings = load_settings(environ={}, config=str(path))
    except ConfigError as error:
        print(f"{path}: invalid:\n{error}", file=sys.stderr)
        return 2
    print(f"{path}: OK ({len(settings.components)} components, {len(settings.checks)} checks)")
    return 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from statuspage import create_app
    from statuspage.oncall.service import check_references
    from statuspage.server import serve

    check_references(settings)  # a target may name a schedule made in the admin: needs the database
    app = create_app(settings)
    print(f"upwatch status page: http://{args.host}:{args.port}/", file=sys.stderr, flush=True)
    serve(app, args.host, args.port, args.workers, args.threads, with_worker=not args.no_worker)
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from statuspage.db import open_store_and_migrate
    from statuspage.oncall.service import check_references
    from statuspage.server import freeze_startup_objects
    from statuspage.worker import Worker, install_signal_handlers

    # Refuse a newer or unmigratable database now, not once per pass.
    sql.close(open_store_and_migrate(settings.database))
    check_references(settings)

    worker = Worker(settings)
    install_signal_handlers(worker)
    freeze_startup_objects()
    worker.run_forever(parent_pid=args.parent_pid)
    return 0


def _mail_sink(settings: Settings, args: argparse.Namespace) -> int:
    try:
        import aiosmtpd  # noqa: F401 - the demo extra

        from statuspage.mailsink import serve
    except ImportError:
        print(
            "upwatch-statuspage: mail-sink needs the demo extra: pip install 'upwatch[demo]'", file=sys.stderr
        )
        return 2
    from shared.timeutil import utcnow

    serve(settings, args.host, args.port, utcnow)
    return 0


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from statuspage.db import migrate
    from statuspage.storage import sql

    db = sql.open_store(settings.database)
    try:
        applied = migrate(db)
    finally:
        sql.close(db)
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")
    return 0


def _export_static(settings: Settings, args: argparse.Namespace) -> int:
    from statuspage import create_app
    from statuspage.public.export import ExportError, export_static

    try:
        written = export_static(create_app(settings), args.dir)
    except ExportError as error:
        print(f"export-static: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"export-static: cannot write to {args.dir}: {error.strerror or error}", file=sys.stderr)
        return 1
    print(f"wrote {len(written)} files to {args.dir}")
    return 0


_POSTGRES_BACKUP = (
    "upwatch-statuspage: backup and restore are for the SQLite file; on PostgreSQL use the server's"
    " own tools (pg_dump / pg_restore, or the provider's snapshots): see docs/operations.md"
)


def _backup(settings: Settings, args: argparse.Namespace) -> int:
    from statuspage.backup import BackupError, backup_database

    if isinstance(settings.database, str):
        print(_POSTGRES_BACKUP, file=sys.stderr)
        return 1
    try:
        info = backup_database(settings.database, args.file, overwrite=args.force)
    except BackupError as error:
        print(f"upwatch-statuspage backup: {error}", file=sys.stderr)
        return 1
    print(
        f"backup written to {info.path}: {info.size_bytes} bytes, {info.results} results, "
        f"schema {info.migrations[-1] if info.migrations else 'empty'}"
    )
    return 0


def _restore(settings: Settings, args: argparse.Namespace) -> int:
    from statuspage.backup import BackupError, restore_database

    if isinstance(settings.database, str):
        print(_POSTGRES_BACKUP, file=sys.stderr)
        return 1
    try:
        info = restore_database(args.file, settings.database, force=args.force)
    except BackupError as error:
        print(f"upwatch-statuspage restore: {error}", file=sys.stderr)
        return 1
    print(
        f"restored {args.file} into {info.path}: {info.results} results, "
        f"schema {info.migrations[-1] if info.migrations else 'empty'}"
    )
    return 0


def _doctor(settings: Settings, _args: argparse.Namespace) -> int:
    from statuspage.doctor import render, run_checks

    findings = run_checks(settings, utcnow())
    print(render(findings))
    return 1 if any(finding.status == "fail" for finding in findings) else 0


def _agent_token(settings: Settings, args: argparse.Namespace) -> int:
    from statuspage.db import open_store_and_migrate
    from statuspage.storage import agents

    db = open_store_and_migrate(settings.database)
    if args.token_command == "list":
        from statuspage.agent_report import agent_line

        for agent in agents.list_agents(db):
            print(agent_line(agent, settings.clock_skew_tolerance, utcnow()))
        return 0
    if args.token_command == "revoke":
        if not agents.revoke_agent(db, args.name, utcnow()):
            print(f"no live token for agent {args.name!r}", file=sys.stderr)
            return 1
        print(f"revoked the token of agent {args.name!r}")
        return 0
    if args.token_command == "approve-labels":
        return _approve_labels(db, args)
    if not NAME_RE.match(args.name):
        print("agent name: use 1-64 letters, digits, '_', '.', '-'", file=sys.stderr)
        return 2
    bad = [label for label in args.label if not LABEL_RE.match(label)]
    if bad:
        print(f"--label: invalid label {bad[0]!r}", file=sys.stderr)
        return 2
    if args.replace:
        agents.revoke_agent(db, args.name, utcnow())
    try:
        _agent, token = agents.create_agent(db, args.name, args.label, utcnow())
    except agents.AgentExists:
        print(f"agent {args.name!r} already has a live token (use --replace)", file=sys.stderr)
        return 1
    print(f"created agent {args.name!r}; store this token now, it is shown only once:")
    print(token)
    return 0


def _approve_labels(db: Any, args: argparse.Namespace) -> int:
    from statuspage.admin import operations

    actor = operations.Actor("cli", "")
    try:
        approved = operations.approve_agent_labels(db, actor, utcnow(), args.name, args.label or None)
    except operations.NotFound:
        print(f"no live token for agent {args.name!r}", file=sys.stderr)
        return 1
    except operations.OperationError as error:
        print(f"--label: {error.message}", file=sys.stderr)
        return 2
    print(f"approved labels of agent {args.name!r}: {', '.join(approved) or 'none were waiting'}")
    return 0


def _report(settings: Settings, args: argparse.Namespace) -> int:
    from statuspage.db import open_store_and_migrate
    from statuspage.reports import parse_period, report_rows, to_csv, to_json

    try:
        period = parse_period(args.period)
    except ValueError as error:
        print(f"--period: {error}", file=sys.stderr)
        return 2
    unknown = [c for c in args.component if settings.component(c) is None]
    if unknown:
        print(f"--component: unknown component {unknown[0]!r}", file=sys.stderr)
        return 2
    rows = report_rows(
        open_store_and_migrate(settings.database), settings, period, utcnow(), args.component or None
    )
    if args.format == "csv":
        print(to_csv(rows), end="")
    elif args.format == "json":
        print(to_json(rows))
    else:
        print(f"{'COMPONENT':<24} {'UPTIME %':>10} {'TARGET':>7} {'INCIDENTS':>9} {'MTTA':>8} {'MTTR':>8}")
        for row in rows:
            print(
                f"{row['component']:<24} {row['uptime_percent']:>10.3f} {_opt(row['target_percent']):>7}"
                f" {row['incidents']:>9} {_minutes(row['mtta_s']):>8} {_minutes(row['mttr_s']):>8}"
            )
    return 0


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid date {text!r}; use YYYY-MM-DD") from None


def _postmortem(settings: Settings, args: argparse.Namespace) -> int:
    from statuspage import postmortems
    from statuspage.db import open_store_and_migrate
    from statuspage.incidents import IncidentInputError, IncidentNotFound

    db = open_store_and_migrate(settings.database)
    try:
        if args.postmortem_command == "draft":
            print(postmortems.draft(db, settings, args.incident, utcnow()), end="")
        elif args.postmortem_command == "publish":
            markdown = args.file.read_text(encoding="utf-8")
            postmortems.publish(db, args.incident, markdown, args.actor, utcnow(), args.notify_subscribers)
            print(f"postmortem of incident {args.incident} published")
        else:
            item = postmortems.add_action_item(
                db, args.incident, args.description, args.owner, args.due, args.actor, utcnow()
            )
            print(f"action item {item} added to incident {args.incident}")
    except IncidentNotFound as error:
        print(f"not found: {error}", file=sys.stderr)
        return 1
    except (IncidentInputError, OSError, UnicodeDecodeError) as error:
        print(f"refused: {error}", file=sys.stderr)
        return 2
    return 0


def _problem(settings: Settings, args: argparse.Namespace) -> int:
    from shared.timeutil import format_duration
    from statuspage.db import open_store_and_migrate
    from statuspage.reports import problem_impact
    from statuspage.storage.problems import list_problems

    db = open_store_and_migrate(settings.database)
    if args.problem_command == "list":
        for problem in list_problems(db):
            state = "closed" if problem.closed_at else "open"
            print(f"#{problem.id}\t{state}\t{len(problem.incident_ids)} incident(s)\t{problem.title}")
        return 0
    impact = problem_impact(db, args.problem, utcnow())
    if impact is None:
        print(f"not found: problem {args.problem}", file=sys.stderr)
        return 1
    print(f"Problem #{impact.problem_id}: {impact.title}")
    listed = ", ".join(f"#{i}" for i in impact.incident_ids) or "none"
    print(f"Incidents: {listed} ({impact.open_incidents} open)")
    print(f"Total duration: {format_duration(timedelta(seconds=impact.total_duration_s))}")
    for component_id, seconds in impact.downtime_s_by_component.items():
        print(f"Downtime of {component_id}: {format_duration(timedelta(seconds=seconds))}")
    print("By impact: " + (", ".join(f"{k}={v}" for k, v in sorted(impact.impact_counts.items())) or "-"))
    return 0


def _drill(settings: Settings, args: argparse.Namespace) -> int:
    import json
    import time

    from shared.timeutil import parse_duration
    from statuspage import drills
    from statuspage.db import open_store_and_migrate
    from statuspage.storage.drills import list_drills

    db = open_store_and_migrate(settings.database)
    if args.list:
        for past in list_drills(db):
            outcome = past.report.get("outcome", "running")
            print(
                f"#{past.id}\t{past.component_id}\t{past.started_at:%Y-%m-%d %H:%M}\t{past.status}\t{outcome}"
            )
        return 0
    if args.show is not None:
        try:
            print(json.dumps(drills.measure(db, settings, args.show, utcnow()).as_dict(), indent=2))
        except drills.DrillError as error:
            print(f"not found: {error}", file=sys.stderr)
            return 1
        return 0
    try:
        duration, wait = parse_duration(args.duration), parse_duration(args.wait)
        drill_id = drills.start(
            db, settings, args.component, duration, args.actor, utcnow(), args.notify_subscribers
        )
    except (ValueError, drills.DrillError) as error:
        print(f"drill refused: {error}", file=sys.stderr)
        return 2
    print(f"drill #{drill_id} started on {args.component!r}: its checks fail for {args.duration}", flush=True)
    deadline = time.monotonic() + wait.total_seconds()
    seen: set[str] = set()
    aborted = False
    try:
        while time.monotonic() < deadline:
            report = drills.measure(db, settings, drill_id, utcnow())
            _print_milestones(report, seen)
            if report.acknowledged_at:
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        aborted = True
    final = drills.finish(db, settings, drill_id, utcnow(), aborted=aborted)
    _print_milestones(final, seen)
    print(json.dumps(final.as_dict(), indent=2))
    return 0 if final.acknowledged_at else 1


def _print_milestones(report: Any, seen: set[str]) -> None:
    milestones = [
        ("first_failure_at", "propagation_s", "injected failure reached the collector"),
        ("incident_opened_at", "detection_s", f"incident #{report.incident_id} opened"),
        ("first_notification_at", "notification_s", "first page sent"),
        ("acknowledged_at", "acknowledgement_s", f"acknowledged by {report.acknowledged_by}"),
    ]
    for moment, seconds, text in milestones:
        if getattr(report, moment) and moment not in seen:
            seen.add(moment)
            print(f"  {text} (+{getattr(report, seconds):.1f}s)", flush=True)


def _opt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f}m"


if __name__ == "__main__":
    sys.exit(main())

"""`upwatch-statuspage doctor`: check what an operator would check, and say what to fix.

Each check returns Findings: `ok`, `warn` (worth a look, nothing is broken
yet) or `fail` (something is wrong now); `doctor` exits 1 when any check
fails. Checks read the database without changing it (a missing database is
reported, not created) and take their I/O as parameters (clock, disk usage,
kernel clock state, SMTP connector) so tests feed them recorded values.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import smtplib
import sqlite3
import ssl
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from shared.timeutil import format_duration, from_iso, to_iso
from statuspage.db import DatabaseTooNew, applied_migrations, check_not_newer, known_migrations
from statuspage.doctor_finding import Finding
from statuspage.notify.config import SmtpConfig
from statuspage.settings import Settings
from statuspage.storage.agents import live_agents_last_seen, recent_clock_skews
from statuspage.storage.results import newest_received_at
from statuspage.storage.sqlite_file import integrity_problems, journal_mode, open_existing

# A backup or a VACUUM needs room for a full copy of the database, plus slack.
DISK_HEADROOM_BYTES = 100 * 1024 * 1024
DISK_WARN_FRACTION = 0.10
# Clocks may drift by the collector's `clock_skew_tolerance`; an agent is silent after
# `offline_after` (the same limits ingest and the engine use).
SMTP_TIMEOUT_S = 5.0


def run_checks(
    settings: Settings,
    now: datetime,
    *,
    disk_usage: Callable[[Path], Any] = shutil.disk_usage,
    kernel_clock_synced: Callable[[], bool | None] | None = None,
    smtp_probe: Callable[[SmtpConfig, float], None] | None = None,
) -> list[Finding]:
    """Every check, in the order they are printed. Never raises for what it finds."""
    findings = [Finding("ok", "config", _config_summary(settings))]
    if isinstance(settings.database, str):  # a postgresql:// URL (settings.PostgresURL)
        from statuspage.doctor_postgres import check_postgres

        return [
            *findings,
            *check_postgres(settings.database),
            *check_smtp(settings, smtp_probe or smtp_reachable),
        ]
    db = _open_existing(settings.database)
    if db is None:
        findings.append(
            Finding(
                "fail",
                "database",
                f"{settings.database} does not exist or cannot be opened",
                "check UPWATCH_DATABASE; `upwatch-statuspage migrate` creates a new database",
            )
        )
        findings += check_disk(settings.database, disk_usage)
        findings += check_smtp(settings, smtp_probe or smtp_reachable)
        return findings
    try:
        findings += check_database(db, settings.database)
        findings += check_disk(settings.database, disk_usage)
        findings += check_clock(
            db, now, kernel_clock_synced or kernel_clock_synchronized, settings.clock_skew_tolerance
        )
        findings += check_smtp(settings, smtp_probe or smtp_reachable)
        findings += check_agents(db, settings, now)
        findings += check_oncall(db, settings, now)
        findings += check_responses(db, settings)
    finally:
        db.conn.close()
    return findings


def _config_summary(settings: Settings) -> str:
    source = str(settings.config) if settings.config else "environment only (UPWATCH_CONFIG unset)"
    return f"{source}: {len(settings.components)} components, {len(settings.checks)} checks"


def _open_existing(path: Path) -> sqlite_utils.Database | None:
    return open_existing(path)


def check_database(db: sqlite_utils.Database, path: Path) -> list[Finding]:
    """Integrity, schema version (pending or unknown migrations) and journal mode."""
    try:
        problems = integrity_problems(db.conn)
    except sqlite3.DatabaseError as error:
        problems = [str(error)]
    if problems != ["ok"]:
        return [
            Finding(
                "fail",
                "database",
                f"{path}: integrity check failed: {'; '.join(problems[:3])}",
                "stop upwatch, restore the latest backup (upwatch-statuspage restore FILE --force)",
            )
        ]
    findings = [Finding("ok", "database", f"{path}: integrity ok")]
    try:
        check_not_newer(db)
    except DatabaseTooNew as error:
        return [*findings, Finding("fail", "schema", str(error), "run the upwatch version that wrote it")]
    pending = [name for name in known_migrations() if name not in set(applied_migrations(db))]
    if pending:
        findings.append(
            Finding(
                "warn",
                "schema",
                f"{len(pending)} migration(s) pending: {', '.join(pending)}",
                "run `upwatch-statuspage migrate` (the services also migrate when they start)",
            )
        )
    else:
        findings.append(Finding("ok", "schema", f"up to date ({len(known_migrations())} migrations)"))
    mode = journal_mode(db.conn)
    if mode != "wal":
        findings.append(
            Finding("warn", "database", f"journal mode is {mode}, not wal", "start the collector once")
        )
    return findings


def check_disk(path: Path, disk_usage: Callable[[Path], Any]) -> list[Finding]:
    """Free space on the database's file system: room for a backup copy plus headroom."""
    folder = path.parent if path.parent.exists() else Path(".")
    usage = disk_usage(folder)
    size = _database_bytes(path)
    need = size + DISK_HEADROOM_BYTES
    message = f"{_mib(usage.free)} free of {_mib(usage.total)} on {folder} (database {_mib(size)})"
    if usage.free < need:
        return [
            Finding(
                "fail",
                "disk",
                message,
                f"free at least {_mib(need - usage.free)}: a backup or VACUUM needs a full copy",
            )
        ]
    if usage.total and usage.free / usage.total < DISK_WARN_FRACTION:
        return [Finding("warn", "disk", message, "less than 10% free: plan more space")]
    return [Finding("ok", "disk", message)]


def _database_bytes(path: Path) -> int:
    total = 0
    for suffix in ("", "-wal", "-shm"):
        candidate = Path(f"{path}{suffix}")
        if candidate.exists():
            total += candidate.stat().st_size
    return total


def _mib(count: float) -> str:
    return f"{count / (1024 * 1024):.0f} MiB"


def check_clock(
    db: sqlite_utils.Database,
    now: datetime,
    kernel_clock_synced: Callable[[], bool | None],
    tolerance: timedelta,
) -> list[Finding]:
    """This host's clock against the data it stored, the agents' clocks, and the kernel's NTP state."""
    findings: list[Finding] = []
    newest = newest_received_at(db)
    tolerance_s = tolerance.total_seconds()
    if newest and from_iso(newest) - now > tolerance:
        findings.append(
            Finding(
                "fail",
                "clock",
                f"results were received at {newest}, later than the clock now ({now.isoformat()}): "
                "the clock went backwards",
                "fix the time (NTP: systemd-timesyncd or chrony), then restart upwatch",
            )
        )
    recent = now - timedelta(hours=1)
    rows = recent_clock_skews(db, recent)
    off = [(name, skew) for name, skew in rows if abs(skew) > tolerance_s]
    # Every agent off the same way points at this host; mixed signs point at the agents.
    one_way = all(skew > 0 for _n, skew in off) or all(skew < 0 for _n, skew in off)
    if len(rows) >= 2 and len(off) == len(rows) and one_way:
        findings.append(
            Finding(
                "fail",
                "clock",
                f"every recent agent's clock differs from this host's (by {off[0][1]:+.0f} s or more)",
                "this host's clock is probably wrong: check NTP here",
            )
        )
    elif off:
        names = ", ".join(f"{name} ({skew:+.0f} s)" for name, skew in off[:5])
        findings.append(
            Finding("warn", "clock", f"agent clocks are off: {names}", "check NTP on those hosts")
        )
    synced = kernel_clock_synced()
    if synced is False:
        findings.append(
            Finding(
                "warn",
                "clock",
                "the kernel reports the clock is not synchronised",
                "enable time synchronisation (systemd-timesyncd or chrony)",
            )
        )
    if not findings:
        state = "synchronised" if synced else "sync state unknown"
        findings.append(Finding("ok", "clock", f"{now.isoformat(timespec='seconds')} ({state})"))
    return findings


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h> (Linux): we read only `status`; the
    # rest is padding large enough for every field the kernel writes.
    _fields_ = [("modes", ctypes.c_uint), ("_pad0", ctypes.c_long * 5), ("status", ctypes.c_int)]
    _fields_ += [("_pad1", ctypes.c_long * 32)]


STA_UNSYNC = 0x0040
TIME_ERROR = 5


def kernel_clock_synchronized() -> bool | None:
    """adjtimex(2) read-only: False when the kernel says the clock is unsynchronised, None if unknown."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        timex = _Timex()
        state = libc.adjtimex(ctypes.byref(timex))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return not (state == TIME_ERROR or timex.status & STA_UNSYNC)


def smtp_reachable(config: SmtpConfig, timeout_s: float) -> None:
    """Connect as delivery will (TLS, STARTTLS or plain), say EHLO and log in when credentials
    are set. Raises OSError or smtplib.SMTPException when any step fails."""
    host = str(config.host)
    client: smtplib.SMTP
    if config.security == "tls":
        client = smtplib.SMTP_SSL(host, config.port, timeout=timeout_s, context=_tls_context(config))
    else:
        client = smtplib.SMTP(host, config.port, timeout=timeout_s)
    with client:
        code, _message = client.ehlo()
        if code >= 400:
            raise smtplib.SMTPResponseException(code, b"EHLO refused")
        if config.security == "starttls":
            client.starttls(context=_tls_context(config))
        if config.username is not None and config.password is not None:
            client.login(config.username, config.password)


def _tls_context(config: SmtpConfig) -> ssl.SSLContext:
    # Verified like delivery verifies: the system CAs plus smtp.ca_file for a private relay.
    return ssl.create_default_context(cafile=config.ca_file)


def check_smtp(settings: Settings, probe: Callable[[SmtpConfig, float], None]) -> list[Finding]:
    """Mail is configured when `smtp.host` is set; then the relay must accept us now."""
    config = settings.smtp
    if not config.host:
        return [Finding("ok", "smtp", "not configured (no mail notifications)")]
    where = f"{config.host}:{config.port} ({config.security})"
    try:
        probe(config, SMTP_TIMEOUT_S)
    except smtplib.SMTPAuthenticationError:
        return [
            Finding("fail", "smtp", f"{where} refused the login", "check smtp.username and smtp.password")
        ]
    except (OSError, smtplib.SMTPException) as error:
        return [
            Finding(
                "fail",
                "smtp",
                f"cannot talk to {where}: {error}",
                "check smtp.host, smtp.port and smtp.security, the relay, and the firewall between",
            )
        ]
    return [Finding("ok", "smtp", f"{where} answers")]


def check_agents(db: sqlite_utils.Database, settings: Settings, now: datetime) -> list[Finding]:
    """Every agent with a live token should be reporting; checks need at least one agent."""
    rows = live_agents_last_seen(db)
    agent_checks = [check for check in settings.checks if check.kind != "heartbeat"]
    if not rows:
        if agent_checks:
            return [
                Finding(
                    "fail",
                    "agents",
                    f"no agents, but {len(agent_checks)} check(s) need one",
                    "create a token (upwatch-statuspage agent-token create NAME) and install an agent",
                )
            ]
        return [Finding("ok", "agents", "no agents and no checks that need one")]
    findings: list[Finding] = []
    for name, last_seen in rows:
        if last_seen is None:
            findings.append(
                Finding(
                    "warn",
                    "agents",
                    f"{name} has never reported",
                    f"install the agent on {name} (deploy/install-agent.sh) with its token",
                )
            )
            continue
        silent = now - from_iso(last_seen)
        if silent > settings.offline_after:
            findings.append(
                Finding(
                    "fail",
                    "agents",
                    f"{name} last reported {format_duration(silent)} ago",
                    f"on {name}: systemctl status upwatch-agent; journalctl -u upwatch-agent",
                )
            )
    seen = len(rows) - len(findings)
    findings.insert(0, Finding("ok", "agents", f"{seen} of {len(rows)} agent(s) reporting"))
    return findings


def check_oncall(db: sqlite_utils.Database, settings: Settings, now: datetime) -> list[Finding]:
    """Gaps ahead in schedules an escalation policy pages; responders nobody can reach."""
    from statuspage.oncall import service

    try:
        schedules = service.all_schedules(db, settings)  # the file's and those made in the admin
        people = service.all_responders(db, settings)  # likewise
        unknown = service.reference_problems(db, settings)
        if not schedules and not people and not unknown:
            return []
        holes = service.upcoming_gaps(db, settings, now)
        states = service.contact_states(db, settings)
        shadowed = service.shadowed_schedules(db, settings)
        shadowed_people = service.shadowed_responders(db, settings)
    except sqlite3.OperationalError:
        return [Finding("warn", "oncall", "on-call tables missing", "run `upwatch-statuspage migrate`")]
    findings = [
        Finding("fail", "oncall", problem, "make it in the admin (On call) or correct the reference")
        for problem in unknown
    ]
    findings += [
        Finding(
            "warn",
            "oncall",
            f"schedule {schedule_id} is declared in upwatch.toml and was also made in the admin:"
            " the file's is used",
            "delete the admin one (admin: On call) or rename one of them",
        )
        for schedule_id in shadowed
    ]
    findings += [
        Finding(
            "warn",
            "oncall",
            f"responder {name} is declared in upwatch.toml and was also made a responder in the admin:"
            " the file's is used",
            "stop the admin one being a responder (admin: On call) or drop it from the file",
        )
        for name in shadowed_people
    ]
    horizon = format_duration(settings.oncall.gap_horizon)
    for schedule_id, gaps in holes.items():
        hours = sum(g.duration.total_seconds() for g in gaps) / 3600
        first = gaps[0]
        findings.append(
            Finding(
                "warn",
                "oncall",
                f"schedule {schedule_id}: nobody on call for {hours:.0f} h in the next {horizon}"
                f" (first gap {to_iso(first.start)} to {to_iso(first.end)})",
                "add an override or a layer that covers it (admin: On call)",
            )
        )
    reachable = {state.responder for state in states if state.verified}
    for responder in people:
        if responder.name not in reachable:
            findings.append(
                Finding(
                    "warn",
                    "oncall",
                    f"responder {responder.name} has no verified contact method: pages to them go nowhere",
                    f"upwatch-statuspage oncall verify {responder.name} CONTACT",
                )
            )
    return findings or [Finding("ok", "oncall", f"no gaps in the next {horizon}; every responder reachable")]


def check_responses(db: sqlite_utils.Database, settings: Settings) -> list[Finding]:
    """Rules whose action no targeted agent declares (knowable once agents reported their actions)."""
    if not settings.responses.rules:
        return []
    from statuspage.responses.config import unknown_action_problems
    from statuspage.responses.rules import rule_targets
    from statuspage.storage.agents import list_agents
    from statuspage.storage.responses import offered_actions

    agents = list_agents(db)
    problems = unknown_action_problems(
        settings, offered_actions(db), lambda rule: rule_targets(settings, rule, agents)
    )
    fix = "declare the action in the agents' own [[actions]], or correct the rule's action"
    findings = [Finding("fail", "responses", problem, fix) for problem in problems]
    state = "on" if settings.responses.enabled else "switched off (responses.enabled = false)"
    return findings or [Finding("ok", "responses", f"{len(settings.responses.rules)} rule(s), {state}")]


def render(findings: list[Finding]) -> str:
    """The report: one line per finding, an indented `fix:` line under each problem."""
    lines = []
    for finding in findings:
        lines.append(f"{finding.status.upper():<5} {finding.check:<9} {finding.message}")
        if finding.status != "ok" and finding.fix:
            lines.append(f"{'':<15} fix: {finding.fix}")
    failed = sum(1 for finding in findings if finding.status == "fail")
    warned = sum(1 for finding in findings if finding.status == "warn")
    lines.append(f"{failed} problem(s), {warned} warning(s)")
    return "\n".join(lines)

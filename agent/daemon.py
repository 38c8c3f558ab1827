"""`upwatch-agent run`: fetch assignments, run checks, report, until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal

import aiohttp

from agent.action_ledger import ActionLedger
from agent.actions import ActionRunner
from agent.client import CollectorClient, CollectorError
from agent.drill import DrillBook
from agent.probes.context import ProbeContext
from agent.probes.http_exchange import recording_socket_factory, timing_trace_config
from agent.reporter import Reporter
from agent.scheduler import Scheduler
from agent.settings import AgentConfig
from agent.spool import Spool
from shared.checks import AGENT_KINDS, AnyCheck

log = logging.getLogger(__name__)


def new_session() -> aiohttp.ClientSession:
    """The one HTTP session of the agent: probes and collector calls share it.

    force_close: every probe opens a fresh connection, as blackbox_exporter does,
    so connect and TLS times are measured each run and a dead keep-alive
    connection never hides an outage.
    """
    # Probes run under their check's timeout; these bounds are a backstop.
    connector = aiohttp.TCPConnector(
        limit=0, ttl_dns_cache=60, force_close=True, socket_factory=recording_socket_factory
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=300, sock_connect=60),
        headers={"User-Agent": "upwatch-agent"},
        trace_configs=[timing_trace_config()],
    )


def merge_checks(assigned: list[AnyCheck], local: list[AnyCheck]) -> list[AnyCheck]:
    """Assigned checks win over local ones with the same id (the collector is the source of truth).

    Kinds the collector evaluates itself (heartbeats) are left out, should a collector send them.
    """
    merged = {check.id: check for check in local}
    merged.update({check.id: check for check in assigned})
    return [check for check in merged.values() if check.kind in AGENT_KINDS]


def log_refusals(checks: list[AnyCheck], config: AgentConfig) -> None:
    """Say once per assignment change which checks this host refuses to run (and how to allow them)."""
    for check in checks:
        reason = config.allow.refusal(check)
        if reason is not None:
            log.warning("refusing assigned check check=%s kind=%s reason=%s", check.id, check.kind, reason)


async def run_agent(config: AgentConfig, stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set or a termination signal arrives; flush results on the way out."""
    settings = config.settings
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    spool = Spool(settings.spool_file(), max_bytes=settings.spool_max_bytes, ledger=settings.spool_ledger)
    log.info("spool opened path=%s pending=%d", spool.path, spool.pending)
    try:
        async with new_session() as session:
            await _run(config, session, spool, stop)
    finally:
        spool.close()


async def _run(
    config: AgentConfig, session: aiohttp.ClientSession, spool: Spool, stop: asyncio.Event
) -> None:
    settings = config.settings
    client = CollectorClient(session, settings.collectors(), settings.token, settings.request_timeout_s)
    reporter = Reporter(
        client,
        spool,
        settings.name,
        report_interval_s=settings.report_interval_s,
        heartbeat_interval_s=settings.heartbeat_interval_s,
        batch_size=settings.batch_size,
        backoff_max_s=settings.backoff_max_s,
    )
    context = ProbeContext(session=session, drills=DrillBook(config.drill_file), allow=config.allow)
    scheduler = Scheduler(context, reporter.add, settings.max_concurrency)
    scheduler.update(config.local_checks)
    ledger = ActionLedger(settings.spool_file())
    runner = ActionRunner(config.actions, ledger)
    if runner.recover():
        log.warning("actions interrupted by the last stop are reported, not run again")
    reporter_task = asyncio.create_task(reporter.run(), name="reporter")
    actions_task = asyncio.create_task(runner.serve(client.send_action_result), name="actions")
    refresh_task = asyncio.create_task(
        _refresh_assignments(client, scheduler, context, runner, config, settings.assignments_refresh_s),
        name="assignments",
    )
    log.info(
        "agent started name=%s collectors=%s actions=%s",
        settings.name,
        ",".join(settings.collectors()),
        ",".join(runner.offered) or "none",
    )
    await stop.wait()
    log.info("agent stopping")
    refresh_task.cancel()
    await scheduler.stop(settings.shutdown_grace_s)
    reporter_task.cancel()
    actions_task.cancel()
    await asyncio.gather(refresh_task, reporter_task, actions_task, return_exceptions=True)
    await reporter.flush()
    ledger.close()


async def _refresh_assignments(
    client: CollectorClient,
    scheduler: Scheduler,
    context: ProbeContext,
    runner: ActionRunner,
    config: AgentConfig,
    every_s: float,
) -> None:
    etag: str | None = None
    failures = 0
    while True:
        try:
            assignments, etag = await client.fetch_assignments(etag, config.settings.labels, runner.offered)
            failures = 0
            if assignments is not None:
                checks = merge_checks(list(assignments.checks), config.local_checks)
                log_refusals(checks, config)
                scheduler.update(checks)
                context.drills.update(assignments.drills)
                runner.submit(list(assignments.actions))
                log.info(
                    "assignments loaded checks=%d drills=%d action_orders=%d",
                    len(checks),
                    len(assignments.drills),
                    len(assignments.actions),
                )
        except CollectorError as error:
            failures += 1
            log.warning("cannot fetch assignments error=%s", error)
        # Until the first assignments arrive (agent started before the collector),
        # retry quickly with a growing delay instead of waiting a whole refresh period.
        await asyncio.sleep(every_s if etag else min(every_s, 0.5 * 2 ** min(failures, 4)))

"""Agent liveness: a silent agent opens one "agent offline" incident for operators.

The time-based rule the worker runs every pass (`check_agent_liveness`):
- An agent with a live token that has reported before and whose last report
  (results or heartbeat) is older than `offline_after` goes offline: ONE
  incident (kind `agent_offline`, not public, auto, episode key
  `agent:<name>`), not one per check. Its checks count as "no data", not down:
  component status ignores stale locations (`engine.component_status`).
- When the agent reports again (or its token is revoked) the incident is resolved.
- Each transition is claimed with a conditional UPDATE on the agent's row and
  checked by row count, inside the transaction that opens or resolves the
  incident, so two workers never open or resolve it twice (and the episode
  key's unique index is the last line of defence).
An agent created but never heard from is not "offline": it was never online.
After the collector's own downtime, silence counts only from when it came back.
Operators are paged through the default escalation policy, when one is set.
"""

from __future__ import annotations

import logging
from datetime import datetime

from shared.timeutil import to_iso
from statuspage import incidents as incident_service
from statuspage.assignments import checks_for
from statuspage.engine.escalation import first_due
from statuspage.settings import Settings
from statuspage.storage import agents as agent_store
from statuspage.storage import incidents as incident_store
from statuspage.storage import sql
from statuspage.storage.sql import Store  # noqa: I001
from statuspage.timed_rules import listening_since

log = logging.getLogger(__name__)
ENGINE = "engine"


def check_agent_liveness(db: Store, settings: Settings, now: datetime) -> tuple[list[str], list[str]]:
    """Open incidents for agents gone silent, resolve those of agents back; return both name lists."""
    cutoff = now - settings.offline_after
    # After the collector's own downtime every agent "missed" reports; silence counts only
    # from when the collector was listening again (statuspage.timed_rules).
    back_at = listening_since(db)
    listening_long_enough = back_at is None or now - back_at >= settings.offline_after
    went_offline = [
        agent.name
        for agent in (agent_store.silent_agents(db, cutoff) if listening_long_enough else [])
        if _mark_offline(db, settings, agent, cutoff, now)
    ]
    came_back = [
        name
        for agent_id, name, incident_id, revoked in agent_store.returned_agents(db)
        if _mark_online(db, agent_id, name, incident_id, revoked, now)
    ]
    if went_offline:
        log.warning(
            "agents offline agents=%s offline_after_s=%.0f",
            ",".join(went_offline),
            settings.offline_after.total_seconds(),
        )
    if came_back:
        log.info("agents back online agents=%s", ",".join(came_back))
    return went_offline, came_back


def _mark_offline(
    db: Store, settings: Settings, agent: agent_store.Agent, cutoff: datetime, now: datetime
) -> bool:
    with sql.write(db):
        if not agent_store.claim_offline(db, agent.id, cutoff, now):
            return False  # it reported meanwhile, or another worker claimed it
        silent_s = (now - agent.last_seen_at).total_seconds() if agent.last_seen_at else 0.0
        checks = sorted(check.id for check in checks_for(list(settings.checks), agent))
        policy = settings.escalation_policy(settings.default_escalation_policy)
        try:
            incident_id = incident_store.insert_incident(
                db,
                title=f"Agent {agent.name} is offline",
                impact="none",
                components={},
                body=(
                    f"Agent {agent.name} has not reported for {silent_s:.0f}s (offline_after is "
                    f"{settings.offline_after.total_seconds():.0f}s). Its {len(checks)} checks count as "
                    "no data until it reports again."
                ),
                actor=ENGINE,
                now=now,
                kind="agent_offline",
                public=False,
                auto=True,
                episode_key=f"agent:{agent.name}",
                escalation_policy=policy.id if policy else None,
                next_escalation_at=first_due(policy, now) if policy else None,
                forensics={
                    "agent": agent.name,
                    "last_seen_at": to_iso(agent.last_seen_at) if agent.last_seen_at else None,
                    "agent_version": agent.agent_version,
                    "labels": sorted(agent.authorized_labels),
                    "checks": checks,
                },
            )
        except incident_store.IncidentAlreadyOpen as error:
            incident_id = error.incident_id or 0
        agent_store.set_offline_incident(db, agent.id, incident_id)
    return True


def _mark_online(
    db: Store, agent_id: int, name: str, incident_id: int | None, revoked: bool, now: datetime
) -> bool:
    with sql.write(db):
        if not agent_store.claim_online(db, agent_id):
            return False
        if incident_id:
            incident = incident_store.get_incident(db, incident_id)
            if incident is not None and incident.is_open:
                reason = "its token was revoked" if revoked else "it reports again"
                incident_service.resolve(
                    db, incident_id, ENGINE, now, f"Agent {name} is no longer silent: {reason}."
                )
    return True

"""How operators see an agent on the command line: one tab-separated line of `key=value`.

Shows what ingest and the liveness rule record: whether the agent is online,
when it last reported, its clock skew (flagged beyond the tolerance), and the
results its spool dropped under its size cap or replayed as duplicates.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.timeutil import format_duration, to_iso
from statuspage.storage.agents import Agent


def agent_state(agent: Agent) -> str:
    if agent.offline_since is not None:
        return f"offline since {to_iso(agent.offline_since)}"
    if agent.last_seen_at is None:
        return "never-seen"
    return "online"


def skew_text(agent: Agent, tolerance: timedelta) -> str:
    if agent.clock_skew_s is None:
        return "-"
    text = f"{agent.clock_skew_s:+.1f}s"
    if abs(agent.clock_skew_s) > tolerance.total_seconds():
        text += " BEYOND-TOLERANCE"
    return text


def agent_line(agent: Agent, tolerance: timedelta, now: datetime) -> str:
    """One line per agent for `agent-token list`."""
    seen = "never"
    if agent.last_seen_at is not None:
        seen = f"{to_iso(agent.last_seen_at)} ({format_duration(now - agent.last_seen_at)} ago)"
    fields = [
        agent.name,
        f"labels={','.join(sorted(agent.authorized_labels)) or '-'}",
        f"pending_labels={','.join(agent.pending_labels) or '-'}",
        f"state={agent_state(agent)}",
        f"last_seen={seen}",
        f"version={agent.agent_version or '-'}",
        f"clock_skew={skew_text(agent, tolerance)}",
        f"dropped={agent.dropped_results}",
        f"duplicates={agent.duplicate_results}",
    ]
    return "\t".join(fields)

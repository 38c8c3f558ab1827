"""An incident's timeline and forensics in plain words for responders.

The stored events keep machine values (`status_changed {"old": "investigating", ...}`,
actor `user:alice`, component statuses like `partial_outage`); operators read
sentences ("alice changed the status: Investigating → Identified"). Unknown kinds
still read as words, never as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from statuspage.public.snapshot import IMPACT_LABELS, INCIDENT_STATUS_LABELS, STATUS_LABELS
from statuspage.storage.incidents import IncidentEvent


def person(actor: str) -> str:
    """`user:alice` -> alice, `token:ci` -> API token ci, `engine` -> upwatch."""
    if actor == "engine":
        return "upwatch"
    kind, _, name = actor.partition(":")
    if kind == "user" and name:
        return name
    if kind == "token" and name:
        return f"API token {name}"
    return actor


def status_words(status: Any) -> str:
    return INCIDENT_STATUS_LABELS.get(str(status), str(status).replace("_", " "))


def component_status_words(status: Any) -> str:
    return STATUS_LABELS.get(str(status), str(status).replace("_", " "))


def impact_words(impact: Any) -> str:
    return IMPACT_LABELS.get(str(impact), str(impact))


def _components(value: Any, names: Mapping[str, str]) -> str:
    if not isinstance(value, dict) or not value:
        return "none"
    return ", ".join(
        f"{names.get(cid, cid)} ({component_status_words(st).lower()})" for cid, st in value.items()
    )


def describe(event: IncidentEvent, names: Mapping[str, str]) -> str:
    """One event as a sentence, starting with who did it."""
    who = person(event.actor)
    data = event.data if isinstance(event.data, dict) else {}
    old, new = data.get("old"), data.get("new")
    match event.kind:
        case "opened":
            visibility = "" if data.get("public", True) else ", not public yet"
            return (f"{who} opened it: {status_words(data.get('status', 'investigating'))}, "
                    f"{impact_words(data.get('impact', 'none')).lower()} impact{visibility}")  # fmt: skip
        case "acknowledged":
            return f"{who} acknowledged"
        case "status_changed":
            return f"{who} changed the status: {status_words(old)} → {status_words(new)}"
        case "updated":
            return f"{who} posted an update ({status_words(new)})"
        case "impact_changed":
            return f"{who} changed the impact: {impact_words(old)} → {impact_words(new)}"
        case "components_changed":
            return f"{who} set the affected components: {_components(new, names)}"
        case "component_joined" | "component_changed" | "reopened":
            component = names.get(str(data.get("component")), str(data.get("component")))
            verb = {
                "component_joined": "added",
                "component_changed": "changed",
                "reopened": "reopened it for",
            }
            return (f"{who} {verb[event.kind]} {component}: {component_status_words(old).lower()} → "
                    f"{component_status_words(new).lower()}")  # fmt: skip
        case "escalated":
            level = int(data.get("level", 0)) + 1
            if not data.get("channels"):
                return f"{who} escalated to level {level}"
            return f"{who} paged {', '.join(data['channels'])} (level {level})"
        case "paged" | "not_paged":
            # On-call targets resolved when the level fired (statuspage.oncall.paging).
            text = str(data.get("text") or "paged a responder")
            return f"{who}: {text}" if text.startswith("nobody") else f"{who} {text}"
        case "action_link":
            done = {"acknowledge": "acknowledged", "resolve": "resolved"}.get(
                str(data.get("action")), "acted"
            )
            return f"{who} {done} from the link in a page"
        case "published":
            return f"{who} published it on the status page"
        case "root_cause_set":
            return f"{who} wrote the root cause"
        case "postmortem_saved":
            return f"{who} saved the postmortem" + (" and published it" if data.get("published") else "")
        case "problem_linked":
            return f"{who} linked it to problem #{new}" if new else f"{who} unlinked the problem"
        case "response":
            # Automated response writes its own sentence (statuspage.responses.text).
            return str(data.get("text") or f"{who}: automated response")
        case "action_item_added":
            return f"{who} added an action item" + (f" for {data['owner']}" if data.get("owner") else "")
    return f"{who}: {event.kind.replace('_', ' ')}"


@dataclass(frozen=True)
class LocationView:
    """What one location saw of one check when the incident opened."""

    check_id: str
    agent: str
    status: str
    error: str | None
    status_code: int | None
    phases: list[tuple[str, float]]  # (label, milliseconds), in request order
    total_ms: float | None
    excerpt: str | None


PHASES = (("dns_ms", "DNS"), ("connect_ms", "Connect"), ("tls_ms", "TLS"), ("first_byte_ms", "First byte"))


def phases_of(timings: Any) -> list[tuple[str, float]]:
    """The timing breakdown of a result's metrics: DNS, connect, TLS, first byte (those present)."""
    if not isinstance(timings, dict):
        return []
    found = []
    for key, label in PHASES:
        value = timings.get(key)
        if isinstance(value, int | float):
            found.append((label, float(value)))
    return found


def forensics_view(forensics: Mapping[str, Any]) -> list[LocationView]:
    """The forensics snapshot's results as one row per check and location."""
    views = []
    for row in forensics.get("results") or []:
        if not isinstance(row, dict):
            continue
        timings = row.get("timings") or {}
        total = timings.get("total_ms") if isinstance(timings, dict) else None
        views.append(
            LocationView(
                check_id=str(row.get("check_id")),
                agent=str(row.get("agent")),
                status=str(row.get("status")),
                error=row.get("error"),
                status_code=row.get("status_code"),
                phases=phases_of(timings),
                total_ms=float(total) if isinstance(total, int | float) else row.get("latency_ms"),
                excerpt=row.get("body_excerpt"),
            )
        )
    return views


def resolve_message(title: str, components: Mapping[str, str], names: Mapping[str, str]) -> str:
    """The public closing message a resolve form starts with (the responder edits it)."""
    affected = [names.get(cid, cid) for cid in components]
    if affected:
        subject = ", ".join(affected)
        verb = "is" if len(affected) == 1 else "are"
        return f"This incident has been resolved: {subject} {verb} working normally again."
    return f"This incident has been resolved: {title}."

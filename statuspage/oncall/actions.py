"""What a signed link does: acknowledge or resolve one incident as one responder, once.

`preview` checks a link for the confirmation page (GET; changes nothing).
`act` runs on POST in one write transaction: it claims the link's nonce
(a replay is refused), acts through the same functions the admin UI uses,
and writes the audit log and the incident timeline. Any refusal raises
`links.LinkError` before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from statuspage import incidents as service
from statuspage.oncall import links
from statuspage.oncall import service as oncall_service
from statuspage.settings import Settings
from statuspage.storage import audit, sql
from statuspage.storage import incidents as incident_store
from statuspage.storage import oncall as store
from statuspage.storage.sql import Store

VERBS = {"acknowledge": "Acknowledge", "resolve": "Resolve"}


@dataclass(frozen=True)
class LinkView:
    claim: links.ActionClaim
    incident: incident_store.Incident
    responder_label: str
    already: str | None  # the incident is already in the state the link would put it in


def preview(db: Store, settings: Settings, token: str, now: datetime) -> LinkView:
    """The incident and responder a link acts for; LinkError when it is bad, expired or used."""
    claim = links.read_action(store.signing_key(db), token, now)
    incident = incident_store.get_incident(db, claim.incident_id)
    if incident is None:
        raise links.LinkError(404, "The incident this link is for no longer exists.")
    responder = oncall_service.find_responder(db, settings, claim.responder)
    if responder is None:
        raise links.LinkError(403, "This link's responder is no longer on call here.")
    used_at = store.link_used_at(db, claim.nonce)
    if used_at is not None:
        raise links.LinkError(
            409, f"This link was already used at {used_at:%Y-%m-%d %H:%M} UTC; nothing changed."
        )
    return LinkView(claim, incident, responder.label, _already(incident, claim.action))


def act(db: Store, settings: Settings, token: str, client: str, now: datetime) -> LinkView:
    """Acknowledge or resolve as the link says; return what was acted on (LinkError: nothing changed)."""
    with sql.write(db):
        view = preview(db, settings, token, now)
        claim = view.claim
        if view.already is not None:
            return view  # nothing to do: the link stays unused
        if not store.claim_link(
            db, claim.nonce, claim.incident_id, claim.responder, claim.action, now, client
        ):
            raise links.LinkError(409, "This link was already used; nothing changed.")
        actor = f"user:{claim.responder}"
        if claim.action == "acknowledge":
            service.acknowledge(db, claim.incident_id, actor, now)
        else:
            service.resolve(db, claim.incident_id, actor, now, f"Resolved by {view.responder_label}.")
        text = f"{claim.action}d by {claim.responder} from the link in a page"
        incident_store.record_event(
            db, claim.incident_id, "action_link", actor, now, {"action": claim.action, "text": text}
        )
        audit.record(
            db,
            now,
            actor,
            f"incident.{claim.action}",
            f"incident:{claim.incident_id}",
            client,
            {"via": "signed link", "responder": claim.responder},
        )
    return view


def _already(incident: incident_store.Incident, action: str) -> str | None:
    if incident.status in incident_store.CLOSED_STATUSES:
        return "This incident is already resolved; nothing changed."
    if action == "acknowledge" and incident.acknowledged_at is not None:
        return f"Already acknowledged by {incident.acknowledged_by}; nothing changed."
    return None

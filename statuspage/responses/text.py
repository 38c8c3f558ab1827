"""Plain words for the incident timeline and the admin pages: what was asked, what happened."""

from __future__ import annotations

from statuspage.storage.responses import Order


def asked(order: Order) -> str:
    """'asked web-1 to run restart-api (rule restart-api-on-outage)'."""
    return f"asked {order.agent_name} to run {order.action_id} ({_why(order)})"


def awaiting(order: Order) -> str:
    return (
        f"{order.action_id} on {order.agent_name} waits for a person's approval ({_why(order)});"
        f" approve it by {order.expires_at:%H:%M} UTC on the incident's admin page or from the page"
    )


def approval_requested(order: Order, responders: list[str]) -> str:
    """Who received the approve link of an order, or where it will come from."""
    if responders:
        return f"sent {', '.join(responders)} a link to approve {order.action_id} on {order.agent_name}"
    return (
        f"nobody has been paged for this incident yet: the next page carries the link to approve"
        f" {order.action_id} on {order.agent_name}"
    )


def approved(order: Order, actor: str, via: str | None = None) -> str:
    """'alice approved restart-api on web-1 from the page'."""
    where = f" from {via}" if via else ""
    return f"{person(actor)} approved {order.action_id} on {order.agent_name}{where}"


def resolved_first(order: Order) -> str:
    head = f"{order.action_id} on {order.agent_name}"
    return f"{head} cancelled: the incident was resolved before anyone approved it"


def result(order: Order) -> str:
    """'restart-api on web-1: exit 0 in 2.3 s', or why it did not run."""
    head = f"{order.action_id} on {order.agent_name}"
    if order.outcome == "ran":
        took = f" in {order.duration_s:.1f} s" if order.duration_s is not None else ""
        if order.timed_out:
            return f"{head}: timed out{took} and was stopped"
        return f"{head}: exit {order.exit_code}{took}"
    if order.outcome == "failed":
        return f"{head} could not start: {order.reason or 'unknown error'}"
    if order.outcome == "refused":
        return f"{order.agent_name} refused {order.action_id}: {order.reason or 'no reason given'}"
    if order.outcome == "expired":
        return f"{head} was not run: the order had expired when the agent received it"
    if order.outcome == "interrupted":
        return f"{head} was interrupted: the agent stopped while it ran (it will not run it again)"
    return f"{head}: {order.outcome}"


def expired(order: Order) -> str:
    if order.status == "awaiting_approval":
        return f"{order.action_id} on {order.agent_name} was not approved in time; it will not run"
    return f"{order.action_id} on {order.agent_name} expired: {order.agent_name} did not pick it up in time"


def cancelled(order: Order, actor: str) -> str:
    who = person(actor)
    return f"{order.action_id} on {order.agent_name} cancelled: {who} switched automated responses off"


def skipped(action_id: str, agent_name: str, why: str) -> str:
    target = f" of {agent_name}" if agent_name else ""
    return f"{action_id} not asked{target}: {why}"


def retry(action_id: str, waited: str, attempt: int, attempts: int) -> str:
    return f"not recovered {waited} after {action_id}; asking again (attempt {attempt} of {attempts})"


def gave_up(action_id: str, waited: str, attempts: int) -> str:
    runs = "once" if attempts == 1 else f"{attempts} times"
    return f"not recovered {waited} after {action_id} (asked {runs}); no more automated attempts"


def _why(order: Order) -> str:
    if order.rule_id:
        attempt = f", attempt {order.attempt}" if order.attempt > 1 else ""
        return f"rule {order.rule_id}{attempt}"
    return f"asked by {person(order.requested_by)}"


def person(actor: str) -> str:
    return actor.removeprefix("user:")


def state(order: Order) -> str:
    """Where an order stands, for the admin pages."""
    if order.status == "awaiting_approval":
        return f"waits for approval until {order.expires_at:%H:%M} UTC"
    if order.status == "pending":
        return f"waiting for {order.agent_name} to pick it up (until {order.expires_at:%H:%M} UTC)"
    if order.status == "done":
        return result(order)
    if order.status == "expired":
        return expired(order)
    if order.status == "cancelled":
        return f"cancelled: {order.reason or 'automated responses were switched off'}"
    if order.status == "skipped":
        return f"not asked: {order.reason or ''}"
    return order.status

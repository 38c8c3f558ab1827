"""`/subscribe`, confirm / verify links and `/unsubscribe/<token>` (the public subscription pages).

The handlers store facts and queue mail in the outbox; they never send
anything themselves. Links from mail show a page with a button on GET and act
on POST only, because mail scanners open every link in a message; POST to an
unsubscribe link is also RFC 8058 one-click unsubscribe. The answer to a
subscription request is the same whether or not the address was known, so the
form cannot be used to find out who subscribed.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Blueprint, render_template, request

from statuspage.netguard import OutboundPolicy, check_url
from statuspage.notify import subscriptions
from statuspage.notify.config import valid_address
from statuspage.web import get_db, now, settings

log = logging.getLogger(__name__)

subscriptions_blueprint = Blueprint("subscriptions", __name__, template_folder="web_templates")

MAX_FIELD = 2000


class FormError(Exception):
    """A bad form field: shown to the person with status 400 (or 429 for rate limits)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    config = settings()
    return (
        render_template(
            template, page=config.page, generated_at=now(), components=config.components, **context
        ),
        status,
    )


def _message(
    title: str, text: str, status: int = 200, action: str | None = None, button: str = ""
) -> tuple[str, int]:
    return _page("subscribe_message.html", status, title=title, text=text, action=action, button=button)


def email_offered() -> bool:
    """Email subscriptions are offered only with a mail relay to send the confirmation."""
    config = settings()
    return config.subscriptions.email and config.smtp.host is not None


@subscriptions_blueprint.app_context_processor
def _subscribe_link() -> dict[str, bool]:
    # The public page's footer shows "Subscribe to updates" only when there is something to offer.
    return {"subscriptions_offered": email_offered() or settings().subscriptions.webhooks}


@subscriptions_blueprint.get("/subscribe")
def subscribe_form() -> tuple[str, int]:
    return _page("subscribe.html", options=settings().subscriptions, email_offered=email_offered())


@subscriptions_blueprint.post("/subscribe")
def subscribe() -> tuple[str, int]:
    config = settings()
    if not email_offered():
        return _message("Not available", "Email subscriptions are not offered on this page.", 404)
    try:
        email = _email(request.form.get("email", ""))
        components = _components(request.form.getlist("components"))
        _rate_limit(email)
    except FormError as error:
        return _page(
            "subscribe.html", error.status, error=str(error), options=config.subscriptions, email_offered=True
        )
    subscriptions.request_email_subscription(get_db(), config, email, components, now())
    return _message("Check your inbox", "We sent a confirmation link. Nothing is sent until you use it.", 202)


@subscriptions_blueprint.post("/subscribe/webhook")
def subscribe_webhook() -> tuple[str, int]:
    config = settings()
    if not config.subscriptions.webhooks:
        return _message("Not available", "Webhook subscriptions are turned off on this page.", 404)
    try:
        url = request.form.get("url", "").strip()
        if not url or len(url) > MAX_FIELD:
            raise FormError("url: enter the http(s) address of your receiver")
        try:
            check_url(url, OutboundPolicy.from_strings(config.security.outbound_allow))
        except ValueError as error:
            raise FormError(f"url: {error}") from None
        components = _components(request.form.getlist("components"))
        _rate_limit(None)
    except FormError as error:
        return _page(
            "subscribe.html",
            error.status,
            error=str(error),
            options=config.subscriptions,
            email_offered=email_offered(),
        )
    _id, secret = subscriptions.create_webhook_subscription(
        get_db(), config, url, components, now(), origin="self"
    )
    return _page("subscribe_webhook_created.html", 202, secret=secret)


@subscriptions_blueprint.get("/subscribe/confirm/<token>")
@subscriptions_blueprint.get("/subscribe/verify/<token>")
def confirm_page(token: str) -> tuple[str, int]:
    if not subscriptions.confirmable(get_db(), token, now()):
        return _message("Link expired", "This link is unknown or has expired. Subscribe again.", 404)
    return _message(
        "Confirm your subscription",
        "Press the button to start receiving updates.",
        action=request.path,
        button="Confirm",
    )


@subscriptions_blueprint.post("/subscribe/confirm/<token>")
@subscriptions_blueprint.post("/subscribe/verify/<token>")
def confirm(token: str) -> tuple[str, int]:
    if not subscriptions.confirm(get_db(), token, now()):
        return _message("Link expired", "This link is unknown or has expired. Subscribe again.", 404)
    return _message("Subscribed", "You will receive updates from now on.")


@subscriptions_blueprint.get("/unsubscribe/<token>")
def unsubscribe_page(token: str) -> tuple[str, int]:
    if not subscriptions.unsubscribable(get_db(), token):
        return _message("Unknown link", "This unsubscribe link is not known.", 404)
    return _message(
        "Unsubscribe",
        "Press the button to stop receiving updates.",
        action=request.path,
        button="Unsubscribe",
    )


@subscriptions_blueprint.post("/unsubscribe/<token>")
def unsubscribe(token: str) -> tuple[str, int]:
    if not subscriptions.unsubscribe(get_db(), token, now()):
        return _message("Unknown link", "This unsubscribe link is not known.", 404)
    return _message("Unsubscribed", "You will not receive further updates.")


def _email(value: str) -> str:
    value = value.strip()
    if not value or len(value) > 320:
        raise FormError("email: enter your email address")
    try:
        return valid_address(value).lower()
    except ValueError as error:
        raise FormError(f"email: {error}") from None


def _components(values: list[str]) -> list[str]:
    known = {c.id for c in settings().components}
    chosen = sorted(set(values))
    unknown = [value for value in chosen if value not in known]
    if unknown:
        raise FormError("components: unknown component")
    return chosen


def _rate_limit(email: str | None) -> None:
    """At most `per_client_per_hour` requests per client address, `per_email_per_day` per address."""
    db = get_db()
    options = settings().subscriptions
    moment = now()
    client_key = f"client:{request.remote_addr or 'unknown'}"
    if (
        subscriptions.attempts_since(db, client_key, moment - timedelta(hours=1))
        >= options.per_client_per_hour
    ):
        raise FormError("Too many requests from your address; try again later.", 429)
    keys = [client_key]
    if email is not None:
        email_key = f"email:{email}"
        if (
            subscriptions.attempts_since(db, email_key, moment - timedelta(days=1))
            >= options.per_email_per_day
        ):
            raise FormError("Too many requests for this address; try again tomorrow.", 429)
        keys.append(email_key)
    subscriptions.record_attempt(db, keys, moment)

"""A responder's contact methods and rules edited in the admin as a plain form: one field per
value, rows added with a button and removed with a box, verification per contact, errors next
to their field with nothing stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from statuspage.oncall import service
from statuspage.settings import Settings
from statuspage.storage import audit
from statuspage.storage.outbox import list_outbox
from tests.adminkit import Operator
from tests.statuspage.oncall.test_paging_links import ONCALL

PAGE = "/admin/oncall/responders/bob"
# bob in the config: mail (email) and hook (webhook), rules hook at once, mail after 2 min.
SAVED = {
    "contacts": "2", "rules": "2",
    "contact-0-id": "mail", "contact-0-kind": "email", "contact-0-address": "bob@example.test",
    "contact-1-id": "hook", "contact-1-kind": "webhook", "contact-1-address": "http://127.0.0.1:9/hook",
    "rule-0-contact": "hook", "rule-0-after": "0", "rule-1-contact": "mail", "rule-1-after": "2",
}  # fmt: skip


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(**ONCALL)


def bob(db: Any, settings: Settings) -> Any:
    return service.responder(db, settings, "bob")


def test_the_form_shows_each_value_in_words(operator: Operator) -> None:
    page = operator.client.get(PAGE)
    assert page.status_code == 200
    text = page.text
    assert "Webhook (a signed JSON POST)" in text and 'value="http://127.0.0.1:9/hook"' in text
    assert "Delay in minutes after the page" in text and 'name="rule-1-after" inputmode="numeric"' in text
    assert "not verified yet, gets no pages" in text and "Send verification link to hook" in text
    assert "<textarea" not in text and "{&#34;" not in text  # no JSON anywhere
    assert 'href="/admin/oncall/responders/bob"' in operator.client.get("/admin/oncall").text


def test_rows_are_added_removed_and_saved(operator: Operator, db: Any, settings: Settings) -> None:
    added = operator.post(PAGE, {**SAVED, "action": "add_contact"})
    assert added.status_code == 200 and 'name="contact-2-id"' in added.text and "Not saved yet" in added.text
    assert bob(db, settings) == settings.responder("bob")  # adding a row stores nothing
    added = operator.post(PAGE, {**SAVED, "action": "add_rule"})
    assert 'name="rule-2-contact"' in added.text

    form = {
        **SAVED, "contacts": "3", "rules": "3", "action": "save",
        "contact-1-remove": "yes", "rule-0-remove": "yes",
        "contact-2-id": "sms", "contact-2-kind": "apprise", "contact-2-address": "json://127.0.0.1:9/sms",
        "rule-2-contact": "sms", "rule-2-after": "5",
    }  # fmt: skip
    saved = operator.post(PAGE, form)
    assert saved.status_code == 303, saved.text
    now = bob(db, settings)
    assert [(c.id, c.kind, c.address) for c in now.contacts] == [
        ("mail", "email", "bob@example.test"), ("sms", "apprise", "json://127.0.0.1:9/sms")]  # fmt: skip
    assert [(r.contact, r.after.total_seconds()) for r in now.rules] == [("mail", 120.0), ("sms", 300.0)]
    assert audit.recent(db)[0].action == "oncall.responder.update"
    page = operator.client.get(PAGE).text
    assert "Edited here" in page and "Send verification link to sms" in page

    verify = operator.post(
        "/admin/oncall/verify", {"responder": "bob", "contact": "sms", "return_to": "responder"}
    )
    assert verify.status_code == 303 and verify.headers["Location"].startswith(PAGE)
    assert [r.destination for r in list_outbox(db, "oncall:verify:")] == ["bob/sms"]

    assert operator.post(f"{PAGE}/reset").status_code == 303
    assert bob(db, settings) == settings.responder("bob")


def test_a_webhook_secret_is_kept_unless_replaced(operator: Operator, db: Any, settings: Settings) -> None:
    secret = "whsec_" + "a" * 32
    assert operator.post(PAGE, {**SAVED, "contact-1-secret": secret}).status_code == 303
    assert bob(db, settings).contact("hook").secret == secret
    page = operator.client.get(PAGE).text
    assert secret not in page and "A secret is saved" in page
    assert operator.post(PAGE, {**SAVED, "contact-1-has_secret": "yes"}).status_code == 303
    assert bob(db, settings).contact("hook").secret == secret


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"contact-0-address": ""}, "contact-0-address", "to is required"),
        ({"contact-0-address": "not an address"}, "contact-0-address", ""),
        ({"contact-1-kind": "pager"}, "contact-1-kind", ""),
        ({"contact-1-address": "ftp://x"}, "contact-1-address", "must start with http"),
        ({"contact-1-id": "Bad Id"}, "contact-1-id", ""),
        ({"contact-1-id": "mail"}, "form", "duplicate contact id"),
        ({"rule-1-contact": "pager"}, "rule-1-contact", "unknown contact &#39;pager&#39;"),
        ({"rule-1-after": "soon"}, "rule-1-after", "a whole number of minutes"),
        ({"rule-1-after": "500"}, "rule-1-after", "at most 2h"),
        ({"contact-1-secret": "short"}, "contact-1-secret", ""),
    ],
)
def test_bad_rows_are_refused_next_to_their_field(
    operator: Operator, db: Any, settings: Settings, changes: dict[str, str], field: str, text: str
) -> None:
    refused = operator.post(PAGE, {**SAVED, **changes})
    assert refused.status_code == 422, refused.text[:500]
    if field != "form":
        assert f'id="{field}-error"' in refused.text and f'href="#{field}"' in refused.text
    assert text in refused.text
    assert "There is a problem: nothing was saved" in refused.text
    assert bob(db, settings) == settings.responder("bob")
    assert operator.client.post(PAGE, data=SAVED).status_code in (400, 403)  # no CSRF token


def test_a_contact_added_here_can_be_verified_from_its_link(
    operator: Operator, db: Any, settings: Settings
) -> None:
    from shared.timeutil import utcnow
    from statuspage.oncall import paging
    from statuspage.storage import sql

    form = {**SAVED, "contacts": "3", "contact-2-id": "sms", "contact-2-kind": "apprise",
            "contact-2-address": "json://127.0.0.1:9/sms"}  # fmt: skip
    assert operator.post(PAGE, form).status_code == 303
    with sql.write(db):
        url = paging.send_verification(db, settings, "bob", "sms", utcnow())
    assert service.confirm_verification(db, settings, url.rsplit("/", 1)[1], "", utcnow()).endswith("sms")
    assert "sms" in service.verified_contact_ids(db, bob(db, settings))

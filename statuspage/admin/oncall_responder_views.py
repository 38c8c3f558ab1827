"""Admin page where a responder's own contact methods and notification rules are changed: one
field per value, rows added with a button and removed with a box, no script.

A contact row is a label (its id, which rules name), a kind (in words), the address or URL and,
for a webhook, a signing secret (never shown back: left empty, the saved one is kept); a rule
row is a contact and a delay in minutes. Empty rows are ignored. "Add a contact method" and
"Add a rule" show the form again with one more empty row and store nothing. A refusal shows
each error next to its field (422) and stores nothing; the rules of `service.set_personal`
are those of `[[responders]]`.
"""

from __future__ import annotations

import re
from typing import Any

from flask import abort, request
from werkzeug.wrappers import Response as WerkzeugResponse

from statuspage.admin.ui import actor, admin_ui, done, render
from statuspage.oncall import service
from statuspage.oncall.config import ResponderConfig
from statuspage.storage import oncall as store
from statuspage.web import client_address, get_db, now, settings

KINDS = {
    "email": "Email",
    "apprise": "Chat, SMS or voice (an apprise URL)",
    "webhook": "Webhook (a signed JSON POST)",
}
MAX_ROWS = 20
_INDEXED = re.compile(r"^(contacts|rules)\[(\d+)\](?:\.(\w+))?")
_FIELD = {"to": "address", "url": "address", "id": "id", "kind": "kind", "secret": "secret",
          "contact": "contact", "after": "after"}  # fmt: skip


def saved_rows(responder: ResponderConfig) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The responder's contacts and rules as the form's rows."""
    contacts = [
        {"id": c.id, "kind": c.kind, "address": c.address, "has_secret": "yes" if c.secret else ""}
        for c in responder.contacts
    ]
    rules = [{"contact": r.contact, "after": f"{r.after.total_seconds() / 60:g}"} for r in responder.rules]
    return contacts, rules


def posted_rows() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Every row of the posted form (removed and empty ones included, so errors keep their place)."""
    form = request.form

    def count(name: str) -> int:
        text = form.get(name, "0")
        return min(int(text), MAX_ROWS) if text.isdigit() else 0

    contacts = [
        {
            "id": form.get(f"contact-{i}-id", "").strip(),
            "kind": form.get(f"contact-{i}-kind", "email"),
            "address": form.get(f"contact-{i}-address", "").strip(),
            "secret": form.get(f"contact-{i}-secret", "").strip(),
            "has_secret": form.get(f"contact-{i}-has_secret", ""),
            "remove": form.get(f"contact-{i}-remove", ""),
        }
        for i in range(count("contacts"))
    ]
    rules = [
        {
            "contact": form.get(f"rule-{i}-contact", ""),
            "after": form.get(f"rule-{i}-after", "").strip(),
            "remove": form.get(f"rule-{i}-remove", ""),
        }
        for i in range(count("rules"))
    ]
    return contacts, rules


def to_settings(
    responder: ResponderConfig, contacts: list[dict[str, str]], rules: list[dict[str, str]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[int], list[int]]:
    """The `[[responders]]` fields from the rows kept, and which row each came from (for errors)."""
    kept_contacts: list[dict[str, Any]] = []
    contact_rows: list[int] = []
    for index, row in enumerate(contacts):
        if row.get("remove") or not (row["id"] or row["address"]):
            continue
        contact: dict[str, Any] = {"id": row["id"], "kind": row["kind"]}
        if row["address"]:  # empty: the config's "to/url is required for ..." says what is missing
            contact["to" if row["kind"] == "email" else "url"] = row["address"]
        saved = responder.contact(row["id"])
        secret = row.get("secret") or (saved.secret if saved and row.get("has_secret") else None)
        if secret and row["kind"] == "webhook":
            contact["secret"] = secret
        kept_contacts.append(contact)
        contact_rows.append(index)
    kept_rules: list[dict[str, Any]] = []
    rule_rows: list[int] = []
    for index, row in enumerate(rules):
        if row.get("remove") or not row["contact"]:
            continue
        after = row["after"] or "0"
        if not after.isdigit():
            message = "a whole number of minutes, like 5"
            raise service.OncallInputError(f"rules[{index}].after", message, {f"rule-{index}-after": message})
        kept_rules.append({"contact": row["contact"], "after": f"{int(after)}m"})
        rule_rows.append(index)
    return kept_contacts, kept_rules, contact_rows, rule_rows


def form_errors(
    error: service.OncallInputError, contact_rows: list[int], rule_rows: list[int]
) -> dict[str, str]:
    """Refused fields as the form's ids: "contacts[1].to" -> "contact-<row>-address"."""
    found: dict[str, str] = {}
    for field, message in error.errors.items():
        if field.startswith(("contact-", "rule-")):  # named by the form already
            found[field] = message
            continue
        match = _INDEXED.match(field) or _INDEXED.match(message)
        if match is None:
            found.setdefault("form", message)
            continue
        section, index, name = match.group(1), int(match.group(2)), match.group(3)
        rows = contact_rows if section == "contacts" else rule_rows
        row = rows[index] if index < len(rows) else index
        prefix = "contact" if section == "contacts" else "rule"
        default = "address" if section == "contacts" else "contact"
        found.setdefault(f"{prefix}-{row}-{_FIELD.get(name or '', default)}", message.split(": ", 1)[-1])
    return found


def _page(
    responder: ResponderConfig,
    contacts: list[dict[str, str]],
    rules: list[dict[str, str]],
    errors: dict[str, str] | None = None,
    status: int = 200,
    notice: str | None = None,
) -> tuple[str, int]:
    from statuspage.oncall import responder_edits

    db = get_db()
    entry = service.find_responder(db, settings(), responder.name)
    verified = {s.contact.id for s in service.contact_states(db, settings()) if s.responder == responder.name
                and s.verified}  # fmt: skip
    saved_ids = {c.id for c in responder.contacts}
    return render(
        "oncall_responder.html",
        status,
        responder=responder,
        contacts=contacts,
        rules=rules,
        errors=errors or {},
        kinds=KINDS,
        verified=verified,
        saved_ids=saved_ids,
        contact_ids=[row["id"] for row in contacts if row["id"]] or sorted(saved_ids),
        edited=responder.name in store.personal_settings(db),
        pending=notice,
        source=entry.source if entry else "file",
        used_by=responder_edits.used_by(db, settings(), responder.name, now()),
    )


def _responder_or_404(name: str) -> ResponderConfig:
    found = service.responder(get_db(), settings(), name)
    if found is None:
        abort(404)
    return found


@admin_ui.get("/oncall/responders/<name>")
def oncall_responder(name: str) -> tuple[str, int]:
    """A responder's contact methods (with verification) and notification rules, as a form."""
    responder = _responder_or_404(name)
    contacts, rules = saved_rows(responder)
    blank_contact = {"id": "", "kind": "email", "address": "", "has_secret": ""}
    return _page(responder, [*contacts, blank_contact] if not contacts else contacts, rules or [
        {"contact": "", "after": ""}])  # fmt: skip


@admin_ui.post("/oncall/responders/<name>")
def edit_responder(name: str) -> WerkzeugResponse | tuple[str, int]:
    """Save the form, or (`action` add_contact / add_rule) show it again with one more empty row."""
    responder = _responder_or_404(name)
    contacts, rules = posted_rows()
    action = request.form.get("action", "save")
    if action in ("add_contact", "add_rule"):
        if action == "add_contact" and len(contacts) < MAX_ROWS:
            contacts.append({"id": "", "kind": "email", "address": "", "has_secret": ""})
        if action == "add_rule" and len(rules) < MAX_ROWS:
            rules.append({"contact": "", "after": ""})
        return _page(responder, contacts, rules, notice="Not saved yet: fill in the new row and press Save.")
    contact_rows: list[int] = []
    rule_rows: list[int] = []
    try:
        kept_contacts, kept_rules, contact_rows, rule_rows = to_settings(responder, contacts, rules)
        service.set_personal(get_db(), settings(), name, kept_contacts, kept_rules, actor().label,
                             client_address(), now())  # fmt: skip
    except service.OncallInputError as refused:
        return _page(responder, contacts, rules, form_errors(refused, contact_rows, rule_rows), 422)
    except service.OncallNotFound:
        abort(404)
    return done("admin.oncall_responder", "contacts", name=name)

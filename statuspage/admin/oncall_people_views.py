"""Admin pages that change which operators are responders: make an account one, stop it being one.

The responders of upwatch.toml are shown as declared there (read-only). A refused form shows the
error next to its field (422) and stores nothing; removing a responder still named by a schedule
layer, an escalation level or an override is refused, saying where (409). The rules are those of
`oncall.responder_edits`.
"""

from __future__ import annotations

from flask import abort, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from statuspage.admin.ui import NOTICES, actor, admin_ui, done, render
from statuspage.oncall import responder_edits, service
from statuspage.web import client_address, get_db, now, settings

NOTICES.update(
    {
        "responder_made": "Now a responder. Add a contact method and verify it, so pages reach them.",
        "responder_removed": "No longer a responder; the account stays.",
    }
)


@admin_ui.get("/oncall/new-responder")
def new_responder(errors: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    """The form making an operator account a responder: a select of the accounts that are not one."""
    db, config = get_db(), settings()
    return render(
        "oncall_new_responder.html",
        status,
        errors=errors or {},
        accounts=responder_edits.candidates(db, config),
        values={"name": request.form.get("name", ""), "display_name": request.form.get("display_name", "")},
        declared=[entry for entry in service.all_responders(db, config) if entry.source == "file"],
    )


@admin_ui.post("/oncall/new-responder")
def create_responder() -> WerkzeugResponse | tuple[str, int]:
    name = request.form.get("name", "").strip()
    try:
        responder_edits.create(get_db(), settings(), name, request.form.get("display_name"), actor().label,
                               client_address(), now())  # fmt: skip
    except service.OncallInputError as refused:
        return new_responder(refused.errors, 422)
    return done("admin.oncall_responder", "responder_made", name=name)


@admin_ui.post("/oncall/responders/<name>/remove")
def remove_responder(name: str) -> WerkzeugResponse | tuple[str, int]:
    try:
        responder_edits.remove(get_db(), settings(), name, actor().label, client_address(), now())
    except service.OncallNotFound:
        abort(404)
    except service.OncallConflict as conflict:
        back = url_for("admin.oncall_responder", name=name)
        return render("error.html", 409, message=str(conflict), back=back)
    return done("admin.oncall", "responder_removed")

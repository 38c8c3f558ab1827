"""Sign in, sign out, change password, sign out other sessions."""

from __future__ import annotations

from flask import redirect, request
from werkzeug.wrappers import Response as WerkzeugResponse

from statuspage.admin import accounts, sessions
from statuspage.admin.ui import (
    DEVICE_COOKIE,
    LOGIN_CSRF_COOKIE,
    actor,
    admin_ui,
    current,
    done,
    new_login_csrf,
    render,
    safe_next,
    secure_cookies,
    session_cookie_name,
    set_cookie,
)
from statuspage.storage import accounts as account_store
from statuspage.storage import audit, sql
from statuspage.web import client_address, get_db, now, settings

REFUSALS = {
    "invalid": ("Wrong name, password or code.", 401),
    "rate_limited": ("Too many failed attempts; wait a few minutes and try again.", 429),
    "totp_required": (
        "This site requires a second factor; ask an administrator to set up TOTP for you.",
        403,
    ),
}


def _login_page(error: str | None = None, status: int = 200) -> WerkzeugResponse:
    token = new_login_csrf()
    body, code = render(
        "login.html", status, csrf_token=token, error=error, next=safe_next(request.values.get("next"))
    )
    response = WerkzeugResponse(body, status=code, mimetype="text/html")
    set_cookie(response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@admin_ui.route("/login", methods=["GET", "POST"])
def login() -> WerkzeugResponse:
    if request.method == "GET":
        return _login_page()
    db = get_db()
    name = request.form.get("name", "")[:200]
    address = client_address()
    result = accounts.login(
        db,
        settings().admin,
        name,
        request.form.get("password", ""),
        request.form.get("code", ""),
        address,
        now(),
        device_token=request.cookies.get(DEVICE_COOKIE, ""),
    )
    if result.user is None:
        with sql.write(db):
            audit.record(
                db,
                now(),
                f"login:{name[:64]}",
                "session.login_failed",
                "",
                address,
                {"reason": result.refusal},
            )
        message, status = REFUSALS[result.refusal or "invalid"]
        return _login_page(message, status)
    token, session = sessions.start(
        db, result.user, settings().admin, now(), address, request.headers.get("User-Agent", "")
    )
    with sql.write(db):
        audit.record(db, now(), f"user:{result.user.name}", "session.login", f"session:{session.id}", address)
    response = redirect(safe_next(request.form.get("next")), 303)
    set_cookie(
        response, session_cookie_name(), token, max_age=int(settings().admin.session_max_age.total_seconds())
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    if result.new_device_token:
        response.set_cookie(
            DEVICE_COOKIE,
            result.new_device_token,
            max_age=int(settings().admin.login_device_max_age.total_seconds()),
            path="/admin/",
            secure=secure_cookies(),
            httponly=True,
            samesite="Strict",
        )
    return response


@admin_ui.post("/logout")
def logout() -> WerkzeugResponse:
    active = current()
    db = get_db()
    sessions.end(db, active.session.id, now())
    with sql.write(db):
        audit.record(
            db, now(), actor().label, "session.logout", f"session:{active.session.id}", client_address()
        )
    response = done("admin.login", "")
    response.delete_cookie(session_cookie_name(), path="/")
    return response


@admin_ui.get("/account")
def account() -> tuple[str, int]:
    active = current()
    live = account_store.live_sessions_of(get_db(), active.user.id, now())
    return render("account.html", sessions=live, this_session=active.session.id, error=None)


@admin_ui.post("/account/password")
def change_password() -> WerkzeugResponse | tuple[str, int]:
    active = current()
    db = get_db()
    try:
        ended = accounts.change_password(
            db,
            active.user,
            request.form.get("current_password", ""),
            request.form.get("new_password", ""),
            now(),
            keep_session_id=active.session.id,
        )
    except accounts.AccountError as error:
        live = account_store.live_sessions_of(db, active.user.id, now())
        return render("account.html", 422, sessions=live, this_session=active.session.id, error=str(error))
    with sql.write(db):
        audit.record(
            db,
            now(),
            actor().label,
            "account.password",
            f"user:{active.user.name}",
            client_address(),
            {"sessions_ended": ended},
        )
    return done("admin.account", "password")


@admin_ui.post("/account/sessions/revoke-others")
def revoke_other_sessions() -> WerkzeugResponse:
    active = current()
    db = get_db()
    with sql.write(db):
        ended = account_store.revoke_sessions_of(db, active.user.id, now(), active.session.id)
        audit.record(
            db,
            now(),
            actor().label,
            "account.sessions_revoked",
            f"user:{active.user.name}",
            client_address(),
            {"sessions_ended": ended},
        )
    return done("admin.account", "sessions")

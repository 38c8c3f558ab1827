"""Server-side operator sessions: the cookie carries a random token, the database the rest.

Why server-side: a session must be revocable at once (logout, password change,
"sign out everywhere"), which a signed cookie cannot be. The token is 256
random bits, created only at login, so a token planted before login
(session fixation) is never adopted; only its SHA-256 is stored. Each session
has its own CSRF token, compared in constant time on every state change.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from statuspage.settings import AdminConfig
from statuspage.storage import accounts as store
from statuspage.storage import sql
from statuspage.storage.sql import Store  # noqa: I001

COOKIE_NAME = "upwatch_session"
SECURE_COOKIE_NAME = "__Host-upwatch_session"  # browsers enforce Secure, Path=/, no Domain
TOUCH_EVERY = timedelta(seconds=60)  # idle tracking without a write on every request


@dataclass(frozen=True)
class ActiveSession:
    session: store.Session
    user: store.User


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def cookie_name(secure: bool) -> str:
    return SECURE_COOKIE_NAME if secure else COOKIE_NAME


def start(
    db: Store, user: store.User, config: AdminConfig, now: datetime, client_address: str, user_agent: str
) -> tuple[str, store.Session]:
    """Create a session for `user`; return (cookie token, session)."""
    token = secrets.token_urlsafe(32)
    with sql.write(db):
        store.insert_session(
            db,
            hash_token(token),
            user.id,
            secrets.token_urlsafe(32),
            now,
            now + config.session_max_age,
            client_address,
            user_agent,
        )
    session = store.find_session(db, hash_token(token))
    assert session is not None
    return token, session


def resume(db: Store, token: str, config: AdminConfig, now: datetime) -> ActiveSession | None:
    """The live session for a cookie token, or None (unknown, revoked, expired, idle, user disabled)."""
    if not token or len(token) > 200:
        return None
    digest = hash_token(token)
    session = store.find_session(db, digest)
    if session is None:
        return None
    if now >= session.expires_at or now - session.last_seen_at >= config.session_idle_timeout:
        return None
    user = store.get_user(db, session.user_id)
    if user is None or user.disabled_at is not None:
        return None
    if now - session.last_seen_at >= TOUCH_EVERY:
        with sql.write(db):
            store.touch_session(db, session.id, now)
    return ActiveSession(session, user)


def end(db: Store, session_id: int, now: datetime) -> None:
    with sql.write(db):
        store.revoke_session(db, session_id, now)


def csrf_valid(session: store.Session, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf_token.encode(), (submitted or "").encode())

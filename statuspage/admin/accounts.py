"""Operator accounts: argon2 passwords, optional TOTP, and the login decision with rate limits.

`login()` is the one place that decides whether a name/password/code may
sign in. It refuses (without checking the password) once the account or the
client address has too many recent failures, so guessing is slow whichever
of the two an attacker rotates. Unknown names cost the same argon2 work as
known ones, so timing does not reveal which accounts exist.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from statuspage.settings import AdminConfig
from statuspage.storage import accounts as store
from statuspage.storage import login_throttle as throttle
from statuspage.storage import sql
from statuspage.storage.sql import Store  # noqa: I001

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024  # argon2 hashes anything, but a megabyte "password" is an attack
TOTP_ISSUER = "upwatch"

# argon2-cffi's defaults follow RFC 9106's second recommended profile (argon2id).
_hasher = PasswordHasher()
_dummy_hashes: dict[int, str] = {}


class AccountError(ValueError):
    """Bad input for an account operation; `field` names what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a login attempt: a user, or a reason safe to show ("rate_limited", ...)."""

    user: store.User | None
    refusal: str | None = None
    new_device_token: str | None = None  # set the device cookie to this (a successful login)

    @property
    def ok(self) -> bool:
        return self.user is not None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_new_password(password: str, name: str = "") -> None:
    """Refuse weak new passwords; raises AccountError("password", ...)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise AccountError("password", f"at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise AccountError("password", f"at most {MAX_PASSWORD_CHARS} characters")
    if name and name.lower() in password.lower():
        raise AccountError("password", "must not contain the account name")
    if len(set(password)) < 5:
        raise AccountError("password", "too repetitive")


def create_user(db: Store, name: str, password: str, now: datetime, with_totp: bool = False) -> store.User:
    """Create an operator; raises AccountError or store.UserExists. Returns the user (with TOTP seed)."""
    if not NAME_RE.match(name):
        raise AccountError("name", "1-64 letters, digits, '_', '.', '@', '-'")
    check_new_password(password, name)
    secret = pyotp.random_base32() if with_totp else None
    with sql.write(db):
        return store.insert_user(db, name, hash_password(password), secret, now)


def _dummy_hash() -> str:
    """A hash with the current cost parameters, verified for unknown names (made once)."""
    key = id(_hasher)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = _hasher.hash("upwatch-dummy-password-for-timing")
    return _dummy_hashes[key]


def verify_password(user: store.User | None, password: str) -> bool:
    """Constant-work check: an unknown user still costs one argon2 verification."""
    if len(password) > MAX_PASSWORD_CHARS:
        return False
    try:
        return _hasher.verify(user.password_hash if user else _dummy_hash(), password) and user is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def totp_step(secret: str, code: str, now: datetime) -> int | None:
    """The 30 s time step a 6-digit code belongs to, if it is valid now or one step either side
    (clock drift of phones); None for a wrong code."""
    code = code.strip().replace(" ", "")
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def verify_totp(secret: str, code: str, now: datetime) -> bool:
    return totp_step(secret, code, now) is not None


def totp_uri(user: store.User) -> str:
    """otpauth:// URI for authenticator apps (shown once when TOTP is set up)."""
    assert user.totp_secret is not None
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.name, issuer_name=TOTP_ISSUER)


def login(
    db: Store,
    config: AdminConfig,
    name: str,
    password: str,
    code: str,
    client_address: str,
    now: datetime,
    device_token: str = "",
) -> LoginResult:
    """Decide a login attempt; record failures. Refusals: rate_limited, invalid, totp_required.

    Throttling follows OWASP's device cookies: a browser holding a device cookie
    of this account (`device_token`, from an earlier sign-in) is limited by its
    own failures only; any other client by its (account, address) failures, by
    its address's failures across accounts, and by the account's failures from
    all such clients (a much higher backstop). So an attacker's guesses lock the
    attacker out, not the operator. On success `LoginResult.new_device_token`
    is set when the browser needs a (new) device cookie.
    """
    since = now - config.login_failure_window
    device_id = throttle.find_device(db, name, device_token) if device_token else None
    if device_id is not None:
        limited = throttle.device_failures(db, device_id, since) >= config.login_max_failures_per_client
    else:
        limited = (
            throttle.untrusted_failures(db, since, account=name, address=client_address)
            >= config.login_max_failures_per_client
            or throttle.untrusted_failures(db, since, address=client_address)
            >= config.login_max_failures_per_address
            or throttle.untrusted_failures(db, since, account=name) >= config.login_max_failures_per_account
        )
    if limited:
        return LoginResult(None, "rate_limited")
    user = store.find_user(db, name) if NAME_RE.match(name) else None
    valid = verify_password(user, password) and user is not None and user.disabled_at is None
    if valid and user is not None and user.totp_secret:
        step = totp_step(user.totp_secret, code, now)
        # A code works once: someone who watched it being typed cannot reuse it.
        with sql.write(db):
            valid = step is not None and store.claim_totp_step(db, user.id, step)
    if not valid or user is None:
        with sql.write(db):
            throttle.record_failure(db, name, client_address, device_id, now)
        return LoginResult(None, "invalid")
    if config.require_totp and not user.totp_secret:
        return LoginResult(None, "totp_required")
    with sql.write(db):
        throttle.clear_failures(db, name)
        if device_id is not None:
            throttle.touch_device(db, device_id, now)
            new_device = None
        else:
            new_device = throttle.issue_device(db, user.name, now)
        throttle.prune(db, since, now - config.login_device_max_age)
        if _hasher.check_needs_rehash(user.password_hash):
            store.set_password_hash(db, user.id, hash_password(password), user.password_changed_at)
    return LoginResult(user, new_device_token=new_device)


def change_password(
    db: Store, user: store.User, current: str, new: str, now: datetime, keep_session_id: int | None
) -> int:
    """Change the password after checking the current one; end every other session.

    Returns how many sessions were ended. Raises AccountError.
    """
    if not verify_password(user, current):
        raise AccountError("current_password", "is not correct")
    check_new_password(new, user.name)
    if verify_password(user, new):
        raise AccountError("new_password", "must differ from the current one")
    with sql.write(db):
        store.set_password_hash(db, user.id, hash_password(new), now)
        return store.revoke_sessions_of(db, user.id, now, keep_session_id)


def reset_totp(db: Store, user: store.User, enable: bool) -> store.User:
    """Give the user a fresh TOTP seed (or remove it); returns the updated user."""
    with sql.write(db):
        store.set_totp_secret(db, user.id, pyotp.random_base32() if enable else None)
    updated = store.get_user(db, user.id)
    assert updated is not None
    return updated

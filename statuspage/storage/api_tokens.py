"""Admin API tokens with a scope (read or write). Only a SHA-256 of each token is stored.

Like agent tokens these are 256-bit random strings, so a fast hash is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from shared.timeutil import from_iso, to_iso
from statuspage.storage import sql
from statuspage.storage.sql import Store

TOKEN_PREFIX = "uwt_"
SCOPES = ("read", "write")


class TokenExists(Exception):
    """A live token with this name exists already."""


@dataclass(frozen=True)
class ApiToken:
    id: int
    name: str
    scope: str
    created_at: datetime
    created_by: str
    last_used_at: datetime | None

    def allows(self, needed: str) -> bool:
        """write includes read."""
        return self.scope == "write" or needed == "read"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(db: Store, name: str, scope: str, created_by: str, now: datetime) -> tuple[ApiToken, str]:
    """Create a token; return (token row, secret shown once). Raises ValueError, TokenExists."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    try:
        token_id = sql.insert_returning_id(
            db,
            "INSERT INTO api_tokens (name, token_hash, scope, created_at, created_by)"
            " VALUES (:name, :hash, :scope, :now, :created_by) RETURNING id",
            {
                "name": name,
                "hash": _hash(secret),
                "scope": scope,
                "now": to_iso(now),
                "created_by": created_by,
            },
        )
    except sql.IntegrityError:
        raise TokenExists(name) from None
    return ApiToken(token_id, name, scope, now, created_by, None), secret


def authenticate(db: Store, secret: str, now: datetime) -> ApiToken | None:
    """The live token for `secret`, or None; notes its use (at most once a minute)."""
    if not secret or len(secret) > 200:
        return None
    digest = _hash(secret)
    found = sql.tuples(
        db,
        "SELECT token_hash, id, name, scope, created_at, created_by, last_used_at FROM api_tokens"
        " WHERE token_hash = :hash AND revoked_at IS NULL",
        {"hash": digest},
    )
    row = found[0] if found else None
    if row is None or not hmac.compare_digest(row[0], digest):
        return None
    last_used = from_iso(row[6]) if row[6] else None
    if last_used is None or (now - last_used).total_seconds() >= 60:
        sql.run(
            db, "UPDATE api_tokens SET last_used_at = :now WHERE id = :id", {"now": to_iso(now), "id": row[1]}
        )
    return ApiToken(int(row[1]), row[2], row[3], from_iso(row[4]), row[5], last_used)


def list_tokens(db: Store) -> list[ApiToken]:
    rows = sql.tuples(
        db,
        "SELECT id, name, scope, created_at, created_by, last_used_at FROM api_tokens"
        " WHERE revoked_at IS NULL ORDER BY name",
    )
    return [
        ApiToken(int(r[0]), r[1], r[2], from_iso(r[3]), r[4], from_iso(r[5]) if r[5] else None) for r in rows
    ]


def revoke_token(db: Store, name: str, now: datetime) -> bool:
    changed = sql.run(
        db,
        "UPDATE api_tokens SET revoked_at = :now WHERE name = :name AND revoked_at IS NULL",
        {"now": to_iso(now), "name": name},
    )
    return changed > 0

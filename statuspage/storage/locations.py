"""What a `database` setting names: a PostgreSQL URL or a SQLite file (no driver imported here)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def is_postgres_url(location: object) -> bool:
    """True when a `database` setting names a PostgreSQL server rather than a SQLite file."""
    return isinstance(location, str) and location.startswith(SCHEMES)


def redacted(url: str) -> str:
    """The URL without its password, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user, host = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=user.split(":", 1)[0] + ":***@" + host))

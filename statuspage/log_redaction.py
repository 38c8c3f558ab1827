"""Secrets out of the logs: URLs are redacted before gunicorn's access log (or ours) writes them.

What a URL can carry that must not sit in a log file anyone with log access
reads: heartbeat ping keys (`/ping/<key>`), subscription confirm, verify and
unsubscribe tokens, and tokens a client wrongly put in the query string
(`?token=`, `?access_token=`, `?api_key=` ...), and on-call action links,
contact verification links and calendar feed secrets. Each is cut to a short prefix
plus `***`, enough to tell two log lines of the same key apart, far too little
to use it.

`AccessLogRedactor` is a logging filter on the `gunicorn.access` logger: it
rewrites the request line, path, query and referer atoms (`%(r)s`, `%(U)s`,
`%(q)s`, `%(f)s`) of every access record, whatever the format (text or JSON).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qsl, quote

from shared.logging_setup import logging_dict

PREFIX_CHARS = 4
# Path segments that are secrets: the segment after these prefixes.
_SECRET_PATH = re.compile(
    r"(/(?:ping|subscribe/verify|subscribe/confirm|unsubscribe|oncall/act|oncall/approve|oncall/verify)/)([^/?#\s\"]+)"
)
# On-call calendar feeds: /oncall/feeds/<kind>/<name>/<secret>.ics
_SECRET_FEED = re.compile(r"(/oncall/feeds/[^/?#\s\"]+/[^/?#\s\"]+/)([^/?#\s\"]+?)(\.ics)")
# Query parameter names whose value is a credential (lower-cased comparison).
SECRET_PARAMS = frozenset(
    {
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "api_key",
        "apikey",
        "key",
        "secret",
        "client_secret",
        "password",
        "passwd",
        "signature",
        "sig",
        "auth",
        "authorization",
        "code",
    }
)
_QUERY = re.compile(r"\?([^\s#\"]*)")
_ACCESS_ATOMS = ("r", "U", "q", "f")
# Every secret above follows one of these; most lines (agent reports, pages, the API) hold
# none, and a substring test is far cheaper than the three patterns on every access line.
_MARKERS = ("?", "/ping/", "/subscribe/", "/unsubscribe/", "/oncall/")


def mask(secret: str) -> str:
    """A short prefix of `secret` and `***` (only `***` when the secret is short)."""
    if len(secret) <= 2 * PREFIX_CHARS:
        return "***"
    return secret[:PREFIX_CHARS] + "***"


def redact_query(query: str) -> str:
    """`a=1&token=abcdef123` -> `a=1&token=abcd***` (other parameters and order unchanged)."""
    if not query:
        return query
    parts = []
    for pair in query.split("&"):
        name, sep, value = pair.partition("=")
        decoded = parse_qsl(pair, keep_blank_values=True)
        key = decoded[0][0] if decoded else name
        if sep and key.lower() in SECRET_PARAMS:
            parts.append(f"{name}={quote(mask(decoded[0][1]), safe='*')}")
        else:
            parts.append(pair)
    return "&".join(parts)


def redact_url(text: str) -> str:
    """Redact secret path segments and secret query values anywhere in `text` (a path, a URL,
    or a whole request line such as `GET /ping/abc?x=1 HTTP/1.1`)."""
    if not text or not any(marker in text for marker in _MARKERS):
        return text
    text = _SECRET_PATH.sub(lambda m: m.group(1) + mask(m.group(2)), text)
    text = _SECRET_FEED.sub(lambda m: m.group(1) + mask(m.group(2)) + m.group(3), text)
    return _QUERY.sub(lambda m: "?" + redact_query(m.group(1)), text)


class AccessLogRedactor(logging.Filter):
    """Redacts the URL atoms of gunicorn access records (their args are the atoms dict)."""

    def filter(self, record: logging.LogRecord) -> bool:
        atoms = record.args
        if isinstance(atoms, dict):
            # In place: gunicorn's atoms are a dict subclass that answers "-" for absent headers.
            for name in _ACCESS_ATOMS:
                value = atoms.get(name)
                if isinstance(value, str):
                    atoms[name] = redact_query(value) if name == "q" else redact_url(value)
        elif isinstance(record.msg, str):
            record.msg = redact_url(record.msg)
        return True


def collector_logging_dict(log_format: Any = "text", level: Any = "INFO") -> dict[str, Any]:
    """`shared.logging_setup.logging_dict` with the redactor on gunicorn's access logger."""
    config = logging_dict(log_format, level)
    config["filters"]["redact_urls"] = {"()": AccessLogRedactor}
    config["loggers"]["gunicorn.access"]["filters"] = ["redact_urls"]
    return config

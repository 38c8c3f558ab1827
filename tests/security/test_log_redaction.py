"""URL redaction for the logs: every kind of secret is cut, and lines without one pass unchanged."""

from __future__ import annotations

import pytest

from statuspage.log_redaction import redact_url

# (text as logged, as written) — one line per kind of secret the module knows.
CASES = [
    ("GET /ping/pk_0123456789 HTTP/1.1", "GET /ping/pk_0*** HTTP/1.1"),
    ("/subscribe/verify/abcdefghijkl", "/subscribe/verify/abcd***"),
    ("/subscribe/confirm/abcdefghijkl", "/subscribe/confirm/abcd***"),
    ("/unsubscribe/abcdefghijkl", "/unsubscribe/abcd***"),
    ("/oncall/act/abcdefghijkl", "/oncall/act/abcd***"),
    ("/oncall/approve/abcdefghijkl", "/oncall/approve/abcd***"),
    ("/oncall/verify/abcdefghijkl", "/oncall/verify/abcd***"),
    ("/oncall/feeds/user/ana/abcdefghijkl.ics", "/oncall/feeds/user/ana/abcd***.ics"),
    ("https://x.example/a?token=abcdefghijkl&page=2", "https://x.example/a?token=abcd***&page=2"),
    ("POST /api/v1/agent/reports HTTP/1.1", "POST /api/v1/agent/reports HTTP/1.1"),
    ("/incidents/42", "/incidents/42"),
    ("-", "-"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_redact_url(text: str, expected: str) -> None:
    assert redact_url(text) == expected

"""Integers from URLs and query strings, bounded before they reach SQL.

SQLite (and PostgreSQL's BIGINT) store signed 64-bit integers; Python's
sqlite3 raises OverflowError for a larger int, which surfaced as a 500 for
`GET /incidents/9999999999999999999999999`. Every `<int:...>` route argument
goes through `BoundedIntConverter` (registered as the app's `int` converter,
so new routes are covered without a thought): too large is simply no match,
a 404. Query integers go through `query_int`, which answers 400 naming the
parameter.
"""

from __future__ import annotations

from typing import Any

from flask import abort, request
from werkzeug.routing import IntegerConverter, Map

MAX_ID = 2**63 - 1  # the largest SQLite INTEGER / PostgreSQL BIGINT


class BoundedIntConverter(IntegerConverter):
    """Werkzeug's `int` converter with an upper bound of `MAX_ID` unless the rule gives one."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:  # noqa: A002 - werkzeug's name
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def query_int(name: str, *, minimum: int = 0, maximum: int = MAX_ID) -> int | None:
    """The integer query parameter `name`, or None when absent or empty.

    Aborts with 400 naming the parameter when it is not a plain decimal integer
    in [minimum, maximum].
    """
    text = request.args.get(name, "")
    if text == "":
        return None
    # isdecimal, not int(): int() also takes "+5", " 5", "5_000" and, at 4300+
    # digits, raises instead of answering.
    if not (text.isascii() and text.isdecimal()) or len(text) > 19 or not minimum <= int(text) <= maximum:
        abort(400, description=f"{name}: must be a whole number from {minimum} to {maximum}")
    return int(text)

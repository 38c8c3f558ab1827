"""gzip for the stylesheets under /static and /admin/static, compressed once per file version.

Only CSS: it is the one static kind that is large and text (the favicon is tiny), and it
never carries secrets, so compressing it cannot leak anything (BREACH needs a secret and
attacker-chosen text in one compressed body). Flask serves the file with an ETag and
conditional GETs; the gzipped body gets its own ETag (`-gz`) and `Vary: Accept-Encoding`.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, Response, request

GZIP_LEVEL = 9
STATIC_ENDPOINTS = ("static", "admin.static")

_lock = threading.Lock()
_compressed: dict[tuple[str, str], bytes] = {}


def _gzip_css(response: Response) -> Response:
    if response.mimetype != "text/css":
        return response
    response.vary.add("Accept-Encoding")
    if response.status_code != 200 or request.accept_encodings["gzip"] <= 0 or response.content_encoding:
        return response
    etag, _weak = response.get_etag()
    if etag and request.if_none_match.contains(f"{etag}-gz"):
        # Flask compared the plain ETag; the client holds the gzipped one: still fresh.
        response.direct_passthrough = False
        response.set_data(b"")
        response.status_code = 304
        response.set_etag(f"{etag}-gz")
        return response
    key = (request.path, etag or "")
    with _lock:
        body = _compressed.get(key)
    if body is None:
        response.direct_passthrough = False
        body = gzip.compress(response.get_data(), GZIP_LEVEL, mtime=0)
        with _lock:
            _compressed[key] = body
    response.direct_passthrough = False
    response.set_data(body)
    response.content_encoding = "gzip"
    if etag:
        response.set_etag(f"{etag}-gz")
    return response


def init_app(app: Flask) -> None:
    """Compress static CSS for clients that accept gzip (call after the admin blueprint is registered).

    The static views are wrapped rather than an app-wide after_request hook added: a
    hook runs on every request, agent reports included, to decide it has nothing to do.
    """
    for endpoint in STATIC_ENDPOINTS:
        app.view_functions[endpoint] = _compressing(app, app.view_functions[endpoint])


def _compressing(app: Flask, view: Callable[..., Any]) -> Callable[..., Response]:
    @wraps(view)
    def static_view(**kwargs: Any) -> Response:
        return _gzip_css(app.make_response(view(**kwargs)))

    return static_view

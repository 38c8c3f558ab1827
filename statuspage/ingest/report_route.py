"""Agent reports answered at the WSGI edge, ahead of Flask's per-request machinery.

`POST /api/v1/agent/reports` is the one endpoint every agent calls every few
seconds: a collector answers it hundreds of times a second (bench/ingest.py).
Around a report of one result, Flask's request handling cost about a sixth of
the collector's work: matching the path against the app's ~165 routes (and
encoding the host name through the IDNA codec to do so), the request context
and its session, the blueprint's hooks, response finalization, the signals.
None of it decides anything for this route, so `ReportRoute` answers it itself
and hands every other request to Flask unchanged.

It runs the very functions the Flask route runs, under an app context (the
settings, `g`, the clock and the database helpers work as in a view):
`agent_api.authenticate_request`, then `agent_api.store_report`; HTTP errors
(a body over the limit: 413) and unexpected exceptions get the answers the
app's error handlers give on API paths (`web.api_http_error`,
`web.api_internal_error`). It sits inside `web.ResponseHeaders`, so request ids
and security headers are the same as on every other answer. The Flask route
stays registered: it keeps the endpoint in the URL map (so another method gets
405) and serves an app built without this middleware.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask
from werkzeug.exceptions import HTTPException

from statuspage.ingest.agent_api import authenticate_request, store_report
from statuspage.web import api_http_error, api_internal_error

REPORTS_PATH = "/api/v1/agent/reports"


class ReportRoute:
    """WSGI middleware: answers POST REPORTS_PATH itself; everything else goes to `wsgi_app`."""

    def __init__(self, wsgi_app: Any, app: Flask):
        self.wsgi_app = wsgi_app
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != REPORTS_PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.wsgi_app(environ, start_response)
        with self.app.app_context():
            return self._answer(environ)(environ, start_response)

    def _answer(self, environ: dict[str, Any]) -> Any:
        request = self.app.request_class(environ)
        try:
            return authenticate_request(request, report=True) or store_report(request)
        except HTTPException as error:
            return api_http_error(error)
        except Exception:  # noqa: BLE001 - answered like the app's own handler: logged, a JSON 500
            return api_internal_error(REPORTS_PATH)

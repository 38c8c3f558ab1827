"""Finding 5: huge integers in URLs and queries answered 500. Every `<int:...>` of every route
(enumerated from the url_map, so new routes are covered) and every integer query parameter
is bounded: 404 or 400, never a 5xx."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import IntegerConverter

from tests.adminkit import CSRF_RE, sign_in
from tests.security.conftest import bearer

HUGE = "9999999999999999999999999"
EDGES = [HUGE, str(2**63), str(2**63 - 1), "0"]


def int_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(method, rule, the int argument) for every rule with an integer argument."""
    found = []
    for rule in app.url_map.iter_rules():
        ints = [name for name, conv in rule._converters.items() if isinstance(conv, IntegerConverter)]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.extend((method, rule.rule, name) for name in ints)
    return found


def concrete(rule: str, value: str) -> str:
    import re

    text = re.sub(r"<int:[a-z_]+>", value, rule)
    return re.sub(
        r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: {"key": "k", "name": "edge-1"}.get(m.group(1), "x"), text
    )


@pytest.fixture(scope="module")
def signed_in(module_app: Flask) -> tuple[Any, str]:
    client = module_app.test_client()
    assert sign_in(client, "alice").status_code == 303
    match = CSRF_RE.search(client.get("/admin/account").text)
    assert match
    return client, match.group(1)


def test_the_issues_requests(module_app: Flask, signed_in: tuple[Any, str]) -> None:
    client, _csrf = signed_in
    headers = bearer(module_app, "write")
    assert client.get(f"/incidents/{HUGE}").status_code == 404
    assert client.get(f"/admin/incidents/{HUGE}").status_code == 404
    assert client.get(f"/api/v1/admin/incidents/{HUGE}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/admin/maintenances/{HUGE}", headers=headers).status_code == 404
    refused = client.get(f"/api/v1/admin/audit?before={HUGE}", headers=headers)
    assert refused.status_code == 400 and "before" in refused.json["error"]
    assert client.get(f"/admin/audit?before={HUGE}").status_code == 400


def test_every_int_route_is_bounded(module_app: Flask, signed_in: tuple[Any, str]) -> None:
    client, csrf = signed_in
    routes = int_routes(module_app)
    assert len(routes) > 30  # the table really enumerates the app
    problems = []
    for method, rule, _arg in routes:
        for value in EDGES:
            url = concrete(rule, value)
            kwargs: dict[str, Any] = {"headers": bearer(module_app, "write")}
            if method != "GET":
                kwargs["data"] = {"csrf_token": csrf}
            response = client.open(url, method=method, **kwargs)
            if response.status_code >= 500 or (
                value in (HUGE, str(2**63)) and response.status_code not in (404, 405)
            ):
                problems.append((method, url, response.status_code))
    assert problems == []


QUERY_INTS = ["before", "page", "days", "limit", "id"]


def test_every_get_route_survives_huge_query_integers(module_app: Flask, signed_in: tuple[Any, str]) -> None:
    client, _csrf = signed_in
    query = "&".join(f"{name}={HUGE}" for name in QUERY_INTS)
    problems = []
    for rule in module_app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()):
            continue
        url = concrete(rule.rule, "1") + "?" + query
        response = client.get(url, headers=bearer(module_app, "write"))
        if response.status_code >= 500:
            problems.append((url, response.status_code))
    assert problems == []

"""XSS and template injection: hostile text in every field that reaches a page, feed, JSON or mail.

Two tables: PAYLOADS (body, attribute, URL and script contexts) and FIELDS (where
text enters: config, incidents, maintenance, agents' reports, login attempts).
Each payload is written into every field at once, then every output is fetched
and parsed the way its reader would: HTML with an HTML parser (no element,
attribute, URL or script may carry the payload), feeds as XML (and their HTML
content again), JSON as JSON (the text must come back unchanged), mail as MIME.
To cover a new field, add a line to FIELDS; a new page, a line to OUTPUTS.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import timedelta
from email import message_from_string
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from shared.timeutil import to_iso
from statuspage import create_app
from statuspage import incidents as service
from statuspage.admin.accounts import create_user
from statuspage.db import connect
from statuspage.settings import Settings, load_settings
from statuspage.storage import maintenance
from statuspage.storage.agents import create_agent, record_seen
from tests.adminkit import PASSWORD, sign_in
from tests.conftest import BASE_CONFIG, FrozenClock
from tests.security.htmlcheck import problems

MARK = "alert(1)"
# Each line one payload; every one carries MARK so its traces can be found.
PAYLOADS = [
    "<script>alert(1)</script>",
    '"><script>alert(1)</script>',
    "'><img src=x onerror=alert(1)>",
    '" onmouseover="alert(1)" x="',
    "' onfocus='alert(1)' autofocus='",
    "javascript:alert(1)",
    " javascript:alert(1)//",
    "<svg/onload=alert(1)>",
    "</title><script>alert(1)</script>",
    "</textarea><script>alert(1)</script>",
    "</style><script>alert(1)</script>",
    "<iframe src=javascript:alert(1)>",
    "<a href=javascript:alert(1)>x</a>",
    "[x](javascript:alert(1))",
    "<img src=x onerror=alert(1)//",
    "</script><script>alert(1)</script>",
    "\u2028\u2029</script><script>alert(1)</script>",
    "<!--<script>alert(1)//-->",
    "<math><mtext></p><script>alert(1)</script>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "]]><script>alert(1)</script><![CDATA[",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<details open ontoggle=alert(1)>",
    "<body onload=alert(1)>",
]


def _config_with(payload: str, tmp_path: Path) -> Settings:
    short = payload[:100]
    config = {
        **BASE_CONFIG,
        "database": str(tmp_path / "x.db"),
        "page": {"name": short, "description": payload, "url": "https://status.example"},
        "groups": [{"id": "core", "name": short, "description": payload}],
        "components": [
            {"id": "api", "name": short, "group": "core", "description": payload},
            {"id": "web", "name": short},
        ],
    }
    return load_settings(environ={}, **config)


# FIELDS: where hostile text enters besides the config (page, group, component names above).
def _incident(db: Any, settings: Settings, now: Any, payload: str) -> None:
    incident_id = service.create_incident(
        db, settings, title=payload[:200], body=payload, actor="op", now=now, impact="major",
        components={"api": "major_outage"},
    )  # fmt: skip
    service.post_update(db, incident_id, "identified", payload, "op", now + timedelta(minutes=1))
    service.resolve(db, incident_id, "op", now + timedelta(minutes=2), payload)
    service.set_root_cause(db, incident_id, payload, "op", now + timedelta(minutes=3))
    service.set_postmortem(db, incident_id, payload, "op", now + timedelta(minutes=4), publish=True)


def _maintenance(db: Any, settings: Settings, now: Any, payload: str) -> None:
    maintenance.insert_maintenance(
        db, title=payload[:200], body=payload, scheduled_for=now + timedelta(hours=1),
        scheduled_until=now + timedelta(hours=2), components=["api"], now=now,
    )  # fmt: skip


def _agent_facts(db: Any, settings: Settings, now: Any, payload: str) -> None:
    """What agents and probed servers control: version string, probe errors."""
    agent, _token = create_agent(db, "edge-1", ["eu"], now)
    record_seen(db, agent.id, now, payload[:64], 0.5)
    db.execute(
        "INSERT INTO check_states (check_id, agent, status, since, last_result_at, last_error)"
        " VALUES (?, ?, 'down', ?, ?, ?)",
        ["api-health", "edge-1", to_iso(now), to_iso(now), payload],
    )
    db.execute(
        "INSERT INTO location_problems (check_id, agent, opened_at, last_error) VALUES (?, ?, ?, ?)",
        ["api-health", "edge-1", to_iso(now), payload],
    )


FIELDS: list[Callable[[Any, Settings, Any, str], None]] = [_incident, _maintenance, _agent_facts]

# OUTPUTS: (path, how to read it). Admin pages are fetched signed in.
OUTPUTS = [
    ("/", "html"),
    ("/history", "html"),
    ("/incidents/1", "html"),
    ("/history.atom", "feed"),
    ("/history.rss", "feed"),
    ("/api/v2/summary.json", "json"),
    ("/api/v2/incidents.json", "json"),
    ("/api/v2/scheduled-maintenances.json", "json"),
    ("/api/v2/components.json", "json"),
    ("/badge/api.svg", "svg"),
    ("/admin/", "html"),
    ("/admin/incidents", "html"),
    ("/admin/incidents/1", "html"),
    ("/admin/maintenance", "html"),
    ("/admin/agents", "html"),
    ("/admin/components", "html"),
    ("/admin/audit", "html"),
    ("/admin/account", "html"),
    ("/api/v1/admin/incidents/1", "json"),
]


@pytest.fixture
def seeded(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[str], FlaskClient]:
    def build(payload: str) -> FlaskClient:
        settings = _config_with(payload, tmp_path)
        app = create_app(settings)
        clock = FrozenClock()
        app.config["UPWATCH_CLOCK"] = lambda: clock() + timedelta(minutes=10)
        db = connect(settings.database)
        request.addfinalizer(db.conn.close)
        for field in FIELDS:
            field(db, settings, clock(), payload)
        create_user(db, "alice", PASSWORD, clock())
        client = app.test_client()
        # The login name and User-Agent are attacker-controlled too (audit log, sessions page).
        sign_in(client, payload[:60], "wrong password 1", headers={"User-Agent": payload})
        assert sign_in(client, "alice", headers={"User-Agent": payload}).status_code == 303
        return client

    return build


def _check_html(text: str, where: str) -> None:
    found = problems(text, marker=MARK)
    assert found == [], (where, found)


def _check_output(kind: str, body: str, where: str) -> None:
    if kind == "html":
        _check_html(body, where)
    elif kind in ("feed", "svg"):
        root = ET.fromstring(body)  # well-formed: nothing broke out of its element
        for element in root.iter():
            assert MARK not in element.tag and not any(MARK in k for k in element.attrib), where
            assert not element.tag.endswith("script"), where
            # Readers render Atom type="html" content and RSS <description> as HTML; the
            # rest (titles, type="text") is shown as text whatever it contains.
            renders_html = element.attrib.get("type") in ("html", "xhtml") or element.tag == "description"
            if kind == "feed" and renders_html and element.text:
                _check_html(element.text, f"{where} <{element.tag}>")
    else:
        json.loads(body)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_is_inert_everywhere(seeded: Callable[[str], FlaskClient], payload: str) -> None:
    client = seeded(payload)
    headers = {"Authorization": "Bearer none"}
    for path, kind in OUTPUTS:
        response = client.get(path, headers=headers if path.startswith("/api/v1/admin") else {})
        if path.startswith("/api/v1/admin"):
            assert response.status_code == 401
            continue
        assert response.status_code == 200, (path, response.status_code)
        _check_output(kind, response.get_data(as_text=True), f"{path} {payload!r}")
    # JSON carries the text unchanged (escaping is the reader's job in its own context).
    data = client.get("/api/v2/incidents.json").get_json()
    assert data["incidents"][0]["name"] == payload[:200].strip()  # titles are stored stripped


# Template syntax of Jinja and other engines: shown literally, never evaluated.
TEMPLATE_INJECTIONS = [
    "{{7*7}}",
    "{{ 7*'7' }}",
    "{% print(7*7) %}",
    "{{config}}",
    "{{ config.items() }}",
    "{{ self.__init__.__globals__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ request.environ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "${7*7}",
    "#{7*7}",
    "<%= 7*7 %>",
    "{{#each this}}{{/each}}",
    "{% raw %}{{7*7}}{% endraw %}",
]
LEAKS = ["49", "7777777", "SECRET_KEY", "<Config", "__globals__'", "uid=", "wsgi."]


@pytest.mark.parametrize("payload", TEMPLATE_INJECTIONS)
def test_template_syntax_is_not_evaluated(seeded: Callable[[str], FlaskClient], payload: str) -> None:
    client = seeded(payload)
    for path in ("/", "/incidents/1", "/history.atom", "/admin/incidents/1", "/admin/audit"):
        body = client.get(path).get_data(as_text=True)
        for leak in LEAKS:
            # "49" may legitimately appear in a page (a time, a size): only next to the payload's place.
            if leak == "49":
                assert "<h1>49" not in body and ">49<" not in body, path
            else:
                assert leak not in body, (path, leak)


@pytest.mark.parametrize("payload", TEMPLATE_INJECTIONS[:5] + PAYLOADS[:10])
def test_postmortem_preview_is_sanitized(tmp_path: Path, payload: str) -> None:
    from statuspage.markdown import render_markdown

    html = str(render_markdown(payload))
    assert problems(html, marker=MARK) == []
    assert "49" not in html or "7*7" in payload and "49" not in html


# -- mail ------------------------------------------------------------------------------------------

CRLF = [
    "Outage\r\nBcc: victim@example.com",
    "Outage\nX-Injected: 1",
    "Outage\rX-Injected: 1",
    "Outage\r\n\r\n<html>injected body",
    "Outage%0d%0aX-Injected: 1",
    "Outage\u2028X-Injected: 1",
    "Outage\x00X-Injected: 1",
    "Outage\tX-Injected: 1",
    "=?utf-8?q?Outage=0D=0AX-Injected:_1?=",
    "Ünïcödé\r\nX-Injected: 1",
]


def _mail_for(settings: Settings, title: str, body: str) -> Any:
    from statuspage.notify.channels.base import DeliveryContext
    from statuspage.notify.channels.email import EmailChannel
    from statuspage.notify.fanout import _incident_payload
    from statuspage.notify.outbox import SUBSCRIBER_EMAIL, OutboxRow
    from statuspage.notify.templates import Renderer

    clock = FrozenClock()
    incident = {"id": 1, "title": title, "status": "investigating", "impact": "major",
                "created_at": to_iso(clock()), "updated_at": to_iso(clock()), "resolved_at": None}  # fmt: skip
    update = {"id": 1, "status": "investigating", "body": body, "created_at": to_iso(clock())}
    payload = _incident_payload(settings, incident, update, [{"id": "api", "status": "major_outage"}],
                                "incident.created", True, clock())  # fmt: skip
    payload["meta"] = {"unsubscribe": "https://status.example/unsubscribe/x"}
    row = OutboxRow(
        1, "incident.created", SUBSCRIBER_EMAIL, "reader@example.com", payload, "k", 0, to_iso(clock())
    )
    ctx = DeliveryContext(settings, Renderer(), clock, None, None, None)  # type: ignore[arg-type]
    message = EmailChannel().prepare(row, ctx, None).message  # type: ignore[arg-type]
    # Subscriber copies are sent flattened (the exact text on the wire): parse that text.
    return message_from_string(message) if isinstance(message, str) else message


@pytest.mark.parametrize("title", CRLF)
def test_crlf_in_mail_headers(tmp_path: Path, title: str) -> None:
    settings = load_settings(environ={}, **{**BASE_CONFIG, "database": str(tmp_path / "m.db"),
                                            "page": {"name": "Acme\r\nBcc: x@example.com"}})  # fmt: skip
    message = _mail_for(settings, title, "body")
    parsed = message_from_string(message.as_string())
    assert parsed["X-Injected"] is None and parsed["Bcc"] is None
    raw_headers = message.as_string().split("\n\n", 1)[0]
    assert not re.search(r"^(X-Injected|Bcc):", raw_headers, re.MULTILINE | re.IGNORECASE)
    # (An encoded word may decode to a line break for display; it cannot add a header.)
    assert "Acme" in str(make_header(decode_header(parsed["Subject"])))
    assert [part.get_content_type() for part in parsed.walk()][1:] == ["text/plain", "text/html"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_is_inert_in_html_mail(tmp_path: Path, payload: str) -> None:
    settings = _config_with(payload, tmp_path)
    message = _mail_for(settings, payload[:200], payload)
    html = next(p for p in message.walk() if p.get_content_type() == "text/html")
    _check_html(html.get_payload(decode=True).decode(), "mail")

"""The HTML pages through the test client: content, structure, privacy, caching and bad input."""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from statuspage import create_app
from statuspage.db import connect
from statuspage.settings import Settings
from tests.conftest import FrozenClock
from tests.statuspage.conftest import html_of
from tests.statuspage.public_data import SECRET_ERROR, seed


class Outline(HTMLParser):
    """Tags with their attributes, plus text, for structure assertions."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, Any]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    return parser


def test_index_banner_groups_bars_incidents_and_maintenance(pc: FlaskClient) -> None:
    html = html_of(pc, "/")
    page = outline(html)
    assert '<h1 id="overall">Partial System Outage</h1>' in html
    headings = [t for t in page.text if t.strip()]
    for expected in ("Core services", "Data", "Other components", "Maintenance in progress", "Current incidents",
                     "Scheduled maintenance", "Database upgrade", "CDN provider switch"):  # fmt: skip
        assert expected in headings, expected
    components = [a for tag, a in page.tags if tag == "li" and "data-component" in a]
    assert [(c["data-component"], c["data-status"]) for c in components] == [
        ("api", "partial_outage"),
        ("web", "operational"),
        ("db", "under_maintenance"),
        ("backups", "operational"),
        ("cdn", "unknown"),
    ]
    # One path per kind of day, each titled with its days, the uptime and incidents: every one
    # of the 90 days is named exactly once per component, in far fewer than 90 elements.
    assert "<rect x=" not in html.replace('<rect x="1" y="1"', "")
    for bar in re.findall(r'<svg class="bars".*?</svg>', html, re.S):
        kinds = re.findall(r"<path d=\"[^\"]+\" class=\"d-\w+\"><title>([^<]+)</title></path>", bar)
        assert 1 <= len(kinds) <= 10 and bar.count("<path") == len(kinds)
        days = sum(int(m.group(1)) if (m := re.search(r"\((\d+) days\) · ", t)) else 1 for t in kinds)
        assert days == 90, kinds
    titles = re.findall(r"<title>([^<]+)</title>", html)
    assert any(
        re.match(r"07 Nov 2026 · \d+\.\d\d% uptime · 1 incident: Elevated API error rates", t) for t in titles
    )
    assert "27 Nov 2026 · no data · no incidents" in titles  # the CDN has no data
    assert "99.90% uptime" in html  # the API's 90 days: a 2 h major outage and a partial one today
    # Open incident: the latest update comes first, the earlier ones folded away.
    card = html[html.index("API responses slow in some regions") :]
    assert (
        card.index("saturated upstream link")
        < card.index("Earlier updates (1)")
        < card.index("looking into slow")
    )
    # Not colour alone: every status has a word and an icon.
    assert "Partial outage" in html and "Under maintenance" in html and "No data yet" in html
    assert 'href="/history"' in html


def test_big_groups_fold_and_open_when_a_component_has_a_problem(
    pc: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from statuspage.public import views
    from statuspage.public.snapshot import ComponentView, GroupView

    assert '<details class="group-rows"' not in html_of(pc, "/")  # small groups: rows shown
    monkeypatch.setattr(views, "COLLAPSE_OVER", 1)
    folded = html_of(pc, "/?fold")
    # core (a partial outage) and data (maintenance) fold but stay open; the lone CDN does not fold.
    assert folded.count('<details class="group-rows" open>') == 2
    assert "<summary>2 components</summary>" in folded and 'data-component="cdn"' in folded

    def group(*statuses: str) -> GroupView:
        rows = [ComponentView(f"c{i}", "C", None, "g", i, s, None) for i, s in enumerate(statuses)]
        return GroupView("g", "G", None, 1, rows)

    assert group("operational", "operational").fold(2) is None
    assert group("operational", "operational", "unknown").fold(2) == "closed"
    assert group("operational", "degraded_performance", "operational").fold(2) == "open"


def test_index_is_accessible_and_csp_friendly(pc: FlaskClient) -> None:
    html = html_of(pc, "/")
    page = outline(html)
    assert ("html", {"lang": "en"}) in page.tags
    assert any(tag == "meta" and a.get("name") == "viewport" for tag, a in page.tags)
    assert not any(tag == "script" for tag, _a in page.tags), "no scripts at all"
    assert not any("style" in a for _tag, a in page.tags), "no inline style attributes (CSP style-src 'self')"
    assert not any(tag == "style" for tag, _a in page.tags)
    assert not any(k.startswith("on") for _t, a in page.tags for k in a), "no inline event handlers"
    bars = [a for tag, a in page.tags if tag == "svg" and "bars" in (a.get("class") or "")]
    assert bars and all(
        a.get("role") == "img" and "uptime" in a.get("aria-label", "") or "no data" in a.get("aria-label", "")
        for a in bars
    )
    times = [a["datetime"] for tag, a in page.tags if tag == "time"]
    assert times and all(t.endswith("+00:00") for t in times)
    assert "prefers-color-scheme: dark" in pc.get("/static/status.css").get_data(as_text=True)


def test_public_pages_hide_targets_addresses_and_probe_errors(
    pc: FlaskClient, seeded: dict[str, int]
) -> None:
    for path in (
        "/",
        "/history",
        f"/incidents/{seeded['open']}",
        "/api/v2/summary.json",
        "/history.atom",
        "/metrics",
    ):
        body = pc.get(path).get_data(as_text=True)
        assert "10.1.2.3" not in body and "10.9.8.7" not in body, path
        assert "ECONNREFUSED" not in body and "/internal/health" not in body, path


def test_check_details_only_when_the_config_says_so(
    public_settings: Settings, clock: FrozenClock, seeded: dict[str, int]
) -> None:
    settings = public_settings.model_copy(
        update={"page": public_settings.page.model_copy(update={"show_check_details": True})}
    )
    app = create_app(settings)
    app.config["UPWATCH_CLOCK"] = clock
    html = html_of(app.test_client(), "/")
    assert SECRET_ERROR in html and "edge-eu" in html and "812 ms" in html


def test_drills_and_unpublished_incidents_never_appear(pc: FlaskClient, seeded: dict[str, int]) -> None:
    assert pc.get(f"/incidents/{seeded['drill']}").status_code == 404
    assert pc.get(f"/incidents/{seeded['private']}").status_code == 404
    assert pc.get("/incidents/99999").status_code == 404
    for path in ("/", "/history", "/api/v2/incidents.json", "/history.rss"):
        body = pc.get(path).get_data(as_text=True)
        assert "DRILL" not in body and "PRIVATE" not in body, path


def test_incident_page_timeline_duration_components_and_sanitized_postmortem(
    pc: FlaskClient, seeded: dict[str, int]
) -> None:
    html = html_of(pc, f"/incidents/{seeded['resolved']}")
    assert "<title>Elevated API error rates · Acme Status</title>" in html
    timeline = html[html.index('id="timeline"') :]
    assert (
        timeline.index("back to normal")
        < timeline.index("bad deploy")
        < timeline.index("investigating errors")
    )
    assert "Resolved" in html and "Major impact" in html and ">2h<" in html
    assert "Public API" in html[html.index("Affected:") :]
    post = html[html.index('id="postmortem"') :]
    assert "<h2>Root cause</h2>" in post and "<li>fixed the pipeline</li>" in post
    assert "<script>" not in post and "&lt;script&gt;" in post
    open_html = html_of(pc, f"/incidents/{seeded['open']}")
    assert "25m so far" in open_html and 'id="postmortem"' not in open_html


def test_history_by_month_paginated_and_filtered(pc: FlaskClient, seeded: dict[str, int]) -> None:
    html = html_of(pc, "/history")
    months = re.findall(r'<h2 id="month-\d">([^<]+)</h2>', html)
    assert months == ["November 2026", "October 2026", "September 2026"]
    assert "Elevated API error rates" in html and "API responses slow" in html
    assert "No incidents reported." in html  # October and September
    assert 'rel="next" href="/history?page=2"' in html
    older = html_of(pc, "/history?page=2")
    assert re.findall(r'<h2 id="month-\d">([^<]+)</h2>', older) == ["August 2026", "July 2026", "June 2026"]
    assert "Website certificate renewal failed" in older and 'rel="next"' not in older
    filtered = html_of(pc, "/history?component=web")
    assert (
        "Elevated API error rates" not in filtered
        and 'rel="next" href="/history?page=2&amp;component=web"' in filtered
    )
    assert '<option value="web" selected>' in filtered


@pytest.mark.parametrize(
    ("path", "status"),
    [("/history?page=0", 400), ("/history?page=abc", 400), ("/history?page=1001", 400),
     ("/history?component=nope", 404), ("/incidents/abc", 404), ("/badge/nope.svg", 404),
     ("/badge/api/uptime.svg?days=0", 400), ("/badge/api/uptime.svg?days=401", 400),
     ("/badge/api/uptime.svg?days=x", 400)],
)  # fmt: skip
def test_bad_input_is_a_clear_4xx(pc: FlaskClient, path: str, status: int) -> None:
    response = pc.get(path)
    assert response.status_code == status, path
    assert b"Traceback" not in response.data


def test_etag_last_modified_and_max_age(
    pc: FlaskClient, public_settings: Settings, clock: FrozenClock
) -> None:
    for path in ("/", "/api/v2/summary.json", "/history", "/history.atom", "/badge/api.svg"):
        first = pc.get(path)
        assert first.headers["ETag"] and first.headers["Last-Modified"], path
        assert "max-age=10" in first.headers["Cache-Control"] and "public" in first.headers["Cache-Control"]
        again = pc.get(path, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.data == b"", path
    # New data changes the page and its ETag at once (no stale render from the cache).
    before = pc.get("/").headers["ETag"]
    db = connect(public_settings.database)
    with db.atomic():
        db.execute("UPDATE component_status SET status = 'major_outage', updated_at = ? WHERE component_id = 'web'",
                   [(clock() + timedelta(seconds=1)).isoformat()])  # fmt: skip
    db.conn.close()
    after = pc.get("/", headers={"If-None-Match": before})
    assert after.status_code == 200 and "Major System Outage" in after.get_data(as_text=True)


def test_stale_banner_and_last_updated(pc: FlaskClient, clock: FrozenClock) -> None:
    html = html_of(pc, "/")
    assert "may be out of date" not in html
    assert 'Last updated <time datetime="2026-11-27T11:59:31.000+00:00">' in html
    clock.advance(minutes=6)
    stale = html_of(pc, "/")
    assert "This page may be out of date." in stale and "6m ago" in stale


def test_empty_database_renders(public_app: Flask) -> None:
    html = html_of(public_app.test_client(), "/")
    assert "Waiting for the first results" in html and "No monitoring data received yet" in html


def test_seed_helper_is_idempotent_free(
    public_settings: Settings, clock: FrozenClock, public_app: Flask
) -> None:
    db = connect(public_settings.database)
    ids = seed(db, clock())
    db.conn.close()
    assert len(set(ids.values())) == 5


def test_past_bars_follow_new_incidents_and_recomputed_days(
    pc: FlaskClient, public_settings: Settings, clock: FrozenClock
) -> None:
    assert "Router firmware bug" not in html_of(pc, "/")
    db = connect(public_settings.database)
    ten_days_ago = clock() - timedelta(days=10)
    with db.atomic():
        cursor = db.execute(
            "INSERT INTO incidents (title, status, impact, created_at, updated_at, resolved_at)"
            " VALUES ('Router firmware bug', 'resolved', 'minor', ?, ?, ?)",
            [ten_days_ago.isoformat(), clock().isoformat(), (ten_days_ago + timedelta(hours=1)).isoformat()],
        )
        db.execute(
            "INSERT INTO incident_components VALUES (?, 'web', 'degraded_performance')", [cursor.lastrowid]
        )
    db.conn.close()
    day = ten_days_ago.strftime("%d %b %Y")
    assert f"<title>{day} · 100% uptime · 1 incident: Router firmware bug</title>" in html_of(pc, "/")


def test_gzip_for_clients_that_accept_it(pc: FlaskClient) -> None:
    import gzip

    plain = pc.get("/")
    packed = pc.get("/", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data and len(packed.data) < len(plain.data) / 3
    assert packed.headers["ETag"] != plain.headers["ETag"]
    assert (
        pc.get("/", headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]}).status_code
        == 304
    )
    assert "Content-Encoding" not in pc.get("/", headers={"Accept-Encoding": "gzip;q=0"}).headers


def test_stylesheets_are_gzipped_with_their_own_etag(pc: FlaskClient) -> None:
    import gzip

    for path in ("/static/ui.css", "/static/status.css", "/admin/static/admin.css"):
        plain = pc.get(path)
        assert plain.status_code == 200 and plain.content_encoding is None
        zipped = pc.get(path, headers={"Accept-Encoding": "gzip"})
        assert zipped.content_encoding == "gzip" and "Accept-Encoding" in zipped.headers["Vary"]
        assert gzip.decompress(zipped.data) == plain.data and len(zipped.data) < len(plain.data)
        etag = zipped.headers["ETag"]
        assert etag.endswith('-gz"') and etag != plain.headers["ETag"]
        again = pc.get(path, headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
        assert again.status_code == 304
    assert pc.get("/static/favicon.svg", headers={"Accept-Encoding": "gzip"}).content_encoding is None

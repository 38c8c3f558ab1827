"""`/` redraws a component's row only when what it shows changed (statuspage.public.rows).

Each case changes the data the way the product does (status, today's history, a maintenance
recorded after the fact that rewrites a past day), renders `/` again with a fresh query string
(past the whole-page cache) and checks three things: the row shows the change, only the rows
that had to be redrawn were, and the page is byte for byte what a cold app renders.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from itertools import count

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlite_utils import Database

from shared.timeutil import to_iso
from statuspage import create_app
from statuspage.db import connect
from statuspage.public.rows import RowCache
from statuspage.public.snapshot import _day_ranges
from statuspage.settings import Settings
from statuspage.storage.rollups import refresh_component_days
from tests.conftest import FrozenClock
from tests.statuspage.conftest import html_of

_fresh = count()


def forced(client: FlaskClient) -> str:
    """`/` rendered again (a query string the whole-page cache has not seen)."""
    return str(html_of(client, f"/?n={next(_fresh)}"))


def row_of(page: str, component_id: str) -> str:
    found = re.search(rf'<li class="component" data-component="{component_id}".*?</li>', page, re.S)
    assert found, component_id
    return found.group(0)


@pytest.fixture
def db(public_settings: Settings, seeded: dict[str, int]) -> Iterator[Database]:
    database = connect(public_settings.database)
    yield database
    database.conn.close()


@pytest.fixture
def rows(pc: FlaskClient, public_app: Flask) -> RowCache:
    forced(pc)  # the first render draws every row
    cache: RowCache = public_app.extensions["upwatch_row_cache"]
    return cache


def cold_render(public_settings: Settings, clock: FrozenClock) -> str:
    app = create_app(public_settings)
    app.config["UPWATCH_CLOCK"] = clock
    return forced(app.test_client())


def test_unchanged_rows_are_reused(pc: FlaskClient, rows: RowCache) -> None:
    drawn = rows.rendered
    assert drawn == 5
    first, second = forced(pc), forced(pc)
    assert rows.rendered == drawn and first == second


def test_a_row_changes_when_its_status_changes(
    pc: FlaskClient, rows: RowCache, db: Database, clock: FrozenClock, public_settings: Settings
) -> None:
    before = forced(pc)
    drawn = rows.rendered
    with db.atomic():
        db.execute(
            "UPDATE component_status SET status = 'major_outage', updated_at = ? WHERE component_id = 'web'",
            [to_iso(clock())],
        )
    page = forced(pc)
    assert rows.rendered == drawn + 1
    assert 'data-status="major_outage"' in row_of(page, "web") and "Major outage" in row_of(page, "web")
    assert row_of(page, "backups") == row_of(before, "backups")
    assert page == cold_render(public_settings, clock)


def test_a_row_changes_when_todays_bar_changes(
    pc: FlaskClient, rows: RowCache, db: Database, clock: FrozenClock, public_settings: Settings
) -> None:
    now = clock()
    today = now.strftime("%d %b %Y")
    assert f"<title>{today} · 100% uptime · no incidents</title>" in row_of(forced(pc), "web")
    drawn = rows.rendered
    # The website was down for half an hour this morning (recorded by evaluation; the
    # status shown now is operational again, so only today's bar and the uptime change).
    with db.atomic():
        db.execute(
            "UPDATE component_status_history SET ended_at = ? WHERE component_id = 'web' AND ended_at IS NULL",
            [to_iso(now - timedelta(hours=2))],
        )
        for status, start, end in (
            ("major_outage", now - timedelta(hours=2), now - timedelta(hours=1, minutes=30)),
            ("operational", now - timedelta(hours=1, minutes=30), None),
        ):
            db.execute(
                "INSERT INTO component_status_history (component_id, status, started_at, ended_at)"
                " VALUES ('web', ?, ?, ?)",
                [status, to_iso(start), to_iso(end) if end else None],
            )
    refresh_component_days(db, now)
    page = forced(pc)
    assert rows.rendered == drawn + 1, "only the website's row is redrawn: no past day changed"
    web = row_of(page, "web")
    assert re.search(rf'class="d-major"><title>{today} · 95\.83% uptime · no incidents</title>', web), web
    assert page == cold_render(public_settings, clock)


def test_rows_change_when_a_past_day_is_recomputed(
    pc: FlaskClient, rows: RowCache, db: Database, clock: FrozenClock, public_settings: Settings
) -> None:
    now = clock()
    start = now - timedelta(days=5, hours=2)
    day = start.strftime("%d %b %Y")
    assert "maintenance (not counted)" not in row_of(forced(pc), "web")
    drawn = rows.rendered
    clock.advance(minutes=1)  # rollups stamp the past days' version with their clock
    now = clock()
    # A maintenance window recorded after the fact, five days back: rollups rewrite that day.
    with db.atomic():
        cursor = db.execute(
            "INSERT INTO maintenances (title, body, status, scheduled_for, scheduled_until, started_at,"
            " completed_at, created_at, updated_at) VALUES ('Switch swap', '', 'completed', ?, ?, ?, ?, ?, ?)",
            [to_iso(start), to_iso(start + timedelta(hours=1)), to_iso(start),
             to_iso(start + timedelta(hours=1)), to_iso(now), to_iso(now)],
        )  # fmt: skip
        db.execute(
            "INSERT INTO maintenance_components (maintenance_id, component_id) VALUES (?, 'web')",
            [cursor.lastrowid],
        )
    refresh_component_days(db, now)
    page = forced(pc)
    assert rows.rendered == drawn + 5, "the past days' version moved: every row is redrawn"
    assert re.search(
        rf"<title>{day} · 100% uptime · maintenance \(not counted\) · no incidents</title>", page
    )
    assert page == cold_render(public_settings, clock)


@pytest.mark.parametrize(
    ("days", "text"),
    [
        ([date(2026, 11, 7)], "07 Nov 2026"),
        ([date(2026, 11, 7), date(2026, 11, 8)], "07–08 Nov 2026 (2 days)"),
        ([date(2026, 9, 30), date(2026, 10, 1)], "30 Sep – 01 Oct 2026 (2 days)"),
        ([date(2025, 12, 31), date(2026, 1, 1)], "31 Dec 2025 – 01 Jan 2026 (2 days)"),
        ([date(2026, 9, 4), date(2026, 9, 5), date(2026, 9, 7)], "04–05 Sep 2026, 07 Sep 2026 (3 days)"),
    ],
)
def test_day_ranges_name_each_year_and_month_once_per_run(days: list[date], text: str) -> None:
    assert _day_ranges(days) == text

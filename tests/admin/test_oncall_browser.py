"""The on-call pages in a real headless Chromium at phone width (390 px) and desktop, light and
dark: the admin schedule list and timeline, schedule and responder forms (a responder of the
file and one made here, the new-responder form), and the public confirmation page of an
acknowledge link. axe-core finds no violations, no console errors or CSP violations, nothing scrolls
sideways, every form control has a label."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from flask import Flask
from werkzeug.serving import make_server

from statuspage.oncall import paging, responder_edits, schedule_edits
from statuspage.settings import Settings
from statuspage.storage import incidents as incident_store
from statuspage.storage.transaction import immediate
from tests.adminkit import PASSWORD
from tests.browser import CHROMIUM, Browser, Page, axe_violations, connect_page
from tests.statuspage.oncall.test_paging_links import ONCALL

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHECK = """(() => {
  const unlabeled = [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
    .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim());
  return {h1: document.querySelectorAll('h1').length, unlabeled: unlabeled.length,
          overflow: document.documentElement.scrollWidth > document.documentElement.clientWidth,
          lang: document.documentElement.lang};
})()"""


OPEN_ALL = "document.querySelectorAll('details').forEach(d => d.open = true)"
EXPECTED = {"h1": 1, "unlabeled": 0, "overflow": False, "lang": "en"}


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(**ONCALL)


@pytest.fixture
def server(app: Flask, make_user: Any, db: Any, settings: Settings, clock: Any) -> Iterator[tuple[str, str]]:
    make_user("alice")
    with immediate(db):
        incident_id = incident_store.insert_incident(
            db, title="API down", impact="major", components={"api": "major_outage"}, body="Looking.",
            actor="engine", now=clock(),
        )  # fmt: skip
        ack = paging.action_urls(db, settings, incident_id, "alice", clock())["acknowledge"]
    nights = {"name": "Nights", "tz": "America/New_York", "layers": [
        {"name": "base", "responders": ["carol", "bob"], "shift": "1d", "start": "2026-11-20"},
        {"name": "office", "responders": ["alice"], "shift": "1w", "start": "2026-11-23",
         "restrict": {"weekdays": ["mon", "tue"], "hours": "09:00-17:00"}}]}  # fmt: skip
    schedule_edits.create(db, settings, "nights", nights, "alice", "", clock())
    make_user("dave")  # made a responder here; erin is an account that could be one
    make_user("erin")
    responder_edits.create(db, settings, "dave", "Dave D.", "alice", "", clock())
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", urlsplit(ack).path
    httpd.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed; scripts/test-setup.sh installs it (make test runs it)")
    instance = Browser()
    yield instance
    instance.close()


async def _submit(page: Page, script: str) -> None:
    page.load_event.clear()
    await page.evaluate(script)
    await asyncio.wait_for(page.load_event.wait(), 30)


async def test_oncall_pages_at_phone_and_desktop_width(server: tuple[str, str], browser: Browser) -> None:
    base, ack_path = server
    async with aiohttp.ClientSession() as session:
        page = await connect_page(session, browser)
        try:
            await page.open(f"{base}{ack_path}", 390, 844, True)
            assert page.errors() == [] and await page.evaluate(CHECK) == EXPECTED
            assert await axe_violations(page) == []
            await page.screenshot(ARTIFACTS / "oncall-ack-phone.png", 390, True)

            await page.open(f"{base}/admin/login?next=/admin/oncall", 390, 844, True)
            await _submit(
                page,
                "document.querySelector('input[name=name]').value='alice';"
                f"document.querySelector('input[name=password]').value='{PASSWORD}';"
                "document.querySelector('form.stack').submit()",
            )
            pages = (
                ("/admin/oncall", "oncall"),
                ("/admin/oncall/primary", "oncall-schedule"),
                ("/admin/oncall/nights", "oncall-schedule-admin"),
                ("/admin/oncall/new-schedule", "oncall-new-schedule"),
                ("/admin/oncall/responders/bob", "oncall-responder"),
                ("/admin/oncall/new-responder", "oncall-new-responder"),
                ("/admin/oncall/responders/dave", "oncall-responder-admin"),
            )
            for path, name in pages:
                for width, height, mobile, dark in ((1280, 900, False, True), (390, 844, True, False)):
                    await page.open(f"{base}{path}", width, height, mobile, dark=dark)
                    assert await page.evaluate("location.pathname") == path
                    await page.evaluate(OPEN_ALL)  # the forms folded in <details> are checked too
                    assert page.errors() == [], (path, width)
                    assert await page.evaluate(CHECK) == EXPECTED, (path, width)
                    assert await axe_violations(page) == [], (path, width)
                await page.screenshot(ARTIFACTS / f"{name}-phone.png", 390, True)
            # A refused form: errors summarised at the top and next to their fields, still accessible.
            await page.open(f"{base}/admin/oncall/new-schedule", 390, 844, True)
            await _submit(
                page,
                "document.querySelector('#s-id').value='nights2';"
                "document.querySelector('#s-tz').value='Mars/Olympus';"
                "document.querySelector('#lnew-name').value='base';"
                "document.querySelector('#s-form').submit()",
            )
            assert await page.evaluate("document.querySelectorAll('.field-error').length") >= 2
            assert page.errors() == [] or all("422" in e for e in page.errors())
            assert await page.evaluate(CHECK) == EXPECTED
            assert await axe_violations(page) == []
            await page.screenshot(ARTIFACTS / "oncall-new-schedule-errors-phone.png", 390, True)
            await page.open(f"{base}/admin/oncall/responders/bob", 390, 844, True)
            await _submit(
                page,
                "document.querySelector('#contact-0-address').value='';"
                "document.querySelector('#rule-1-after').value='soon';"
                "document.querySelector('#responder-form button[value=save]').click()",
            )
            assert await page.evaluate("document.querySelectorAll('.field-error').length") >= 1
            assert await page.evaluate(CHECK) == EXPECTED
            assert await axe_violations(page) == []
            await page.screenshot(ARTIFACTS / "oncall-responder-errors-phone.png", 390, True)
            await page.open(f"{base}/admin/oncall/new-responder", 390, 844, True)
            await _submit(
                page,
                "document.querySelector('#r-display_name').value='x'.repeat(101);"
                "document.querySelector('#r-form').submit()",
            )
            assert await page.evaluate("document.querySelectorAll('.field-error').length") == 1
            assert await page.evaluate(CHECK) == EXPECTED
            assert await axe_violations(page) == []
            await page.screenshot(ARTIFACTS / "oncall-new-responder-errors-phone.png", 390, True)
        finally:
            await page.close()

"""The public confirmation page of a signed approve link, and the page after approving, in a real
headless Chromium at phone width (390 px, light) and desktop (dark): axe-core finds no
violations, no console errors or CSP violations, nothing scrolls sideways, the button is labelled."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from flask import Flask
from werkzeug.serving import make_server

from statuspage.responses import service
from statuspage.responses.links import approval_urls
from statuspage.settings import Settings
from statuspage.storage import incidents as incident_store
from statuspage.storage.transaction import immediate
from tests.admin.test_oncall_browser import CHECK, EXPECTED
from tests.browser import CHROMIUM, Browser, axe_violations, connect_page
from tests.statuspage.oncall.test_paging_links import ONCALL

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    rule = {"id": "restart-on-outage", "action": "restart-api", "component": "api", "require_approval": True}
    return make_settings(**ONCALL, responses={"rules": [rule]})


@pytest.fixture
def server(app: Flask, db: Any, settings: Settings, clock: Any) -> Iterator[tuple[str, str]]:
    with immediate(db):
        incident_id = incident_store.insert_incident(
            db, title="API down", impact="major", components={"api": "major_outage"}, body="Looking.",
            actor="engine", now=clock(),
        )  # fmt: skip
        service.place_order(
            db, incident_id=incident_id, agent_name="edge-1", action_id="restart-api", requested_by="engine",
            now=clock(), expires_after=timedelta(minutes=5), rule_id="restart-on-outage", require_approval=True,
        )  # fmt: skip
        [approval] = approval_urls(db, settings, incident_id, "alice", clock())
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", urlsplit(approval["url"]).path
    httpd.shutdown()
    thread.join(timeout=5)


async def test_approve_link_pages_at_phone_and_desktop_width(server: tuple[str, str]) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed; scripts/test-setup.sh installs it (make test runs it)")
    base, path = server
    browser = Browser()
    try:
        async with aiohttp.ClientSession() as session:
            page = await connect_page(session, browser)
            try:
                for width, height, mobile, dark in ((1280, 900, False, True), (390, 844, True, False)):
                    await page.open(f"{base}{path}", width, height, mobile, dark=dark)
                    assert "Approve restart-api on edge-1?" in await page.evaluate("document.title")
                    assert page.errors() == [] and await page.evaluate(CHECK) == EXPECTED, width
                    assert await axe_violations(page) == [], width
                await page.screenshot(ARTIFACTS / "response-approve-phone.png", 390, True)
                page.load_event.clear()
                await page.evaluate("document.querySelector('form').submit()")
                await asyncio.wait_for(page.load_event.wait(), 30)
                assert "Approved" in await page.evaluate("document.querySelector('h1').textContent")
                assert page.errors() == [] and await page.evaluate(CHECK) == EXPECTED
                assert await axe_violations(page) == []
            finally:
                await page.close()
    finally:
        browser.close()

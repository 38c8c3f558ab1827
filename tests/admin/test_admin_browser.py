"""The admin UI in a real headless Chromium: sign in through the form, open every page, act on an
incident. No console errors, no CSP violations (the pages use no inline script or style)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from flask import Flask
from werkzeug.serving import make_server

from statuspage import incidents as service
from tests.adminkit import PASSWORD
from tests.browser import CHROMIUM, Browser, Page, connect_page

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PAGES = ["/admin/", "/admin/incidents", "/admin/maintenance", "/admin/components", "/admin/agents",
         "/admin/subscribers", "/admin/tokens", "/admin/audit", "/admin/account"]  # fmt: skip


@pytest.fixture
def server(app: Flask, make_user: Any, db: Any, settings: Any, clock: Any) -> Iterator[str]:
    make_user("alice")
    service.create_incident(db, settings, title="API errors", body="Looking **into** it", actor="op",
                            now=clock(), components={"api": "major_outage"})  # fmt: skip
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
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
    """Run `script` (which submits a form) and wait for the next page to load."""
    page.load_event.clear()
    page.events.clear()
    await page.evaluate(script)
    await asyncio.wait_for(page.load_event.wait(), 30)


async def test_admin_in_a_real_browser(server: str, browser: Browser) -> None:
    async with aiohttp.ClientSession() as session:
        page = await connect_page(session, browser)
        try:
            await page.open(f"{server}/admin/incidents", 1280, 900, False)
            assert await page.evaluate("location.pathname") == "/admin/login"
            assert page.errors() == []
            await _submit(
                page,
                "document.querySelector('input[name=name]').value='alice';"
                f"document.querySelector('input[name=password]').value='{PASSWORD}';"
                "document.querySelector('form.stack').submit()",
            )
            assert await page.evaluate("location.pathname") == "/admin/incidents"
            for path in PAGES:
                await page.open(f"{server}{path}", 1280, 900, False)
                assert page.errors() == [], path
                assert await page.evaluate("document.querySelector('h1') !== null"), path
            await page.open(f"{server}/admin/incidents/1", 1280, 900, False)
            await _submit(page, "document.querySelector(\"form[action$='/acknowledge'] button\").click()")
            assert await page.evaluate("document.querySelector('.notice').textContent") == "Acknowledged."
            assert page.errors() == []
            await page.screenshot(ARTIFACTS / "admin-incident.png", 1280, False)
        finally:
            await page.close()

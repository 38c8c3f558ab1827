"""Every public and admin page in a real headless Chromium with axe-core injected over CDP:
zero violations (WCAG 2.1 A/AA and axe's best practices) in light and dark, no console errors,
no sideways scroll at 390 px. One screenshot per page kind goes to test-artifacts/screenshots/ (gitignored)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from flask import Flask
from werkzeug.serving import make_server

from statuspage import create_app
from statuspage import incidents as service
from statuspage.admin.accounts import create_user
from statuspage.db import connect
from statuspage.settings import load_settings
from tests.adminkit import PASSWORD, fast_argon2  # noqa: F401 - fixture
from tests.browser import CHROMIUM, Browser, Page, axe_violations, connect_page
from tests.conftest import FrozenClock
from tests.statuspage.public_data import PUBLIC_CONFIG, seed

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PUBLIC = ["/", "/history", "/subscribe", "/incidents/{resolved}", "/incidents/{open}"]
ADMIN = ["/admin/", "/admin/incidents", "/admin/incidents/{open}", "/admin/maintenance", "/admin/components",
         "/admin/agents", "/admin/subscribers", "/admin/reports", "/admin/drills", "/admin/tokens",
         "/admin/audit", "/admin/account"]  # fmt: skip
OVERFLOW = "document.documentElement.scrollWidth > document.documentElement.clientWidth"


@pytest.fixture
def site(tmp_path: Path, clock: FrozenClock) -> Iterator[tuple[str, dict[str, int]]]:
    config = {**PUBLIC_CONFIG, "subscriptions": {"webhooks": True}}
    settings = load_settings(environ={}, **config, database=str(tmp_path / "ui.db"))
    app: Flask = create_app(settings)
    app.config["UPWATCH_CLOCK"] = clock
    db = connect(settings.database)
    try:
        ids = seed(db, clock())
        create_user(db, "alice", PASSWORD, clock())
        ids["open"] = service.create_incident(db, settings, title="API errors", body="Looking **into** it",
                                              actor="alice", now=clock(), impact="major",
                                              components={"api": "partial_outage"})  # fmt: skip
    finally:
        db.conn.close()
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", ids
    httpd.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed; scripts/test-setup.sh installs it (make test runs it)")
    instance = Browser()
    yield instance
    instance.close()


async def sign_in(page: Page, base: str) -> None:
    await page.open(f"{base}/admin/login", 1280, 900, False)
    page.load_event.clear()
    await page.evaluate(
        "document.querySelector('input[name=name]').value='alice';"
        f"document.querySelector('input[name=password]').value='{PASSWORD}';"
        "document.querySelector('form.stack').submit()"
    )
    await page.load_event.wait()
    assert await page.evaluate("location.pathname") == "/admin/"


def shot_name(path: str) -> str:
    name = path.strip("/").replace("/", "-") or "status"
    return name.replace("{", "").replace("}", "")


async def test_every_page_passes_axe(site: tuple[str, dict[str, int]], browser: Browser) -> None:
    base, ids = site
    failures: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        page = await connect_page(session, browser)
        try:
            await sign_in(page, base)
            for template in PUBLIC + ADMIN:
                path = template.format(**ids)
                for dark in (False, True):
                    await page.open(f"{base}{path}", 1280, 900, False, dark=dark)
                    label = f"{path} {'dark' if dark else 'light'}"
                    if page.errors():
                        failures[f"{label} console"] = page.errors()
                    found = await axe_violations(page)
                    if found:
                        failures[label] = found
                    if not dark:
                        await page.screenshot(SCREENSHOTS / f"{shot_name(template)}-desktop.png", 1280, False)
                await page.open(f"{base}{path}", 390, 844, True)
                if await page.evaluate(OVERFLOW):
                    failures[f"{path} 390px"] = "scrolls sideways"
                await page.screenshot(SCREENSHOTS / f"{shot_name(template)}-phone.png", 390, True)
        finally:
            await page.close()
    report = "\n".join(f"{where}: {what}" for where, what in failures.items())
    assert not failures, report

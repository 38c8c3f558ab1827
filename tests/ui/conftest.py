"""A live app over the public data set plus an operator and an open incident, and one Chromium."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from statuspage import create_app
from statuspage import incidents as service
from statuspage.admin.accounts import create_user
from statuspage.db import connect
from statuspage.settings import load_settings
from statuspage.storage import demo_mail
from tests.adminkit import PASSWORD, fast_argon2  # noqa: F401 - fixture
from tests.browser import CHROMIUM, Browser, Page
from tests.conftest import FrozenClock
from tests.statuspage.public_data import PUBLIC_CONFIG, seed

OVERFLOW = "document.documentElement.scrollWidth > document.documentElement.clientWidth"
INCIDENTS = ["API errors", "Checkout slow", "Logins fail", "Search down"]


@pytest.fixture
def site(tmp_path: Path, clock: FrozenClock) -> Iterator[tuple[str, dict[str, int]]]:
    # SMTP configured (never reached: no worker runs here), so /subscribe offers email first.
    smtp = {"host": "127.0.0.1", "port": 9, "security": "none"}
    config = {**PUBLIC_CONFIG, "subscriptions": {"webhooks": True}, "smtp": smtp}
    settings = load_settings(environ={}, **config, database=str(tmp_path / "ui.db"))
    app: Flask = create_app(settings)
    app.config["UPWATCH_CLOCK"] = clock
    db = connect(settings.database)
    try:
        ids = seed(db, clock())
        create_user(db, "alice", PASSWORD, clock())
        body = "Confirm your subscription: https://status.acme.test/subscribe/confirm/abc\n"
        ids["mail"] = demo_mail.store(db, "status@localhost", ["bob@example.com"], "Confirm", body, clock())
        for n, title in enumerate(INCIDENTS):
            incident_id = service.create_incident(db, settings, title=title, body="Looking **into** it",
                                                  actor="engine", now=clock(), impact="major",
                                                  components={"api": "partial_outage"})  # fmt: skip
            ids["open" if n == 0 else f"open{n}"] = incident_id
    finally:
        db.conn.close()
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", ids
    httpd.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="package")
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

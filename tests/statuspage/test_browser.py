"""A real headless Chromium loads `/` and an incident page at desktop and phone widths (and `/`
in dark mode): no console errors, no CSP violations or failed loads, key elements visible.
Screenshots go to test-artifacts/ (gitignored) for people to look at."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.browser import CHROMIUM, Browser, connect_page

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = (1280, 900, False)
PHONE = (390, 844, True)

VISIBLE = """(() => {
  const shown = (sel) => [...document.querySelectorAll(sel)].filter(e => {
    const r = e.getBoundingClientRect(); const s = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
  }).length;
  const overflow = document.documentElement.scrollWidth > document.documentElement.clientWidth;
  return {banner: shown('.banner h1'), components: shown('.component'), bars: shown('svg.bars'),
          incidents: shown('article.incident'), maintenance: shown('article.maintenance'),
          timeline: shown('.timeline .update'), title: shown('#incident-title'),
          postmortem: shown('.postmortem'), overflow, bg: getComputedStyle(document.body).backgroundColor};
})()"""


@pytest.fixture
def server(public_app: Flask, seeded: dict[str, int]) -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, public_app, threaded=True)
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


async def test_pages_in_a_real_browser(server: str, seeded: dict[str, int], browser: Browser) -> None:
    incident_url = f"{server}/incidents/{seeded['resolved']}"
    async with aiohttp.ClientSession() as session:
        page = await connect_page(session, browser)
        try:
            for name, (width, height, mobile) in (("desktop", DESKTOP), ("phone", PHONE)):
                await page.open(f"{server}/", width, height, mobile)
                assert page.errors() == [], f"/ at {name}"
                seen = await page.evaluate(VISIBLE)
                assert seen["banner"] == 1 and seen["components"] == 5 and seen["bars"] == 5, seen
                assert seen["incidents"] == 1 and seen["maintenance"] == 2, seen
                assert not seen["overflow"], f"/ scrolls sideways at {name}"
                await page.screenshot(ARTIFACTS / f"status-{name}.png", width, mobile)

                await page.open(incident_url, width, height, mobile)
                assert page.errors() == [], f"incident at {name}"
                seen = await page.evaluate(VISIBLE)
                assert seen["title"] == 1 and seen["timeline"] == 3 and seen["postmortem"] == 1, seen
                assert not seen["overflow"], f"incident page scrolls sideways at {name}"
                await page.screenshot(ARTIFACTS / f"incident-{name}.png", width, mobile)

            await page.open(f"{server}/", *DESKTOP, dark=True)
            assert page.errors() == []
            dark = await page.evaluate(VISIBLE)
            assert dark["bg"] == "rgb(13, 17, 23)", "prefers-color-scheme: dark is not applied"
            await page.screenshot(ARTIFACTS / "status-desktop-dark.png", DESKTOP[0], False)
        finally:
            await page.close()
    for shot in (
        "status-desktop",
        "status-phone",
        "incident-desktop",
        "incident-phone",
        "status-desktop-dark",
    ):
        assert (ARTIFACTS / f"{shot}.png").stat().st_size > 10_000

"""Every public and admin page in a real headless Chromium with axe-core injected over CDP:
zero violations (WCAG 2.1 A/AA and axe's best practices) in light and dark, no console errors,
no sideways scroll at 390 px. One screenshot per page kind goes to test-artifacts/screenshots/ (gitignored)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from tests.browser import Browser, axe_violations, connect_page
from tests.ui.conftest import OVERFLOW, sign_in

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PUBLIC = ["/", "/history", "/subscribe", "/incidents/{resolved}", "/incidents/{open}"]
ADMIN = ["/admin/", "/admin/incidents", "/admin/incidents/{open}", "/admin/maintenance", "/admin/components",
         "/admin/agents", "/admin/subscribers", "/admin/reports", "/admin/drills", "/admin/tokens",
         "/admin/audit", "/admin/account", "/admin/checks/api-health", "/admin/mail/{mail}",
         "/admin/responses"]  # fmt: skip


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

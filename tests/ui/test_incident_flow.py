"""The responder's flow in a real Chromium, as a person does it: on the dashboard acknowledge
(one click), post an update, then resolve with an edited public message (open "Resolve…",
press "Resolve incident": two clicks). At 1280 and 390 px, light and dark: no console
errors, no sideways scroll, and the public page shows the closing message."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from tests.browser import Browser, Page, connect_page
from tests.ui.conftest import INCIDENTS, OVERFLOW, sign_in
from tests.ui.test_pages_axe import SCREENSHOTS

VIEWS = [(1280, 900, False, False), (1280, 900, False, True), (390, 844, True, False), (390, 844, True, True)]


async def _click(page: Page, selector: str) -> None:
    """Click `selector` and wait for the page the form posts to."""
    page.load_event.clear()
    page.events.clear()
    await page.evaluate(f"document.querySelector({json.dumps(selector)}).click()")
    await asyncio.wait_for(page.load_event.wait(), 30)


async def _checked(page: Page, where: str) -> None:
    assert page.errors() == [], where
    assert not await page.evaluate(OVERFLOW), f"{where} scrolls sideways"


async def test_acknowledge_update_resolve_from_the_dashboard(
    site: tuple[str, dict[str, int]], browser: Browser
) -> None:
    base, ids = site
    open_ids = [ids["open"], ids["open1"], ids["open2"], ids["open3"]]
    async with aiohttp.ClientSession() as session:
        page = await connect_page(session, browser)
        try:
            await sign_in(page, base)
            for incident_id, title, (width, height, mobile, dark) in zip(
                open_ids, INCIDENTS, VIEWS, strict=True
            ):
                where = f"{width}px {'dark' if dark else 'light'}"
                card = f"article[aria-labelledby='incident-{incident_id}']"
                await page.open(f"{base}/admin/", width, height, mobile, dark=dark)
                await _checked(page, where)
                assert await page.evaluate(
                    f"document.querySelector(\"{card} .on-it\").textContent.includes('Nobody')"
                )

                await _click(page, f"{card} form[action$='/acknowledge'] button")  # one click
                await _checked(page, where)
                assert await page.evaluate("document.querySelector('.notice').textContent") == "Acknowledged."
                on_it = await page.evaluate(f'document.querySelector("{card} .on-it").textContent')
                assert "alice is on it" in on_it, on_it

                await page.evaluate(
                    f'document.querySelector("{card} details[id^=update]").open = true;'
                    f"document.querySelector(\"{card} select[name=status]\").value = 'identified';"
                    f"document.querySelector(\"{card} details[id^=update] textarea\").value = 'Found a bad deploy.'"
                )
                await _click(page, f"{card} details[id^=update] button[type=submit]")
                await _checked(page, where)
                assert (
                    await page.evaluate("document.querySelector('.notice').textContent") == "Update posted."
                )
                pills = await page.evaluate(f'document.querySelector("{card} .pill-row").textContent')
                assert "Identified" in pills, pills

                await page.evaluate(f'document.querySelector("{card} details[id^=resolve] summary").click()')
                message = await page.evaluate(
                    f'document.querySelector("{card} details[id^=resolve] textarea").value'
                )
                assert message.startswith("This incident has been resolved: Public API"), message
                await page.evaluate(
                    f'document.querySelector("{card} details[id^=resolve] textarea").value = '
                    f"{json.dumps(message + ' Sorry, ' + title + '.')}"
                )
                if width == 390 and not dark:
                    await page.screenshot(SCREENSHOTS / "admin-dashboard-resolving-phone.png", width, mobile)
                await _click(page, f"{card} details[id^=resolve] button.danger")
                await _checked(page, where)
                assert (
                    await page.evaluate("document.querySelector('.notice').textContent")
                    == "Incident resolved."
                )
                assert not await page.evaluate(f'document.querySelector("{card}") !== null')

                await page.open(f"{base}/incidents/{incident_id}", width, height, mobile, dark=dark)
                await _checked(page, where)
                text = await page.evaluate("document.querySelector('.timeline').textContent")
                assert f"Sorry, {title}." in text and "Found a bad deploy." in text

            await page.open(f"{base}/admin/incidents/{open_ids[0]}", 1280, 900, False)
            timeline = await page.evaluate("document.querySelector('.timeline').textContent")
            assert "alice acknowledged" in timeline and "Investigating → Identified" in timeline
            assert "{" not in timeline and "_" not in timeline and "user:" not in timeline
            await page.screenshot(SCREENSHOTS / "admin-incident-resolved-desktop.png", 1280, False)
        finally:
            await page.close()

"""A small headless-Chromium driver over the DevTools protocol (one websocket, aiohttp).

Enough for page tests: set the viewport and colour scheme, load a URL, collect console
errors, uncaught exceptions and failed loads, evaluate an expression, take a full-page
screenshot. Chromium is Debian's `chromium` (scripts/test-setup.sh installs it).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
]


class Browser:
    """One Chromium process with a fresh profile; `page()` gives a DevTools session on a tab."""

    def __init__(self) -> None:
        self.profile = tempfile.mkdtemp(prefix="upwatch-chromium-")
        self.process = subprocess.Popen(  # noqa: S603
            [CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.port = self._wait_port()

    def _wait_port(self, timeout_s: float = 60.0) -> int:
        marker = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.process.returncode}")
            if marker.exists():
                text = marker.read_text().split()
                if text:
                    return int(text[0])
            time.sleep(0.05)
        raise RuntimeError("chromium did not open its DevTools port")

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=5)
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    """A DevTools session on the browser's first tab."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.load_event = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            elif "method" in data:
                self.events.append(data)
                if data["method"] == "Page.loadEventFired":
                    self.load_event.set()

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        command_id = next(self.ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[command_id] = future
        await self.ws.send_str(json.dumps({"id": command_id, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, 30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def open(self, url: str, width: int, height: int, mobile: bool, dark: bool = False) -> None:
        self.events.clear()
        self.load_event.clear()
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=mobile,
        )
        scheme = "dark" if dark else "light"
        await self.send(
            "Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": scheme}]
        )
        await self.send("Page.navigate", url=url)
        await asyncio.wait_for(self.load_event.wait(), 30)

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions, failed loads and CSP violations seen since `open`."""
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(str(params["exceptionDetails"].get("text")))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in params.get("args", []))
                )
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(
                    f"{params['entry'].get('source')}: {params['entry'].get('text')} {params['entry'].get('url', '')}"
                )
        return found

    async def evaluate(self, expression: str) -> Any:
        reply = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in reply:
            raise RuntimeError(f"evaluate failed: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    async def screenshot(self, path: Path, width: int, mobile: bool, max_height: int = 6000) -> None:
        metrics = await self.send("Page.getLayoutMetrics")
        height = min(int(metrics["cssContentSize"]["height"]) + 1, max_height)
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=mobile,
        )
        shot = await self.send("Page.captureScreenshot", format="png")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    async def close(self) -> None:
        self.reader.cancel()
        await self.ws.close()


async def connect_page(session: aiohttp.ClientSession, browser: Browser) -> Page:
    async with session.get(f"http://127.0.0.1:{browser.port}/json/list") as response:
        targets = await response.json()
    target = next(t for t in targets if t.get("type") == "page")
    ws = await session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)
    page = Page(ws)
    for domain in ("Page", "Runtime", "Log"):
        await page.send(f"{domain}.enable")
    return page


AXE_SOURCE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
# WCAG 2.x A and AA plus axe's best practices (empty-table-header, region, ...).
AXE_RUN = """axe.run(document, {resultTypes: ['violations'],
  runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})
  .then(r => r.violations.map(v => ({id: v.id, impact: v.impact,
     nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' :: ' + n.failureSummary.slice(0, 160))})))"""


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Inject the vendored axe-core (over DevTools, so the page's CSP does not apply) and run it.

    Returns the violations: id, impact and up to three offending nodes each.
    """
    if not await page.evaluate("typeof axe !== 'undefined'"):
        await page.send("Runtime.evaluate", expression=AXE_SOURCE.read_text())
    reply = await page.send("Runtime.evaluate", expression=AXE_RUN, awaitPromise=True, returnByValue=True)
    if "exceptionDetails" in reply:
        raise RuntimeError(f"axe failed: {reply['exceptionDetails']}")
    found: list[dict[str, Any]] = reply["result"]["value"]
    return found

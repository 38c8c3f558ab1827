"""The collector's agent API as seen from the agent: assignments and reports.

An agent may know several collectors (`collector_urls`, in order, all in front
of one database). Each call goes to the current one; a connection error, a
timeout or a 5xx moves the call on to the next URL at once (wrapping around,
each URL tried at most once per call), and later calls stay on the one that
answered. After `FAILBACK_S` on a later URL the first is tried again, so agents
drift back to the preferred collector once it is up. A report retried on
another collector is safe: results carry UUIDs, the collector stores each once
and acknowledges duplicates, so failover neither loses nor doubles a result.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp
from pydantic import ValidationError

from shared.schema import ActionResult, Assignments, Report, ReportAck

log = logging.getLogger(__name__)

_RESULT_LOC = re.compile(r"^results\.(\d+)(?:\.|$)")

# How long an agent stays on a fallback collector before trying the first again.
FAILBACK_S = 300.0

T = TypeVar("T")


class CollectorError(Exception):
    """A call to the collector failed. `permanent` says whether retrying can help.

    `refused` maps the index of a result in the report to the collector's reason,
    when the collector named the results it refused (their `details[].loc` is
    `results.N...`): those results are bad, the rest of the batch may be fine.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status: int | None = None,
        refused: dict[int, str] | None = None,
    ):
        super().__init__(message)
        self.permanent = permanent
        self.status = status
        self.refused = refused or {}

    @property
    def fails_over(self) -> bool:
        """True when another collector may answer: unreachable, timed out or a 5xx."""
        return self.status is None or self.status >= 500


class CollectorClient:
    """Talks to the collector (one URL, or several in order) with one bearer token.

    `base_url` is one URL or the ordered list of `collector_urls`. `monotonic`
    is the clock of the failback timer (injected by tests).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str | Sequence[str],
        token: str,
        timeout_s: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        if not urls:
            raise ValueError("at least one collector URL is needed")
        self._session = session
        self._base_urls = [url.rstrip("/") for url in urls]
        self._current = 0
        self._moved_at = 0.0
        self._monotonic = monotonic
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._pending_labels: str | None = None

    @property
    def current_url(self) -> str:
        """The collector the next call goes to first."""
        return self._base_urls[self._current]

    async def _call(self, attempt: Callable[[str], Awaitable[T]]) -> T:
        """Run `attempt(base_url)` on the current collector, failing over in order.

        Raises the last CollectorError when every URL failed over, or the first
        error that another collector cannot fix (a 4xx).
        """
        count = len(self._base_urls)
        if self._current and self._monotonic() - self._moved_at >= FAILBACK_S:
            self._switch(0)
        start = self._current
        for step in range(count):
            index = (start + step) % count
            try:
                value = await attempt(self._base_urls[index])
            except CollectorError as error:
                if not error.fails_over or step == count - 1:
                    raise
                log.warning("collector failed, next one url=%s error=%s", self._base_urls[index], error)
                continue
            if index != self._current:
                self._switch(index)
            return value
        raise AssertionError("unreachable: the loop returns or raises")

    def _switch(self, index: int) -> None:
        log.info("collector now url=%s", self._base_urls[index])
        self._current = index
        self._moved_at = self._monotonic()

    async def fetch_assignments(
        self, etag: str | None, labels: list[str] | None = None, actions: list[str] | None = None
    ) -> tuple[Assignments | None, str | None]:
        """Return (assignments, etag), or (None, etag) when unchanged since `etag`.

        `labels` are the agent's declared labels (UPWATCH_AGENT_LABELS). They can
        only narrow the labels the operator gave this agent's token; the collector
        names those no operator gave it (header `Upwatch-Pending-Labels`), and
        they select nothing until an operator approves them.
        `actions` are the ids of the remediation actions this host allows (ids
        only: their command lines never leave the host).
        """
        headers = dict(self._headers)
        if etag:
            headers["If-None-Match"] = etag
        params = {}
        if labels:
            params["labels"] = ",".join(labels)
        if actions:
            params["actions"] = ",".join(actions)
        query = "?" + urlencode(params) if params else ""

        async def attempt(base_url: str) -> tuple[Assignments | None, str | None]:
            return await self._fetch_assignments(f"{base_url}/api/v1/agent/assignments{query}", headers, etag)

        return await self._call(attempt)

    async def _fetch_assignments(
        self, url: str, headers: dict[str, str], etag: str | None
    ) -> tuple[Assignments | None, str | None]:
        try:
            async with self._session.get(url, headers=headers, timeout=self._timeout) as response:
                pending = response.headers.get("Upwatch-Pending-Labels")
                if pending and pending != self._pending_labels:  # once per change, not every refresh
                    log.warning(
                        "labels wait for an operator's approval on the collector pending=%s", pending[:500]
                    )
                self._pending_labels = pending
                if response.status == 304:
                    return None, etag
                body = await response.read()
                _raise_for_status(response.status, body)
                try:
                    assignments = Assignments.model_validate_json(body)
                except ValidationError as error:
                    raise CollectorError(f"bad assignments: {error}", permanent=False) from None
                return assignments, response.headers.get("ETag")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise CollectorError(f"cannot reach collector: {error!r}", permanent=False) from None

    async def send_action_result(self, result: ActionResult) -> None:
        """POST the result of one remediation order; returns once it is stored. Raises CollectorError."""
        body = result.model_dump_json().encode()

        async def attempt(base_url: str) -> None:
            url = f"{base_url}/api/v1/agent/action-results"
            headers = {**self._headers, "Content-Type": "application/json"}
            try:
                async with self._session.post(
                    url, data=body, headers=headers, timeout=self._timeout
                ) as response:
                    _raise_for_status(response.status, await response.read())
            except (aiohttp.ClientError, TimeoutError) as error:
                raise CollectorError(f"cannot reach collector: {error!r}", permanent=False) from None

        await self._call(attempt)

    async def send_report(self, report: Report) -> ReportAck:
        """POST a report; return the collector's acknowledgement. Raises CollectorError."""
        return await self.send_report_body(report.model_dump_json().encode())

    async def send_report_body(self, body: bytes) -> ReportAck:
        """POST an already serialized report (see `Report`). Raises CollectorError."""

        async def attempt(base_url: str) -> ReportAck:
            return await self._post_report(f"{base_url}/api/v1/agent/reports", body)

        return await self._call(attempt)

    async def _post_report(self, url: str, body: bytes) -> ReportAck:
        headers = {**self._headers, "Content-Type": "application/json"}
        try:
            async with self._session.post(url, data=body, headers=headers, timeout=self._timeout) as response:
                body = await response.read()
                _raise_for_status(response.status, body)
                try:
                    return ReportAck.model_validate_json(body)
                except ValidationError as error:
                    raise CollectorError(f"bad acknowledgement: {error}", permanent=False) from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise CollectorError(f"cannot reach collector: {error!r}", permanent=False) from None


def _raise_for_status(status: int, body: bytes) -> None:
    if status < 400:
        return
    details: list[Any] = []
    try:
        payload = json.loads(body)
        message = str(payload.get("error", ""))
        details = payload.get("details") or []
    except (ValueError, AttributeError):
        message = body[:200].decode("utf-8", "replace")
    refused = _refused_results(details) if isinstance(details, list) else {}
    # 401/403 may be fixed by an operator; 408/429 and 5xx are transient. Other 4xx
    # mean this exact report is bad and sending it again cannot succeed. A 403 that
    # names results (a check no longer assigned to us) is permanent for those results.
    permanent = 400 <= status < 500 and status not in (401, 403, 408, 429)
    raise CollectorError(
        f"collector answered {status}: {message}", permanent=permanent, status=status, refused=refused
    )


def _refused_results(details: list[Any]) -> dict[int, str]:
    refused: dict[int, str] = {}
    for item in details:
        if not isinstance(item, dict):
            continue
        match = _RESULT_LOC.match(str(item.get("loc", "")))
        if match:
            index = int(match.group(1))
            refused.setdefault(index, f"{item.get('loc')}: {item.get('msg', '')}")
    return refused

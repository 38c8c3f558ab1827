"""The collector's agent API as seen from the agent: assignments and reports."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

import aiohttp
from pydantic import ValidationError

from shared.schema import Assignments, Report, ReportAck

_RESULT_LOC = re.compile(r"^results\.(\d+)(?:\.|$)")


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


class CollectorClient:
    """Talks to one collector with one bearer token over the agent's shared session."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str, timeout_s: float):
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def fetch_assignments(
        self, etag: str | None, labels: list[str] | None = None
    ) -> tuple[Assignments | None, str | None]:
        """Return (assignments, etag), or (None, etag) when unchanged since `etag`.

        `labels` are the agent's declared labels (UPWATCH_AGENT_LABELS); the
        collector adds them to the labels given when its token was created.
        """
        headers = dict(self._headers)
        if etag:
            headers["If-None-Match"] = etag
        url = f"{self._base_url}/api/v1/agent/assignments"
        if labels:
            url += "?" + urlencode({"labels": ",".join(labels)})
        try:
            async with self._session.get(url, headers=headers, timeout=self._timeout) as response:
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

    async def send_report(self, report: Report) -> ReportAck:
        """POST a report; return the collector's acknowledgement. Raises CollectorError."""
        return await self.send_report_body(report.model_dump_json().encode())

    async def send_report_body(self, body: bytes) -> ReportAck:
        """POST an already serialized report (see `Report`). Raises CollectorError."""
        url = f"{self._base_url}/api/v1/agent/reports"
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

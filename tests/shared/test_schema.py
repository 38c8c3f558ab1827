"""The wire schema is strict: unknown fields, NaN, wrong types and oversized values are refused."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from shared.schema import Report, Result


def result(**overrides: Any) -> dict[str, Any]:
    data = {
        "id": str(uuid.uuid4()),
        "check_id": "api-health",
        "started_at": "2026-11-27T12:00:00+00:00",
        "latency_ms": 12.5,
        "status": "up",
        "metrics": {"status_code": 200.0},
    }
    data.update(overrides)
    return data


def report(**overrides: Any) -> dict[str, Any]:
    data = {
        "agent": "edge-1",
        "agent_version": "0.1.0",
        "sent_at": "2026-11-27T12:00:01+00:00",
        "results": [result()],
    }
    data.update(overrides)
    return data


def test_valid_report_round_trips() -> None:
    parsed = Report.model_validate(report())
    again = Report.model_validate_json(parsed.model_dump_json())
    assert again == parsed


@pytest.mark.parametrize(
    ("case", "data"),
    [
        ("unknown top-level field", report(extra=1)),
        ("unknown result field", report(results=[result(colour="red")])),
        ("NaN metric", report(results=[result(metrics={"x": float("nan")})])),
        ("infinite metric", report(results=[result(metrics={"x": float("inf")})])),
        ("NaN latency", report(results=[result(latency_ms=float("nan"))])),
        ("negative latency", report(results=[result(latency_ms=-1)])),
        ("bad status", report(results=[result(status="sideways")])),
        ("naive timestamp", report(sent_at="2026-11-27T12:00:00")),
        ("not a uuid", report(results=[result(id="123")])),
        ("check id with spaces", report(results=[result(check_id="a b")])),
        ("error too long", report(results=[result(error="x" * 1001)])),
        ("too many metrics", report(results=[result(metrics={f"m{i}": 1.0 for i in range(65)})])),
        ("detail value too long", report(results=[result(detail={"body": "x" * 2001})])),
        ("detail nested object", report(results=[result(detail={"body": {"a": 1}})])),
        ("too many results", report(results=[result() for _ in range(1001)])),
        ("agent name empty", report(agent="")),
        ("wrong protocol", report(protocol=2)),
    ],
)
def test_invalid_reports_are_refused(case: str, data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Report.model_validate(data)


def test_result_detail_accepts_scalars() -> None:
    parsed = Result.model_validate(result(detail={"status_code": 200, "ok": True, "note": None}))
    assert parsed.detail["status_code"] == 200

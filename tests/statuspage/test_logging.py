"""Structured logs: JSON lines that parse, request ids echoed and stamped on every record."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shared.logging_setup import JsonFormatter, RequestIdFilter, TextFormatter, logging_dict


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Capture every record as the JSON formatter writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


def records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture
def failing_app(app: Flask) -> Flask:
    def boom() -> str:
        logging.getLogger("statuspage.test").info("about to fail check=%s", "api")
        raise RuntimeError("boom")

    app.add_url_rule("/api/v1/boom", "boom", boom)
    app.config["TESTING"] = False
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        ("abc-123", "abc-123"),
        ("trace:7f/1=", "trace:7f/1="),
        ("x" * 128, "x" * 128),
        ("x" * 129, None),  # too long: replaced
        ("has space", None),
        ('quote"', None),
        ("", None),
    ],
)
def test_request_id_is_echoed_or_made(client: FlaskClient, sent: str, echoed: str | None) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": sent} if sent else {})
    got = response.headers["X-Request-ID"]
    if echoed is None:
        assert re.fullmatch(r"[0-9a-f]{32}", got)
    else:
        assert got == echoed


def test_every_response_has_a_request_id(client: FlaskClient) -> None:
    for path in ("/", "/healthz", "/nope", "/api/v1/agent/assignments"):
        assert client.get(path).headers.get("X-Request-ID"), path


def test_records_during_a_request_carry_its_id(failing_app: Flask, json_lines: io.StringIO) -> None:
    client = failing_app.test_client()
    response = client.get("/api/v1/boom", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "req-42"
    assert "Traceback" not in response.get_data(as_text=True)

    logged = records(json_lines)
    mine = [r for r in logged if r.get("request_id") == "req-42"]
    assert [r["message"] for r in mine][:1] == ["about to fail check=api"]
    error = next(r for r in mine if r["level"] == "ERROR")
    assert "RuntimeError: boom" in str(error["exc_info"])
    assert set(error) >= {"time", "level", "logger", "message", "request_id", "exc_info"}

    # After the request the id is gone: later records carry none.
    logging.getLogger("statuspage.test").warning("outside")
    assert "request_id" not in records(json_lines)[-1]


def test_json_lines_keep_extra_fields_and_odd_values(json_lines: io.StringIO) -> None:
    log = logging.getLogger("statuspage.test")
    log.info("ingest batch", extra={"accepted": 3, "agent": "edge-1", "when": object()})
    log.info('quote " and newline\n and unicode é')
    first, second = records(json_lines)
    assert first["accepted"] == 3 and first["agent"] == "edge-1" and "object" in str(first["when"])
    assert second["message"] == 'quote " and newline\n and unicode é'
    assert str(first["time"]).endswith("Z")


def test_gunicorn_access_records_become_fields() -> None:
    atoms = {
        "h": "127.0.0.1",
        "m": "POST",
        "U": "/api/v1/agent/reports",
        "q": "",
        "s": "200",
        "b": "120",
        "D": 4500,
        "a": "upwatch-agent/0.1",
        "{x-request-id}o": "load-1",
        "{authorization}i": "Bearer secret",
    }
    record = logging.LogRecord("gunicorn.access", logging.INFO, "x", 1, "%(m)s %(U)s", (atoms,), None)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["method"] == "POST" and entry["status"] == 200 and entry["duration_ms"] == 4.5
    assert entry["request_id"] == "load-1" and entry["bytes"] == 120
    assert "secret" not in json.dumps(entry)  # request headers are never dumped


def test_text_format_appends_the_request_id() -> None:
    record = logging.LogRecord("statuspage.x", logging.INFO, "x", 1, "hello", (), None)
    record.request_id = "r-1"
    assert TextFormatter().format(record).endswith("hello request_id=r-1")


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_logging_dict_configures_gunicorn_loggers_too(log_format: str) -> None:
    config = logging_dict(log_format, "WARNING")  # type: ignore[arg-type]
    assert config["root"]["level"] == "WARNING"
    assert set(config["loggers"]) == {"gunicorn.error", "gunicorn.access"}
    formatter = config["formatters"]["upwatch"]["()"]
    assert formatter is (JsonFormatter if log_format == "json" else TextFormatter)

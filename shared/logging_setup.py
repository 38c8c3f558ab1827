"""Log output for every upwatch process: plain text for a terminal, JSON lines for a log pipeline.

A JSON line is one object: `time` (ISO 8601 UTC, milliseconds), `level`, `logger`,
`message`, `request_id` when the record was written while serving a request,
`exc_info` (the traceback as text) when there is one, and any `extra={...}`
fields. gunicorn's access records become the same kind of object with `method`,
`path`, `status`, `duration_ms`, `bytes`, `remote` and `request_id` (taken from
the X-Request-ID response header, so it matches the application's records).

`logging_dict(format, level)` is a `logging.config.dictConfig` dict; the CLI
applies it with `configure_logging` and gunicorn takes it as `logconfig_dict`,
so the application, gunicorn's error log and its access log share one format.
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import re
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is echoed only when it is short and plain, so it cannot forge
# log structure or smuggle header content; otherwise a fresh one is made.
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
request_id_var: ContextVar[str | None] = ContextVar("upwatch_request_id", default=None)

# The text access line (the "combined" format plus duration and request id).
ACCESS_LOG_FORMAT = (
    '%(h)s - %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms request_id=%({x-request-id}o)s'
)

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}


def new_request_id() -> str:
    """32 random hex digits (the form of uuid4().hex, without building a UUID per request)."""
    return os.urandom(16).hex()


def accept_request_id(header_value: str | None) -> str:
    """The id to use for a request: the client's X-Request-ID if it is well formed, else a new one."""
    if header_value and REQUEST_ID_RE.match(header_value):
        return header_value
    return new_request_id()


class RequestIdFilter(logging.Filter):
    """Stamp each record with the current request's id (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record; never raises on odd `extra` values (they become strings)."""

    def format(self, record: logging.LogRecord) -> str:
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            entry = _access_entry(record, record.args)
        else:
            entry = {
                "time": _iso(record.created),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
            request_id = getattr(record, "request_id", None)
            if request_id:
                entry["request_id"] = request_id
            for key, value in record.__dict__.items():
                if key not in _RECORD_ATTRS and not key.startswith("_"):
                    entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The classic line, with ` request_id=...` appended inside a request."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        if request_id and record.name != "gunicorn.access":
            line += f" request_id={request_id}"
        return line


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at emit time (gunicorn and test runners replace it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _access_entry(record: logging.LogRecord, atoms: Mapping[str, Any]) -> dict[str, Any]:
    def atom(key: str) -> Any:
        value = atoms.get(key)
        return None if value in (None, "-") else value

    status = atom("s")
    duration_us = atom("D")
    size = atom("b")
    return {
        "time": _iso(record.created),
        "level": record.levelname,
        "logger": record.name,
        "message": record.getMessage(),
        "method": atom("m"),
        "path": atom("U"),
        "query": atom("q") or None,
        "status": int(status) if str(status).isdigit() else status,
        "duration_ms": round(int(duration_us) / 1000, 3) if duration_us is not None else None,
        "bytes": int(size) if str(size).isdigit() else None,
        "remote": atom("h"),
        "user_agent": atom("a"),
        "request_id": atom("{x-request-id}o"),
    }


def _iso(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def logging_dict(log_format: LogFormat = "text", level: LogLevel = "INFO") -> dict[str, Any]:
    """A dictConfig for the root logger and gunicorn's loggers, all to stderr in one format."""
    # dictConfig accepts the class object itself under "()", so no import path is needed.
    formatter_class = JsonFormatter if log_format == "json" else TextFormatter
    handler = {
        "()": StderrHandler,
        "formatter": "upwatch",
        "filters": ["request_id"],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"upwatch": {"()": formatter_class}},
        "handlers": {"stderr": handler},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        },
    }


def configure_logging(log_format: LogFormat = "text", level: LogLevel = "INFO") -> None:
    """Send every log record to stderr in the chosen format (replaces earlier handlers)."""
    logging.config.dictConfig(logging_dict(log_format, level))

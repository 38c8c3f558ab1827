"""Fixtures for notification tests: real SMTP and HTTP servers on loopback, settings wired to them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from statuspage.notify.delivery import DeliveryStats, deliver
from statuspage.settings import Settings
from tests.conftest import FrozenClock
from tests.statuspage.notify.servers import MailSink, Receiver, start_receiver, start_smtp


@pytest.fixture
def mail_sink() -> Iterator[MailSink]:
    sink = MailSink()
    controller, _port = start_smtp(sink)
    yield sink
    controller.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    server = start_receiver(found)
    yield found
    found.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def notify_settings(make_settings: Callable[..., Settings], mail_sink: MailSink) -> Callable[..., Settings]:
    """Settings whose [smtp] is the local sink and whose timeouts suit tests."""

    def factory(**overrides: Any) -> Settings:
        base: dict[str, Any] = {
            "page": {"name": "Test Status", "url": "http://status.example.com"},
            "smtp": {"host": "127.0.0.1", "port": mail_sink.port, "security": "none"},
            "notify": {"request_timeout_s": 1.0, "backoff_base_s": 30, "lease_s": 30},
        }
        base.update(overrides)
        return make_settings(**base)

    return factory


def run_delivery(settings: Settings, clock: FrozenClock) -> DeliveryStats:
    """Deliver everything due now, then return (what a worker's delivery thread does)."""
    return asyncio.run(deliver(settings, clock))

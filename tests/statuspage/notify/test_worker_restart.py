"""The real worker process is killed (SIGKILL) mid-delivery and restarted: every notification
arrives, each exactly once by its idempotency key (webhook-id / Message-ID)."""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path

from statuspage import incidents
from statuspage.db import open_and_migrate
from statuspage.notify import outbox, subscriptions
from statuspage.settings import load_settings
from tests.conftest import T0
from tests.helpers import BIN, start, stop, wait_for
from tests.statuspage.notify.servers import MailSink, Receiver

SUBSCRIBERS = 60
CONCURRENCY = 4


def test_killed_worker_loses_nothing_and_sends_each_once(
    tmp_path: Path, receiver: Receiver, mail_sink: MailSink
) -> None:
    receiver.delay_s = 0.08
    mail_sink.delay_s = 0.04
    config = tmp_path / "upwatch.toml"
    config.write_text(
        f'database = "{tmp_path / "upwatch.db"}"\n'
        '[page]\nname = "Kill Test"\nurl = "http://status.example.com"\n'
        '[[components]]\nid = "api"\nname = "API"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {mail_sink.port}\nsecurity = "none"\nmax_connections = 1\n'
        f"[notify]\nconcurrency = {CONCURRENCY}\nrequest_timeout_s = 5\nlease_s = 3\nbackoff_base_s = 1\n"
    )
    settings = load_settings(environ={}, config=str(config))
    db = open_and_migrate(settings.database)
    for i in range(SUBSCRIBERS):
        db.execute(
            "INSERT INTO subscribers (email, status, unsubscribe_token, created_at) VALUES (?, 'confirmed', ?, ?)",
            [f"user{i}@example.com", f"se_token{i}", "2026-11-27T00:00:00.000+00:00"],
        )
        subscriptions.create_webhook_subscription(db, settings, receiver.url(f"/ok/{i}"), [], T0)
    incidents.create_incident(db, settings, title="API down", body="b", actor="ops", now=T0)

    env = {"UPWATCH_CONFIG": str(config)}
    first = start([str(BIN / "upwatch-statuspage"), "worker"], env, tmp_path / "worker1.log")
    try:
        wait_for(
            lambda: len(receiver.hits) >= 15 and len(mail_sink.mails) >= 5, timeout_s=60, interval_s=0.02
        )
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        at_kill = (len(receiver.hits), len(mail_sink.mails))
        assert at_kill[0] < SUBSCRIBERS and at_kill[1] < SUBSCRIBERS, "the kill came after delivery finished"
    finally:
        stop(first)

    second = start([str(BIN / "upwatch-statuspage"), "worker"], env, tmp_path / "worker2.log")
    try:
        wait_for(
            lambda: outbox.counts(db)["pending"] == 0 and outbox.counts(db)["delivered"] > 0, timeout_s=90
        )
    finally:
        stop(second)

    assert outbox.counts(db) == {"pending": 0, "delivered": 2 * SUBSCRIBERS, "failed": 0}
    webhook_ids = Counter(hit.headers["webhook-id"] for hit in receiver.hits)
    assert len(webhook_ids) == SUBSCRIBERS  # every notification arrived
    mail_ids = Counter((mail.recipients[0], mail.message["Message-ID"]) for mail in mail_sink.mails)
    assert len(mail_ids) == SUBSCRIBERS and len({r for r, _ in mail_ids}) == SUBSCRIBERS
    # Only what was in flight at the kill can arrive twice, and with the same idempotency key,
    # so receivers that dedupe by it (as Standard Webhooks asks) see each exactly once.
    assert sum(webhook_ids.values()) - SUBSCRIBERS <= CONCURRENCY
    assert sum(mail_ids.values()) - SUBSCRIBERS <= 8  # the SMTP lane's in-flight budget
    db.conn.close()

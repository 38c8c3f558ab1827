"""Team channels: apprise to a local json:// receiver, log, email and signed webhook channels,
the engine's escalation payload shape, and `upwatch-statuspage channel test`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from statuspage.cli import main
from statuspage.db import open_store_and_migrate
from statuspage.notify import outbox
from statuspage.storage import sql
from statuspage.storage.outbox import enqueue
from tests.conftest import FrozenClock
from tests.statuspage.notify.conftest import run_delivery
from tests.statuspage.notify.servers import MailSink, Receiver

pytestmark = pytest.mark.engines("sqlite", "postgresql")

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def channels(receiver: Receiver) -> list[dict[str, Any]]:
    return [
        {"id": "team", "kind": "apprise", "url": f"json://127.0.0.1:{receiver.port}/apprise"},
        {"id": "hook", "kind": "webhook", "url": receiver.url("/ok/hook"), "secret": SECRET},
        {"id": "mail", "kind": "email", "to": ["oncall@ops.test"]},
        {"id": "ops-log", "kind": "log"},
    ]


def test_every_channel_kind_delivers(
    notify_settings: Any,
    receiver: Receiver,
    mail_sink: MailSink,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = notify_settings(channels=channels(receiver))
    db = open_store_and_migrate(settings.database)
    receiver.secrets["/ok/hook"] = SECRET
    for channel in settings.channels:
        # The engine's escalation rows: destination_kind = channel kind, destination = channel id.
        enqueue(
            db,
            event="incident.escalated",
            destination_kind=channel.kind,
            destination=channel.id,
            payload={
                "event": "incident.escalated",
                "message": "API down for 5m",
                "incident_id": 7,
                "title": "API down",
            },
            idempotency_key=f"incident:7:escalation:0:{channel.id}",
            now=clock(),
        )
    with caplog.at_level(logging.INFO, logger="upwatch.notifications"):
        stats = run_delivery(settings, clock)
    assert stats.delivered == 4, sql.tuples(db, "SELECT destination, last_error FROM outbox")
    [apprise_hit] = receiver.hits_for("/apprise")
    assert apprise_hit.json()["title"] == "API down"
    assert "API down for 5m" in apprise_hit.json()["message"]
    [hook_hit] = receiver.hits_for("/ok/hook")
    assert hook_hit.signature_ok is True and hook_hit.json()["type"] == "incident.escalated"
    [mail] = mail_sink.to("oncall@ops.test")
    assert mail.message["Subject"] == "[Test Status] API down" and "API down for 5m" in mail.text()
    assert "channel=ops-log event=incident.escalated" in caplog.text


def test_engine_escalation_payload_reads_well(
    notify_settings: Any, receiver: Receiver, clock: FrozenClock
) -> None:
    settings = notify_settings(channels=channels(receiver))
    db = open_store_and_migrate(settings.database)
    payload = {
        "event": "incident.opened",
        "level": 0,
        "round": 0,
        "message": "[major] API down",
        "incident": {
            "id": 3,
            "title": "API down",
            "status": "investigating",
            "url": "http://status.example.com/incidents/3",
        },
    }
    enqueue(
        db,
        event="incident.opened",
        destination_kind="apprise",
        destination="team",
        payload=payload,
        idempotency_key="incident:3:escalation:0:0:team",
        now=clock(),
    )
    assert run_delivery(settings, clock).delivered == 1
    [hit] = receiver.hits_for("/apprise")
    assert hit.json()["title"] == "API down"
    assert hit.json()["message"] == "[major] API down\n\nhttp://status.example.com/incidents/3"


def test_operator_templates_override_and_stay_sandboxed(
    notify_settings: Any, receiver: Receiver, clock: FrozenClock, tmp_path: Path
) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "channel.txt").write_text("OPS: {{ body }} {{ ''.__class__ }}|{{ body.__class__ }}")
    settings = notify_settings(channels=channels(receiver), notify={"templates_dir": str(folder)})
    db = open_store_and_migrate(settings.database)
    outbox.enqueue_channel_message(db, "team", "apprise", "x", "k", "Title", "{{ 6 * 7 }}", clock())
    assert run_delivery(settings, clock).delivered == 1
    # The override is used; incident text stays text; Python internals are out of reach.
    assert receiver.hits_for("/apprise")[0].json()["message"] == "OPS: {{ 6 * 7 }} |"


def test_unknown_channel_and_unknown_kind_fail_permanently(notify_settings: Any, clock: FrozenClock) -> None:
    settings = notify_settings()
    db = open_store_and_migrate(settings.database)
    outbox.enqueue_channel_message(db, "gone", "apprise", "x", "k1", "t", "b", clock())
    stats = run_delivery(settings, clock)
    assert stats.failed == 1
    assert "no channel 'gone'" in sql.scalar(db, "SELECT last_error FROM outbox")


def test_channel_test_command(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "upwatch.toml"
    config.write_text(
        f'database = "{tmp_path / "cli.db"}"\n'
        "[[channels]]\n"
        'id = "team"\nkind = "apprise"\n'
        f'url = "json://127.0.0.1:{receiver.port}/apprise"\n'
        "[[channels]]\n"
        'id = "down"\nkind = "webhook"\n'
        f'url = "{receiver.url("/fail/cli")}"\n'
    )
    monkeypatch.setenv("UPWATCH_CONFIG", str(config))
    assert main(["channel", "test", "team"]) == 0
    assert "test message sent" in capsys.readouterr().out
    assert receiver.hits_for("/apprise")[0].json()["title"].startswith("Test message from")
    assert main(["channel", "test", "down"]) == 1
    assert "HTTP 500" in capsys.readouterr().err
    assert main(["channel", "test", "nope"]) == 2
    assert "no channel 'nope'" in capsys.readouterr().err
    assert main(["channel", "list"]) == 0
    assert "team\tapprise\tok" in capsys.readouterr().out


def test_operator_webhook_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "upwatch.toml"
    config.write_text(f'database = "{tmp_path / "cli.db"}"\n[[components]]\nid = "api"\nname = "API"\n')
    monkeypatch.setenv("UPWATCH_CONFIG", str(config))
    assert main(["webhook", "add", "http://10.1.2.3/hook", "--component", "api"]) == 0
    out = capsys.readouterr()
    assert out.out.strip().splitlines()[-1].startswith("whsec_") and "not a public address" in out.err
    assert main(["webhook", "add", "http://x/hook", "--component", "nope"]) == 2
    assert main(["webhook", "list"]) == 0
    assert "1\tactive\toperator\tapi\thttp://10.1.2.3/hook" in capsys.readouterr().out
    assert main(["webhook", "remove", "1"]) == 0
    assert main(["webhook", "remove", "1"]) == 1
    assert main(["outbox", "status"]) == 0
    assert "pending=0" in capsys.readouterr().out

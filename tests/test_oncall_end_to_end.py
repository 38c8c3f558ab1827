"""On call with real processes: collector (gunicorn + worker), a real agent, a real HTTP target and
an aiosmtpd mailbox. Two responders on a weekly schedule verify their mail from the links they
receive; the first outage pages alice (on call), who acknowledges from the link in her mail (GET
shows a form, POST acts) and the second level never fires; a second outage nobody acknowledges
reaches bob at the second level."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.helpers import BIN, free_port, http_get, start, stop, wait_for
from tests.statuspage.notify.servers import MailSink, start_smtp

CONFIG = """
[page]
name = "On-call E2E"
url = "{base}"

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from_address = "status@upwatch.test"

[[components]]
id = "{name}"
name = "Service {name}"
escalation_policy = "oncall"
"""

CHECK = """
[[checks]]
id = "{name}-http"
component = "{name}"
kind = "http"
url = "http://127.0.0.1:{target_port}/{name}.txt"
interval = "1s"
timeout = "1s"
run_on = ["label:e2e"]
conditions = ["[STATUS] == 200"]
failure_threshold = 1
success_threshold = 1
"""

ONCALL = """
[[responders]]
name = "alice"
contacts = [{{ id = "mail", kind = "email", to = "alice@example.test" }}]

[[responders]]
name = "bob"
contacts = [{{ id = "mail", kind = "email", to = "bob@example.test" }}]

[[schedules]]
id = "primary"
name = "Primary"
tz = "UTC"

[[schedules.layers]]
name = "weekly"
responders = ["alice", "bob"]
shift = "1w"
handoff = "00:00"
start = "{today}"

[[escalation_policies]]
id = "oncall"

[[escalation_policies.levels]]
targets = ["schedule:primary"]

[[escalation_policies.levels]]
targets = ["user:bob"]
after = "5s"
"""

LINK = re.compile(r"(?m)^(Acknowledge|Resolve): (http://\S+)$")


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(  # noqa: S603
        [str(BIN / "upwatch-statuspage"), *args],
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def post(url: str) -> tuple[int, str]:
    request = urllib.request.Request(url, data=b"", method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def follow_link(url: str, button: str) -> str:
    """GET shows a form and changes nothing; POST acts. Returns the result page."""
    code, page = http_get(url)
    assert code == 200 and "<form" in page.decode() and button in page.decode(), page[:500]
    code, result = post(url)
    assert code == 200, result[:500]
    return result


def links_in(text: str) -> dict[str, str]:
    return {label: url for label, url in LINK.findall(text)}


def incident_row(db_path: Path, component: str) -> tuple[int, str | None, int]:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        row = conn.execute(
            "SELECT i.id, i.acknowledged_by, i.escalation_level FROM incidents i JOIN incident_components c"
            " ON c.incident_id = i.id WHERE c.component_id = ? ORDER BY i.id DESC LIMIT 1",
            [component],
        ).fetchone()
    assert row is not None
    return int(row[0]), row[1], int(row[2])


def outbox_keys(db_path: Path, prefix: str) -> list[str]:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT idempotency_key FROM outbox WHERE idempotency_key LIKE ?", [prefix + "%"]
            )
        ]


@pytest.fixture
def mailbox():
    sink = MailSink()
    controller, _port = start_smtp(sink)
    yield sink
    controller.stop()


def test_oncall_page_acknowledge_from_mail_and_escalation(tmp_path: Path, mailbox: MailSink) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "a.txt").write_text("ok")
    (site / "b.txt").write_text("ok")
    target_port = free_port()
    target = start(
        [
            sys.executable,
            "-m",
            "http.server",
            str(target_port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(site),
        ],
        {},
        tmp_path / "target.log",
    )
    collector_port = free_port()
    base = f"http://127.0.0.1:{collector_port}"
    today = datetime.now(UTC).date().isoformat()
    config = "".join(
        [
            CONFIG.format(base=base, smtp_port=mailbox.port, name="a").split("[[components]]")[0],
            *(
                "[[components]]"
                + CONFIG.format(base=base, smtp_port=mailbox.port, name=n).split("[[components]]")[1]
                for n in "ab"
            ),
            *(CHECK.format(name=n, target_port=target_port) for n in "ab"),
            ONCALL.format(today=today),
        ]
    )
    (tmp_path / "upwatch.toml").write_text(config)
    db_path = tmp_path / "upwatch.db"
    env = {"UPWATCH_CONFIG": str(tmp_path / "upwatch.toml"), "UPWATCH_DATABASE": str(db_path)}
    token = cli(env, "agent-token", "create", "probe-1", "--label", "e2e").strip().splitlines()[-1]
    assert "alice" in cli(env, "oncall", "show", "primary")

    collector = start(
        [str(BIN / "upwatch-statuspage"), "serve", "--port", str(collector_port)],
        env,
        tmp_path / "collector.log",
    )
    agent = start(
        [str(BIN / "upwatch-agent"), "run"],
        {
            "UPWATCH_AGENT_COLLECTOR_URL": base,
            "UPWATCH_AGENT_TOKEN": token,
            "UPWATCH_AGENT_NAME": "probe-1",
            "UPWATCH_AGENT_LABELS": "e2e",
            "UPWATCH_AGENT_REPORT_INTERVAL_S": "0.5",
            "UPWATCH_AGENT_SPOOL_PATH": str(tmp_path / "spool.db"),
        },
        tmp_path / "agent.log",
    )
    try:
        wait_for(lambda: http_get(base + "/healthz")[0] == 200, timeout_s=45)
        # Both responders verify their mail through the link sent to it.
        for name in ("alice", "bob"):
            cli(env, "oncall", "verify", name, "mail")
            mail = wait_for(lambda name=name: mailbox.to(f"{name}@example.test"), timeout_s=30)[-1]
            url = re.search(r"(http://\S+/oncall/verify/\S+)", mail.text())
            assert url is not None, mail.text()
            assert "confirmed" in follow_link(url.group(1), "Confirm")

        # Outage 1: alice is on call, gets the page and acknowledges from the mail.
        (site / "a.txt").unlink()
        page = wait_for(
            lambda: [m for m in mailbox.to("alice@example.test") if "Acknowledge:" in m.text()], timeout_s=45
        )[-1]
        actions = links_in(page.text())
        assert set(actions) == {"Acknowledge", "Resolve"}, page.text()
        assert "on call for Primary" in page.text()
        first_id, acknowledged_by, _ = incident_row(db_path, "a")
        assert acknowledged_by is None  # the GET below must not act either
        assert "Acknowledged" in follow_link(actions["Acknowledge"], "Acknowledge")
        assert incident_row(db_path, "a")[1] == "user:alice"
        replay_code, replay = post(actions["Acknowledge"])
        assert replay_code == 409 and "already used" in replay

        # Outage 2, nobody acknowledges: bob is paged by the second level.
        (site / "b.txt").unlink()
        bob_page = wait_for(
            lambda: [m for m in mailbox.to("bob@example.test") if "Acknowledge:" in m.text()], timeout_s=60
        )[-1]
        second_id, _, level = incident_row(db_path, "b")
        assert second_id != first_id and level == 1
        assert f"/admin/incidents/{second_id}" in bob_page.text()
        # The first incident stayed at level 0: acknowledging stopped its ladder, though its
        # second level was due before the second incident's.
        assert incident_row(db_path, "a")[2] == 0
        assert outbox_keys(db_path, f"incident:{first_id}:escalation:0:1:") == []
        assert all(f"/admin/incidents/{first_id}" not in m.text() for m in mailbox.to("bob@example.test"))
    finally:
        stop(agent)
        stop(collector)
        stop(target)
    log = (tmp_path / "collector.log").read_text()
    assert "Traceback" not in log, log[-3000:]

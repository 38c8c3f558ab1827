"""Approve an automated action from the page: the order waiting for approval pages the responders
the incident paged, with a signed one-click "approve <action> on <agent>" link.

The real app served on a loopback port (wsgiref), a real SQLite file, the
worker's own functions (`escalate_due`, `run_responses`) and its real delivery
to aiosmtpd, an apprise `json://` receiver and a signed webhook receiver; the
link is followed with `requests`; the approved order is run by the agent's
real `ActionRunner` (a script that records its runs). The clock is injected.
"""

from __future__ import annotations

import asyncio
import json
import re
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import requests

from agent.action_ledger import ActionLedger
from agent.actions import ActionConfig, ActionRunner
from shared.schema import ActionOrder
from statuspage import create_app
from statuspage.db import connect
from statuspage.incident_actions import escalate_due
from statuspage.incidents import resolve
from statuspage.responses import service
from statuspage.responses.rules import run_responses
from statuspage.settings import Settings
from statuspage.storage import audit
from statuspage.storage import incidents as incident_store
from statuspage.storage import oncall as oncall_store
from statuspage.storage import responses as store
from statuspage.storage.agents import create_agent
from statuspage.storage.transaction import immediate
from tests.conftest import FrozenClock
from tests.helpers import free_port
from tests.statuspage.notify.conftest import run_delivery
from tests.statuspage.notify.servers import MailSink, Receiver, start_receiver, start_smtp

SECRET = "whsec_c2VjcmV0LXNpZ25pbmcta2V5LWZvci1leGFtcGxl"
APPROVE_LINE = re.compile(r"^Approve restart-api on edge-1: (\S+)$", re.MULTILINE)
SCRIPT = """#!{python}
import sys
with open(sys.argv[1], "a") as log:
    log.write("run\\n")
print("restarted")
"""


class _Quiet(WSGIRequestHandler):
    def log_message(self, *_args: Any) -> None:
        pass


@dataclass
class World:
    settings: Settings
    db: Any
    base: str
    token: str
    mail: MailSink
    receiver: Receiver
    clock: FrozenClock

    def assignments(self) -> list[dict[str, Any]]:
        response = requests.get(
            f"{self.base}/api/v1/agent/assignments?actions=restart-api",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return list(response.json().get("actions", []))

    def open_incident(self) -> int:
        with immediate(self.db):
            incident_id = incident_store.insert_incident(
                self.db, title="API down", impact="major", components={"api": "major_outage"},
                body="Investigating.", actor="engine", now=self.clock(), escalation_policy="oncall",
                next_escalation_at=self.clock(),
            )  # fmt: skip
            escalate_due(self.db, self.settings, self.clock())  # the worker pages before it runs rules
        run_responses(self.db, self.settings, self.clock())
        return incident_id

    def deliver(self) -> None:
        run_delivery(self.settings, self.clock)

    def approve_link(self) -> str:
        [mail] = [
            m
            for m in self.mail.to("alice@example.test")
            if "Approve restart-api" in str(m.message["Subject"])
        ]
        found = APPROVE_LINE.search(mail.text())
        assert found is not None, mail.text()
        return found.group(1)

    def order(self) -> store.Order:
        [order] = [o for o in store.recent_orders(self.db) if o.status != "skipped"]
        return order


@pytest.fixture
def world(make_settings: Callable[..., Settings], clock: FrozenClock, tmp_path: Path) -> Iterator[World]:
    sink = MailSink()
    controller, _port = start_smtp(sink)
    receiver = Receiver(secrets={"/ok/bot": SECRET})
    hooks = start_receiver(receiver)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(
        page={"name": "Test Status", "url": base},
        smtp={"host": "127.0.0.1", "port": sink.port, "security": "none"},
        notify={"request_timeout_s": 2.0},
        oncall={"link_ttl": "10m"},
        responders=[
            {
                "name": "alice",
                "contacts": [
                    {"id": "mail", "kind": "email", "to": "alice@example.test"},
                    {"id": "chat", "kind": "apprise", "url": f"json://127.0.0.1:{receiver.port}/ok/chat"},
                ],
                "rules": [{"contact": "mail"}, {"contact": "chat"}],
            },
            {
                "name": "bob",
                "contacts": [{"id": "bot", "kind": "webhook", "url": receiver.url("/ok/bot"), "secret": SECRET}],
            },
        ],
        escalation_policies=[
            {"id": "oncall", "levels": [{"targets": ["user:alice"]}, {"targets": ["user:bob"], "after": "5m"}]}
        ],
        responses={
            "rules": [
                {"id": "restart-on-outage", "action": "restart-api", "component": "api", "require_approval": True}
            ]
        },
    )  # fmt: skip
    app = create_app(settings)
    app.config["UPWATCH_CLOCK"] = clock
    server: WSGIServer = make_server("127.0.0.1", port, app, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    db = connect(settings.database)
    _agent, token = create_agent(db, "edge-1", ["eu"], clock())
    with immediate(db):
        for name, contact in (("alice", "mail"), ("alice", "chat"), ("bob", "bot")):
            responder = settings.responder(name)
            found = responder.contact(contact) if responder else None
            assert found is not None
            oncall_store.mark_verified(db, name, contact, oncall_store.address_hash(found.address), clock())
    world = World(settings, db, base, token, sink, receiver, clock)
    world.assignments()  # the agent tells the collector what it offers
    try:
        yield world
    finally:
        server.shutdown()
        server.server_close()
        hooks.shutdown()
        hooks.server_close()
        controller.stop()
        db.conn.close()


def timeline(world: World, incident_id: int) -> list[str]:
    events = incident_store.events_of(world.db, incident_id)
    return [str(e.data["text"]) for e in events if e.kind == "response"]


def runner(tmp_path: Path, clock: FrozenClock) -> tuple[ActionRunner, Path]:
    script, runs = tmp_path / "restart.py", tmp_path / "runs.txt"
    script.write_text(SCRIPT.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    action = ActionConfig(id="restart-api", argv=[str(script), str(runs)])
    return ActionRunner([action], ActionLedger(tmp_path / "spool.db"), clock=clock), runs


def test_the_mailed_approve_link_approves_once_and_the_order_runs_once(world: World, tmp_path: Path) -> None:
    incident_id = world.open_incident()
    assert world.order().status == "awaiting_approval"
    assert timeline(world, incident_id)[-1] == "sent alice a link to approve restart-api on edge-1"
    world.deliver()
    [page] = [m for m in world.mail.to("alice@example.test") if "Approve" not in str(m.message["Subject"])]
    assert "Approve restart-api" not in page.text()  # the incident's page left before the order existed
    link = world.approve_link()
    assert link.startswith(f"{world.base}/oncall/approve/")
    [chat] = [h for h in world.receiver.hits_for("/ok/chat") if "Approve" in json.loads(h.body)["title"]]
    assert f"Approve restart-api on edge-1: {link}" in json.loads(chat.body)["message"]  # same link
    [mail] = [
        m for m in world.mail.to("alice@example.test") if "Approve restart-api" in str(m.message["Subject"])
    ]
    assert f'href="{link}"' in mail.html()

    shown = requests.get(link, timeout=10)  # what a mail scanner's prefetch does
    assert shown.status_code == 200 and "Approve restart-api on edge-1?" in shown.text
    assert '<form method="post"' in shown.text and "style=" not in shown.text and "<script" not in shown.text
    assert world.order().status == "awaiting_approval" and world.assignments() == []

    done = requests.post(link, timeout=10)
    assert done.status_code == 200 and "Approved: restart-api on edge-1" in done.text
    order = world.order()
    assert order.status == "pending" and order.approved_by == "user:alice"
    assert "alice approved restart-api on edge-1 from the page" in timeline(world, incident_id)
    [entry] = [e for e in audit.recent(world.db) if e.action == "response.approve"]
    assert entry.actor == "user:alice" and entry.target == f"incident:{incident_id}"
    assert entry.details["via"] == "the page"

    replay = requests.post(link, timeout=10)
    assert replay.status_code == 409 and "already used" in replay.text
    assert len([e for e in audit.recent(world.db) if e.action == "response.approve"]) == 1

    agent, runs = runner(tmp_path, world.clock)
    for _ in range(2):  # the order comes with every assignments document until its result arrives
        [sent] = world.assignments()
        asyncio.run(agent.execute(ActionOrder.model_validate(sent)))
    assert runs.read_text() == "run\n"  # ran exactly once
    [result] = agent._ledger.unacknowledged()
    response = requests.post(
        f"{world.base}/api/v1/agent/action-results",
        data=result.model_dump_json(),
        headers={"Authorization": f"Bearer {world.token}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 200 and response.json() == {"stored": True}
    assert world.assignments() == []
    assert world.order().status == "done" and world.order().exit_code == 0
    assert timeline(world, incident_id)[-1].startswith("restart-api on edge-1: exit 0 in ")


def test_get_tampered_foreign_and_cross_site_requests_change_nothing(world: World) -> None:
    world.open_incident()
    world.deliver()
    link = world.approve_link()
    token = link.rsplit("/", 1)[1]
    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    assert requests.post(tampered, timeout=10).status_code == 400
    assert requests.post(f"{world.base}/oncall/approve/{'x' * 1200}", timeout=10).status_code == 400
    # an acknowledge link at the approve address (and the other way round) is refused: its own salt
    page = next(m for m in world.mail.to("alice@example.test") if "Approve" not in str(m.message["Subject"]))
    ack = re.search(r"^Acknowledge: (\S+)$", page.text(), re.MULTILINE)
    assert ack is not None
    ack_token = ack.group(1).rsplit("/", 1)[1]
    assert requests.post(f"{world.base}/oncall/approve/{ack_token}", timeout=10).status_code == 400
    assert requests.post(f"{world.base}/oncall/act/{token}", timeout=10).status_code == 400
    cross = requests.post(link, headers={"Origin": "https://evil.example"}, timeout=10)
    assert cross.status_code == 403
    assert world.order().status == "awaiting_approval"
    assert [e for e in audit.recent(world.db) if e.action == "response.approve"] == []


def test_an_expired_link_is_refused_and_the_order_still_waits(world: World) -> None:
    world.open_incident()
    world.deliver()
    link = world.approve_link()
    world.clock.advance(minutes=11)  # past oncall.link_ttl (10m), within approve_within (30m)
    expired = requests.get(link, timeout=10)
    assert expired.status_code == 410 and "expired" in expired.text
    assert requests.post(link, timeout=10).status_code == 410
    assert world.order().status == "awaiting_approval"


def test_a_decided_expired_paused_or_resolved_order_refuses_its_link(world: World) -> None:
    incident_id = world.open_incident()
    world.deliver()
    link = world.approve_link()
    with immediate(world.db):
        service.approve(world.db, world.settings, world.order().id, "user:ops", "", world.clock())
    decided = requests.post(link, timeout=10)
    assert decided.status_code == 409 and "no longer waits for approval" in decided.text
    assert world.order().approved_by == "user:ops"

    # A second incident's order: the kill switch cancels it; its link is refused.
    with immediate(world.db):
        resolve(world.db, incident_id, "user:ops", world.clock(), "Fixed.")
    second = world.open_incident()
    world.deliver()
    links = [
        m for m in world.mail.to("alice@example.test") if f"Incident #{second}" in str(m.message["Subject"])
    ]
    [second_link] = [APPROVE_LINE.search(m.text()).group(1) for m in links]  # type: ignore[union-attr]
    service.pause(world.db, "user:ops", "", world.clock())
    paused = requests.post(second_link, timeout=10)
    assert paused.status_code == 409 and "switched off" in paused.text
    service.resume(world.db, "user:ops", "", world.clock())

    # A third: resolved before anyone approved it; the next pass cancels the order.
    third = world.open_incident()
    world.deliver()
    mails = [
        m for m in world.mail.to("alice@example.test") if f"Incident #{third}" in str(m.message["Subject"])
    ]
    [third_link] = [APPROVE_LINE.search(m.text()).group(1) for m in mails]  # type: ignore[union-attr]
    with immediate(world.db):
        resolve(world.db, third, "user:ops", world.clock(), "Fixed.")
    assert requests.post(third_link, timeout=10).status_code == 409
    run_responses(world.db, world.settings, world.clock())
    assert timeline(world, third)[-1] == (
        "restart-api on edge-1 cancelled: the incident was resolved before anyone approved it"
    )
    assert world.assignments() == []


def test_a_later_page_carries_the_approve_link_and_the_webhook_payload_has_it(world: World) -> None:
    incident_id = world.open_incident()
    world.deliver()
    world.clock.advance(minutes=5)
    with immediate(world.db):
        escalate_due(world.db, world.settings, world.clock())  # level 2: bob
    world.deliver()
    [hook] = world.receiver.hits_for("/ok/bot")
    assert hook.signature_ok is True
    payload = hook.json()
    assert payload["type"] == "incident.escalated" and payload["responder"] == "bob"
    [approval] = payload["approvals"]
    assert approval["label"] == "Approve restart-api on edge-1" and approval["agent"] == "edge-1"
    assert set(payload["actions"]) == {"acknowledge", "resolve", "open"}
    shown = requests.get(approval["url"], timeout=10)
    assert shown.status_code == 200 and "As</dt><dd>bob" in shown.text
    assert requests.post(approval["url"], timeout=10).status_code == 200
    assert "bob approved restart-api on edge-1 from the page" in timeline(world, incident_id)
    # alice's link, for the same order, is now refused: one order is approved once
    assert requests.post(world.approve_link(), timeout=10).status_code == 409

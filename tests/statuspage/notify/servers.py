"""Real servers on loopback for notification tests: an SMTP server (aiosmtpd) that keeps what it
receives, and an HTTP receiver whose paths play good, slow, failing and gone receivers."""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from statuspage.notify.signing import InvalidSignature, verify
from tests.helpers import free_port


@dataclass
class ReceivedMail:
    recipients: list[str]
    message: EmailMessage
    at: float

    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())

    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        assert part is not None
        return str(part.get_content())


class MailSink:
    """aiosmtpd handler: stores each message; addresses in `reject` get 550 at RCPT."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.mails: list[ReceivedMail] = []
        self.reject: set[str] = set()
        self.delay_s = delay_s
        self.lock = threading.Lock()
        self.port = 0

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.reject:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay_s:
            import asyncio

            await asyncio.sleep(self.delay_s)
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.mails.append(ReceivedMail(list(envelope.rcpt_tos), message, time.monotonic()))
        return "250 Message accepted"

    def to(self, address: str) -> list[ReceivedMail]:
        with self.lock:
            return [m for m in self.mails if address in m.recipients]


def start_smtp(sink: MailSink) -> tuple[Controller, int]:
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    sink.port = port
    return controller, port


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    signature_ok: bool | None = None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Paths: /ok/... 200, /slow/... waits `slow_s` then 200, /fail/... 500, /gone/... 410.
    `secrets` maps a path to the whsec_ secret its requests must be signed with."""

    port: int = 0
    hits: list[Hit] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)
    slow_s: float = 5.0
    delay_s: float = 0.0
    fail_until: dict[str, int] = field(default_factory=dict)  # path -> answer 500 this many times
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits_for(self, path: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path == path]


def start_receiver(receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            hit = Hit(self.path, headers, body, time.monotonic())
            secret = receiver.secrets.get(self.path)
            if secret is not None:
                try:
                    verify(secret, headers, body)
                    hit.signature_ok = True
                except InvalidSignature:
                    hit.signature_ok = False
            with receiver.lock:
                receiver.hits.append(hit)
                remaining = receiver.fail_until.get(self.path, 0)
                if remaining:
                    receiver.fail_until[self.path] = remaining - 1
            status = 200
            if self.path.startswith("/slow"):
                receiver.release.wait(receiver.slow_s)
            elif self.path.startswith("/fail") or remaining:
                status = 500
            elif self.path.startswith("/gone"):
                status = 410
            if receiver.delay_s:
                time.sleep(receiver.delay_s)
            try:
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:
                pass  # the client gave up (timeout): fine

    receiver.port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", receiver.port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server

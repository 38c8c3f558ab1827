"""What the smtp, imap and pop3 probes share: a line-based session, TLS by STARTTLS or from the
first byte, the certificate check and the verdict.

Each protocol module (`smtp.py`, `imap.py`, `pop3.py`) supplies only its dialogue:
read the greeting, ask for the capabilities, upgrade to TLS when asked, say
goodbye. Certificates are judged as the tls kind does (one verifying handshake;
when it fails, the dialogue runs again without verification only to read the
certificate, so the error can say "certificate expired 3 days ago").
Metrics: `connect_ms`, `tls_ms`, `total_ms`, `days_left` (with TLS).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC

from agent.probes import Outcome
from agent.probes.certs import expiry_message, read_certificate
from agent.probes.context import ProbeContext
from agent.probes.tls import lax_context, verify_problem, verifying_context
from agent.probes.verdict import judged
from shared.checks import MailCheck
from shared.conditions import Facts

MAX_LINE_BYTES = 8192
MAX_LINES = 200


class MailProblem(Exception):
    """The server could not be reached or broke the protocol; the message says what happened."""

    def __init__(self, message: str, *, connected: bool = True):
        super().__init__(message)
        self.connected = connected


@dataclass
class Seen:
    """What one dialogue observed."""

    banner: str = ""
    capabilities: list[str] = field(default_factory=list)
    tls_version: str | None = None
    certificate: bytes | None = None
    connect_ms: float = 0.0
    tls_ms: float = 0.0


class MailSession:
    """A line-based connection to a mail server that can switch to TLS in the middle."""

    def __init__(
        self,
        check: MailCheck,
        tls: ssl.SSLContext | None,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ):
        self.check = check
        self.tls = tls
        self.reader = reader
        self.writer = writer
        self.seen = Seen()

    async def line(self) -> str:
        """One line without its CRLF. Raises MailProblem when the server hangs up or rambles."""
        try:
            raw = await self.reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as error:
            if error.partial:
                raise MailProblem(
                    f"the server closed the connection mid-line: {error.partial[:80]!r}"
                ) from None
            raise MailProblem("the server closed the connection") from None
        except asyncio.LimitOverrunError:
            raise MailProblem(f"the server sent a line longer than {MAX_LINE_BYTES} bytes") from None
        except (OSError, ssl.SSLError) as error:
            raise MailProblem(f"connection broken: {getattr(error, 'strerror', None) or error}") from None
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    async def send(self, text: str) -> None:
        self.writer.write(text.encode() + b"\r\n")
        try:
            await self.writer.drain()
        except (OSError, ssl.SSLError) as error:
            raise MailProblem(f"connection broken: {getattr(error, 'strerror', None) or error}") from None

    async def start_tls(self) -> None:
        """Upgrade after the server agreed to STARTTLS. Raises SSLCertVerificationError or MailProblem."""
        assert self.tls is not None
        began = time.perf_counter()
        try:
            await self.writer.start_tls(self.tls, server_hostname=self.check.server_name or self.check.host)
        except ssl.SSLCertVerificationError:
            raise
        except ssl.SSLError as error:
            raise MailProblem(f"TLS handshake failed: {error.reason or error}") from None
        except (OSError, EOFError) as error:
            raise MailProblem(f"TLS handshake failed: {getattr(error, 'strerror', None) or error}") from None
        self.seen.tls_ms = (time.perf_counter() - began) * 1000
        self._note_tls()

    def _note_tls(self) -> None:
        ssl_object = self.writer.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.seen.tls_version = str(ssl_object.version())
            self.seen.certificate = ssl_object.getpeercert(binary_form=True)


Dialogue = Callable[[MailSession], Awaitable[None]]


async def _run(check: MailCheck, tls: ssl.SSLContext | None, dialogue: Dialogue) -> Seen:
    """Connect (with TLS at once for implicit TLS), run the dialogue, close. Returns what was seen."""
    began = time.perf_counter()
    implicit = tls if check.tls == "implicit" else None
    server_name = (check.server_name or check.host) if implicit else None
    try:
        reader, writer = await asyncio.open_connection(
            check.host, check.effective_port, ssl=implicit, server_hostname=server_name, limit=MAX_LINE_BYTES
        )
    except ssl.SSLCertVerificationError:
        raise
    except ConnectionRefusedError:
        raise MailProblem(
            f"connection refused ({check.host}:{check.effective_port})", connected=False
        ) from None
    except ssl.SSLError as error:
        raise MailProblem(f"TLS handshake failed: {error.reason or error}") from None
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        raise MailProblem(
            f"cannot connect to {check.host}:{check.effective_port}: {reason}", connected=False
        ) from None
    session = MailSession(check, tls, reader, writer)
    session.seen.connect_ms = (time.perf_counter() - began) * 1000
    if implicit:
        session.seen.tls_ms = session.seen.connect_ms
        session._note_tls()
    try:
        await dialogue(session)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (OSError, ssl.SSLError):
            pass  # the server may drop the line after our goodbye; we have what we came for
    return session.seen


async def probe_mail(check: MailCheck, context: ProbeContext, dialogue: Dialogue) -> Outcome:
    """Run the kind's dialogue and judge it: down when unreachable, impolite, untrusted or expired;
    degraded when the certificate expires within `min_days_left`."""
    began = time.perf_counter()
    tls: ssl.SSLContext | None = None
    if check.tls != "none":
        try:
            tls = verifying_context(check.ca_file) if check.verify_tls else lax_context()
        except (OSError, ssl.SSLError) as error:
            return Outcome("down", f"cannot load ca_file {check.ca_file}: {error}")
    verify_error: ssl.SSLCertVerificationError | None = None
    try:
        try:
            seen = await _run(check, tls, dialogue)
        except ssl.SSLCertVerificationError as error:
            verify_error = error
            seen = await _run(check, lax_context(), dialogue)
    except MailProblem as problem:
        return judged(Outcome("down", str(problem)), check.conditions, Facts(connected=problem.connected))
    total_ms = (time.perf_counter() - began) * 1000
    metrics = {"connect_ms": round(seen.connect_ms, 3), "total_ms": round(total_ms, 3)}
    detail: dict[str, str | int | bool | None] = {
        "banner": seen.banner[:500],
        "capabilities": " ".join(seen.capabilities)[:2000],
    }
    facts = Facts(
        banner=seen.banner,
        capabilities=" ".join(seen.capabilities),
        connected=True,
        response_time_ms=total_ms,
    )
    if seen.certificate is None:
        return judged(Outcome("up", None, metrics, detail), check.conditions, facts)
    metrics["tls_ms"] = round(seen.tls_ms, 3)
    detail["tls_version"] = seen.tls_version
    now = context.clock().astimezone(UTC)
    try:
        info = read_certificate(seen.certificate)
    except ValueError as error:
        return Outcome("down", f"cannot read the server certificate: {error}", metrics, detail)
    days_left = info.seconds_left(now) / 86400
    metrics["days_left"] = round(days_left, 3)
    detail.update({"subject": info.subject, "issuer": info.issuer, "not_after": info.not_after.isoformat()})
    if verify_error is not None:
        message = verify_problem(verify_error, info, check.server_name or check.host, now)
        return Outcome("down", message, metrics, detail)
    expired = expiry_message(info, now)  # with verify_tls = false nothing else would notice
    if expired:
        return Outcome("down", expired, metrics, detail)
    facts.certificate_expiration_ms = days_left * 86_400_000
    outcome = judged(Outcome("up", None, metrics, detail), check.conditions, facts)
    if outcome.status == "up" and days_left < check.min_days_left:
        message = f"certificate expires in {days_left:.1f} days (min_days_left {check.min_days_left:g})"
        return Outcome("degraded", message, metrics, detail)
    return outcome


def require_tls_offer(session: MailSession, offered: bool, command: str) -> None:
    """Raise MailProblem when STARTTLS is wanted and the server does not offer it."""
    if not offered:
        raise MailProblem(f'the server does not offer {command} (tls = "starttls"; use "none" to skip TLS)')

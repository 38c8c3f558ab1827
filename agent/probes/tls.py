"""TLS probe for any TLS service: days to expiry, issuer, host name match, chain validity.

One verifying handshake (against the system CAs or `ca_file`); when it fails,
a second, non-verifying one reads the certificate so the error can say what
is wrong in a person's words ("certificate expired 3 days ago", "certificate is
for other.example, not localhost"). `starttls = "smtp"` speaks SMTP up to
STARTTLS first (RFC 3207). Metrics: `days_left` (like blackbox_exporter's
`probe_ssl_earliest_cert_expiry` minus now), `handshake_ms`.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from datetime import UTC, datetime

from agent.probes import Outcome, register
from agent.probes.certs import CertificateInfo, expiry_message, read_certificate
from agent.probes.context import ProbeContext
from shared.checks import TlsCheck
from shared.conditions import Facts, failed_conditions

SMTP_LINE_LIMIT = 100


_CONTEXTS: dict[str | None, ssl.SSLContext] = {}


def verifying_context(ca_file: str | None) -> ssl.SSLContext:
    """One verifying context per CA file, built on first use (loading CAs costs milliseconds;
    a changed CA file is read again when the agent restarts)."""
    if ca_file not in _CONTEXTS:
        _CONTEXTS[ca_file] = ssl.create_default_context(cafile=ca_file)
    return _CONTEXTS[ca_file]


def lax_context() -> ssl.SSLContext:
    """Accepts any certificate: only to read what the server sent after verification failed."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class TlsProblem(Exception):
    """The service could not be reached or spoke no TLS; the message says what happened."""


@register("tls")
async def probe_tls(check: TlsCheck, context: ProbeContext) -> Outcome:
    """Down when unreachable, untrusted, for another host or expired; degraded when expiring soon."""
    server_name = check.server_name or check.host
    began = time.perf_counter()
    try:
        verifying = verifying_context(check.ca_file)
    except (OSError, ssl.SSLError) as error:
        return Outcome("down", f"cannot load ca_file {check.ca_file}: {error}")
    verify_error: ssl.SSLCertVerificationError | None = None
    try:
        der, version = await _handshake(check, verifying, server_name)
    except ssl.SSLCertVerificationError as error:
        verify_error = error
        try:
            der, version = await _handshake(check, lax_context(), server_name)
        except TlsProblem as problem:
            return Outcome("down", str(problem), detail={"tls_error": str(verify_error.verify_message)})
    except TlsProblem as problem:
        return Outcome("down", str(problem), detail={}, metrics={})
    handshake_ms = round((time.perf_counter() - began) * 1000, 3)
    now = context.clock().astimezone(UTC)
    try:
        info = read_certificate(der)
    except ValueError as error:
        return Outcome("down", f"cannot read the server certificate: {error}")
    days_left = info.seconds_left(now) / 86400
    metrics = {"days_left": round(days_left, 3), "handshake_ms": handshake_ms}
    detail: dict[str, str | int | bool | None] = {
        "subject": info.subject,
        "issuer": info.issuer,
        "not_after": info.not_after.isoformat(),
        "names": ", ".join(info.names)[:2000],
        "tls_version": version,
    }
    if verify_error is not None:
        return Outcome("down", verify_problem(verify_error, info, server_name, now), metrics, detail)
    facts = Facts(
        certificate_expiration_ms=days_left * 86_400_000, response_time_ms=handshake_ms, connected=True
    )
    problems = failed_conditions(check.conditions, facts)
    if problems:
        return Outcome("down", "; ".join(problems), metrics, detail)
    if days_left < check.min_days_left:
        message = f"certificate expires in {days_left:.1f} days (min_days_left {check.min_days_left:g})"
        return Outcome("degraded", message, metrics, detail)
    return Outcome("up", None, metrics, detail)


def verify_problem(
    error: ssl.SSLCertVerificationError, info: CertificateInfo, server_name: str, now: datetime
) -> str:
    expired = expiry_message(info, now)
    if expired:
        return expired
    reason = str(error.verify_message or error.reason or error)
    if "Hostname mismatch" in reason or "IP address mismatch" in reason:
        return f"certificate is for {', '.join(info.names) or info.subject}, not {server_name}"
    if info.self_signed:
        return f"self-signed certificate ({info.subject}) is not trusted"
    return f"certificate chain not trusted: {reason} (issuer {info.issuer})"


async def _handshake(check: TlsCheck, context: ssl.SSLContext, server_name: str) -> tuple[bytes, str]:
    """Connect, do the TLS handshake, return (peer certificate DER, TLS version).

    Raises ssl.SSLCertVerificationError for verification failures, TlsProblem otherwise.
    """
    writer: asyncio.StreamWriter | None = None
    try:
        if check.starttls == "smtp":
            reader, writer = await asyncio.open_connection(check.host, check.port)
            await _smtp_starttls(reader, writer)
            await writer.start_tls(context, server_hostname=server_name)
        else:
            reader, writer = await asyncio.open_connection(
                check.host, check.port, ssl=context, server_hostname=server_name
            )
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        if not der:
            raise TlsProblem("the server sent no certificate")
        return der, str(ssl_object.version())
    except ssl.SSLCertVerificationError:
        raise
    except ConnectionRefusedError:
        raise TlsProblem(f"connection refused ({check.host}:{check.port})") from None
    except ssl.SSLError as error:
        raise TlsProblem(f"TLS handshake failed: {error.reason or error}") from None
    except (OSError, EOFError) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise TlsProblem(f"cannot connect to {check.host}:{check.port}: {reason}") from None
    finally:
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, ssl.SSLError):
                pass  # closing a half-done TLS session may fail; we have what we need


async def _smtp_starttls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Greeting, EHLO, STARTTLS (RFC 3207). Raises TlsProblem naming the step that failed."""
    code, _lines = await _smtp_reply(reader)
    if code != 220:
        raise TlsProblem(f"SMTP greeting was {code}, expected 220")
    writer.write(b"EHLO upwatch-agent\r\n")
    code, lines = await _smtp_reply(reader)
    if code != 250:
        raise TlsProblem(f"SMTP EHLO answered {code}")
    if not any(line[4:].strip().upper().startswith("STARTTLS") for line in lines):
        raise TlsProblem("the SMTP server does not offer STARTTLS")
    writer.write(b"STARTTLS\r\n")
    code, lines = await _smtp_reply(reader)
    if code != 220:
        raise TlsProblem(f"SMTP STARTTLS answered {code}: {lines[-1][4:] if lines else ''}")


async def _smtp_reply(reader: asyncio.StreamReader) -> tuple[int, list[str]]:
    lines: list[str] = []
    while len(lines) < SMTP_LINE_LIMIT:
        raw = await reader.readline()
        if not raw:
            raise TlsProblem("the SMTP server closed the connection")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            try:
                return int(line[:3]), lines
            except ValueError:
                raise TlsProblem(f"not an SMTP reply: {line[:80]!r}") from None
    raise TlsProblem("the SMTP reply is too long")

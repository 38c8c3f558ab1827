"""SSH probe: the server's version banner and, optionally, its pinned host key.

The banner is the identification string every SSH server sends first
(RFC 4253 §4.2, `SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6`): read directly, no
library needed, so a banner check costs no extra. A pinned
`host_key_fingerprint` needs the key exchange, which asyncssh does (the extra
`upwatch[ssh]`, imported only when such a check runs): it fetches the host key
without logging in. The server may hold several keys (Ed25519, ECDSA P-256,
P-384 or P-521, RSA); the probe asks for each type in turn and is up when one
matches, down naming the fingerprint it expected and the ones it got otherwise.
"""

from __future__ import annotations

import asyncio
import time

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from agent.probes.extras import MissingExtra
from agent.probes.verdict import judged
from shared.checks import SshCheck
from shared.conditions import Facts

# Lines a server may send before its identification string (RFC 4253 §4.2) are skipped, up to this many.
MAX_PRE_BANNER_LINES = 20
MAX_LINE_BYTES = 255  # the RFC's limit for the identification string, CR LF included
# Host key types asked for in turn when a fingerprint is pinned: first the ones OpenSSH makes
# by default, then the larger ECDSA curves (`ssh-keygen -t ecdsa -b 384|521`, RFC 5656), which a
# server offers only when its operator made such a key. One key exchange per type: a server
# shows one host key per exchange, the type both sides agreed on.
HOST_KEY_ALGORITHMS = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "rsa-sha2-512",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
)


@register("ssh")
async def probe_ssh(check: SshCheck, context: ProbeContext) -> Outcome:
    """Up when the server sends an SSH-2.0 banner, the pinned key (if any) matches and the conditions hold."""
    where = f"{check.host}:{check.port}"
    began = time.perf_counter()
    try:
        banner = await _banner(check)
    except ConnectionRefusedError:
        return judged(
            Outcome("down", f"connection refused ({where})"), check.conditions, Facts(connected=False)
        )
    except OSError as error:
        message = f"cannot connect to {where}: {error.strerror or error}"
        return judged(Outcome("down", message), check.conditions, Facts(connected=False))
    except ValueError as error:
        return Outcome("down", str(error))
    banner_ms = (time.perf_counter() - began) * 1000
    metrics = {"banner_ms": round(banner_ms, 3)}
    detail: dict[str, str | int | bool | None] = {"banner": banner}
    if not banner.startswith(("SSH-2.0-", "SSH-1.99-")):
        return Outcome("down", f"the server speaks no SSH 2 (banner {banner[:100]!r})", metrics, detail)
    if check.host_key_fingerprint is not None:
        seen = await _host_key_fingerprints(check)
        metrics["host_key_ms"] = round((time.perf_counter() - began) * 1000 - banner_ms, 3)
        if isinstance(seen, str):
            return Outcome("down", seen, metrics, detail)
        detail["host_key_fingerprint"] = next(iter(seen.values()), None)
        if check.host_key_fingerprint not in seen.values():
            got = ", ".join(f"{fingerprint} ({kind})" for kind, fingerprint in seen.items())
            message = f"host key changed: expected {check.host_key_fingerprint}, the server has {got}"
            return Outcome("down", message, metrics, detail)
        detail["host_key_fingerprint"] = check.host_key_fingerprint
    facts = Facts(banner=banner, connected=True, response_time_ms=banner_ms)
    return judged(Outcome("up", None, metrics, detail), check.conditions, facts)


async def _banner(check: SshCheck) -> str:
    """The server's identification string. Raises OSError (unreachable) or ValueError (not SSH)."""
    reader, writer = await asyncio.open_connection(check.host, check.port, limit=MAX_LINE_BYTES + 1)
    try:
        # Say who we are too, so the server logs a polite client rather than a scanner.
        writer.write(b"SSH-2.0-upwatch\r\n")
        for _ in range(MAX_PRE_BANNER_LINES):
            try:
                raw = await reader.readuntil(b"\n")
            except (asyncio.IncompleteReadError, ConnectionResetError):
                raise ValueError("the server closed the connection without an SSH banner") from None
            except asyncio.LimitOverrunError:
                raise ValueError(
                    f"the server sent a line longer than {MAX_LINE_BYTES} bytes, not an SSH banner"
                ) from None
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line.startswith("SSH-"):
                return line
        raise ValueError(f"no SSH banner in the first {MAX_PRE_BANNER_LINES} lines")
    except OSError as error:
        raise ValueError(f"connection broken before an SSH banner: {error.strerror or error}") from None
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def _host_key_fingerprints(check: SshCheck) -> dict[str, str] | str:
    """SHA256 fingerprint per host key type the server offers, or a sentence saying what failed."""
    try:
        import asyncssh
    except ImportError as error:
        raise MissingExtra("ssh", error) from None
    seen: dict[str, str] = {}
    failures: list[str] = []
    for algorithm in HOST_KEY_ALGORITHMS:
        try:
            key = await asyncssh.get_server_host_key(
                check.host,
                check.port,
                server_host_key_algs=[algorithm],
                config=None,  # not the agent user's ~/.ssh/config: the check says all there is
            )
        except (OSError, asyncssh.Error) as error:
            # A server without a key of this type ends the exchange (OpenSSH just hangs up).
            failures.append(f"{algorithm}: {getattr(error, 'strerror', None) or error}")
            continue
        if key is not None:
            fingerprint = str(key.get_fingerprint("sha256"))
            seen[algorithm] = fingerprint
            if fingerprint == check.host_key_fingerprint:
                return {algorithm: fingerprint}
    if not seen:
        return f"SSH key exchange with {check.host}:{check.port} failed ({'; '.join(failures)})"
    return seen

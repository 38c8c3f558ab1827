"""gRPC probe: the standard health protocol, `grpc.health.v1.Health/Check`, over TLS or plaintext.

grpclib (the extra `upwatch[grpc]`, imported only when a gRPC check runs) is a
pure-Python asyncio client: it runs on the agent's own event loop, with no
C core and no threads of its own. The answer's status (`SERVING`, `NOT_SERVING`,
`SERVICE_UNKNOWN`, `UNKNOWN`) is `[GRPC_STATUS]`; up when it is `SERVING`, or,
when a condition tests `[GRPC_STATUS]`, when the conditions hold. An empty
`service` asks about the server as a whole. A server without the health
service answers UNIMPLEMENTED, an unknown service NOT_FOUND: both down, saying so.
`server_name` replaces `host` as the name the server sees and the certificate
must carry: the TLS SNI and verified name (grpclib's `ssl_target_name_override`)
and the HTTP/2 `:authority` (like grpcio's `grpc.default_authority`), for a
server reached by address or behind a proxy that routes by name.
Metrics: `rpc_ms` (connect, TLS, HTTP/2 and the call).
"""

from __future__ import annotations

import ssl
import time

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from agent.probes.extras import MissingExtra
from agent.probes.tls import lax_context
from agent.probes.verdict import judged
from shared.checks import GrpcCheck
from shared.conditions import Facts

_CONTEXTS: dict[str | None, ssl.SSLContext] = {}


def _tls_context(check: GrpcCheck) -> ssl.SSLContext:
    """A verifying context offering HTTP/2 by ALPN (gRPC servers require it), one per CA file."""
    if not check.verify_tls:
        context = lax_context()
        context.set_alpn_protocols(["h2"])
        return context
    if check.ca_file not in _CONTEXTS:
        context = ssl.create_default_context(cafile=check.ca_file)
        context.set_alpn_protocols(["h2"])
        _CONTEXTS[check.ca_file] = context
    return _CONTEXTS[check.ca_file]


@register("grpc")
async def probe_grpc(check: GrpcCheck, context: ProbeContext) -> Outcome:
    """Ask the server's health service about `service`; down when unreachable or not SERVING."""
    try:
        from grpclib.client import Channel
        from grpclib.config import Configuration
        from grpclib.exceptions import GRPCError, StreamTerminatedError
        from grpclib.health.v1.health_grpc import HealthStub
        from grpclib.health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse
    except ImportError as error:
        raise MissingExtra("grpc", error) from None
    where = f"{check.host}:{check.port}"
    tls: ssl.SSLContext | None = None
    if check.tls:
        try:
            tls = _tls_context(check)
        except (OSError, ssl.SSLError) as error:
            return Outcome("down", f"cannot load ca_file {check.ca_file}: {error}")
    began = time.perf_counter()
    channel = Channel(
        check.host, check.port, ssl=tls, config=Configuration(ssl_target_name_override=check.server_name)
    )
    if check.server_name is not None:
        # grpclib takes :authority from host:port and has no parameter for it; its Channel
        # reads this attribute for every request (checked against grpclib 0.4.9).
        channel._authority = channel._get_authority(check.server_name, check.port)
    try:
        # The call's own deadline ends a little before the check's, so the result says what hung.
        response = await HealthStub(channel).Check(
            HealthCheckRequest(service=check.service), timeout=check.timeout.total_seconds() * 0.9
        )
    except GRPCError as error:
        return Outcome("down", _grpc_error(error, check))
    except ssl.SSLCertVerificationError as error:
        return Outcome("down", f"TLS certificate error: {error.verify_message or error}")
    except ssl.SSLError as error:
        return Outcome("down", f"TLS handshake failed: {error.reason or error}")
    except TimeoutError:
        waited = time.perf_counter() - began
        return Outcome("down", f"no answer to the health check from {where} within {waited:.1f}s")
    except ConnectionRefusedError:
        return judged(
            Outcome("down", f"connection refused ({where})"), check.conditions, Facts(connected=False)
        )
    except (OSError, StreamTerminatedError) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        return judged(
            Outcome("down", f"cannot reach gRPC at {where}: {reason}"),
            check.conditions,
            Facts(connected=False),
        )
    finally:
        channel.close()
    rpc_ms = (time.perf_counter() - began) * 1000
    status = HealthCheckResponse.ServingStatus.Name(response.status)
    metrics = {"rpc_ms": round(rpc_ms, 3)}
    detail: dict[str, str | int | bool | None] = {"grpc_status": status, "service": check.service or None}
    outcome = Outcome("up", None, metrics, detail)
    tests_status = any(c.placeholder == "GRPC_STATUS" for c in check.conditions)
    if status != "SERVING" and not tests_status:
        named = f"service {check.service!r}" if check.service else "the server"
        outcome = Outcome("down", f"health check of {named} answered {status}", metrics, detail)
    return judged(
        outcome, check.conditions, Facts(grpc_status=status, connected=True, response_time_ms=rpc_ms)
    )


def _grpc_error(error: object, check: GrpcCheck) -> str:
    status = getattr(error, "status", None)
    name = getattr(status, "name", str(status))
    message = getattr(error, "message", None) or ""
    if name == "UNIMPLEMENTED":
        return "the server does not implement grpc.health.v1.Health (UNIMPLEMENTED)"
    if name == "NOT_FOUND" and check.service:
        return f"the health service knows no service {check.service!r} (NOT_FOUND)"
    if name == "UNAVAILABLE":
        return f"gRPC server unavailable: {message}".rstrip(": ")
    return f"health check failed with gRPC status {name}: {message}".rstrip(": ")

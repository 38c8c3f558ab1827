"""The ssh probe against Debian's OpenSSH server (a throwaway host key on a loopback port), the
grpc probe against the reference gRPC server's health service (plaintext and TLS), and the
clear `down` both give when their optional extra is missing."""

from __future__ import annotations

import asyncio
import builtins
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from agent.probes import run_check
from agent.probes.context import ProbeContext
from shared.checks import describe_error, parse_check
from tests.agent.conftest import closed_port
from tests.agent.loopback_servers import Sshd, grpc_health_server, sshd_server
from tests.agent.tlsutil import Pki, make_pki

OTHER_FINGERPRINT = "SHA256:" + "A" * 43


@pytest.fixture(scope="module")
def sshd() -> Iterator[Sshd]:
    if not (shutil.which("sshd") or shutil.which("/usr/sbin/sshd")):
        pytest.skip("sshd is not installed (scripts/test-setup.sh installs openssh-server)")
    with sshd_server() as server:
        yield server


@pytest.fixture
async def line_server() -> AsyncIterator[Callable[[bytes | None], Awaitable[int]]]:
    servers: list[asyncio.Server] = []

    async def start(greeting: bytes | None) -> int:
        async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if greeting is not None:
                writer.write(greeting)
                await writer.drain()
                writer.close()
                return
            await reader.read()

        server = await asyncio.start_server(session, "127.0.0.1", 0)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start
    for server in servers:
        server.close()


def ssh(port: int, **fields: Any) -> Any:
    return parse_check({"id": "ssh-check", "kind": "ssh", "host": "127.0.0.1", "port": port, **fields})


async def test_ssh_banner_and_pinned_host_key(context: ProbeContext, sshd: Sshd) -> None:
    banner = await run_check(ssh(sshd.port, conditions=["[BANNER] == pat(SSH-2.0-OpenSSH_*)"]), context)
    assert (banner.status, banner.error) == ("up", None)
    assert str(banner.detail["banner"]).startswith("SSH-2.0-OpenSSH_")
    pinned = await run_check(ssh(sshd.port, host_key_fingerprint=sshd.fingerprint), context)
    assert (pinned.status, pinned.error) == ("up", None)
    assert pinned.detail["host_key_fingerprint"] == sshd.fingerprint
    assert "host_key_ms" in pinned.metrics


async def test_ssh_changed_host_key_names_both_fingerprints(context: ProbeContext, sshd: Sshd) -> None:
    result = await run_check(ssh(sshd.port, host_key_fingerprint=OTHER_FINGERPRINT), context)
    assert result.status == "down"
    assert result.error == (
        f"host key changed: expected {OTHER_FINGERPRINT}, the server has {sshd.fingerprint} (ssh-ed25519)"
    )


async def test_ssh_pins_larger_ecdsa_host_keys(context: ProbeContext) -> None:
    """A server whose only host keys are ECDSA P-384 and P-521: each can be pinned."""
    if not (shutil.which("sshd") or shutil.which("/usr/sbin/sshd")):
        pytest.skip("sshd is not installed (scripts/test-setup.sh installs openssh-server)")
    with sshd_server(("ecdsa-384", "ecdsa-521")) as server:
        for key_type in ("ecdsa-384", "ecdsa-521"):
            pinned = await run_check(
                ssh(server.port, host_key_fingerprint=server.fingerprints[key_type]), context
            )
            assert (pinned.status, pinned.error) == ("up", None), key_type
            assert pinned.detail["host_key_fingerprint"] == server.fingerprints[key_type]
        changed = await run_check(ssh(server.port, host_key_fingerprint=OTHER_FINGERPRINT), context)
    assert changed.error == (
        f"host key changed: expected {OTHER_FINGERPRINT}, the server has"
        f" {server.fingerprints['ecdsa-384']} (ecdsa-sha2-nistp384),"
        f" {server.fingerprints['ecdsa-521']} (ecdsa-sha2-nistp521)"
    )


async def test_ssh_down_cases(
    context: ProbeContext, sshd: Sshd, line_server: Callable[[bytes | None], Awaitable[int]]
) -> None:
    condition = await run_check(ssh(sshd.port, conditions=["[BANNER] == pat(*dropbear*)"]), context)
    assert condition.status == "down"
    assert condition.error is not None and condition.error.startswith(
        "[BANNER]: expected pat(*dropbear*), got SSH-2.0-OpenSSH_"
    )
    port = closed_port()
    refused = await run_check(ssh(port), context)
    assert (refused.status, refused.error) == ("down", f"connection refused (127.0.0.1:{port})")
    assert (await run_check(ssh(port, conditions=["[CONNECTED] == false"]), context)).status == "up"
    not_ssh = await run_check(ssh(await line_server(b"220 mail.test ESMTP\r\n")), context)
    assert (not_ssh.status, not_ssh.error) == (
        "down",
        "the server closed the connection without an SSH banner",
    )
    old = await run_check(ssh(await line_server(b"SSH-1.5-ancient\r\n")), context)
    assert (old.status, old.error) == ("down", "the server speaks no SSH 2 (banner 'SSH-1.5-ancient')")
    silent = await run_check(ssh(await line_server(None), timeout="0.3s", interval="10s"), context)
    assert (silent.status, silent.error) == ("down", "timed out after 0.3s")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"host_key_fingerprint": "MD5:aa:bb"},
            "checks[0].host_key_fingerprint: String should match pattern",
        ),
        ({"conditions": ["[BODY] == x"]}, "[BODY] is not available here"),
        ({"port": "ssh"}, "checks[0].port: Input should be a valid integer"),
    ],
)
def test_bad_ssh_config_names_the_key(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_check({"id": "s", "kind": "ssh", "host": "bastion.test", **fields})
    assert message in describe_error(caught.value, "checks[0]")


# ---------------------------------------------------------------------------- gRPC


@pytest.fixture(scope="module")
def grpc_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("grpc-pki"))


@pytest.fixture(scope="module")
def grpc_ports(grpc_pki: Pki) -> Iterator[tuple[int, int]]:
    """The reference server, started once for the module (a subprocess: about a second)."""
    with grpc_health_server(grpc_pki.directory / "valid.pem", grpc_pki.directory / "valid.key") as ports:
        yield ports


def grpc(port: int, **fields: Any) -> Any:
    return parse_check({"id": "grpc-check", "kind": "grpc", "host": "127.0.0.1", "port": port, **fields})


async def test_grpc_health_serving(context: ProbeContext, grpc_ports: tuple[int, int], grpc_pki: Pki) -> None:
    plain, tls_port = grpc_ports
    server = await run_check(grpc(plain), context)
    assert (server.status, server.error) == ("up", None)
    assert server.detail["grpc_status"] == "SERVING"
    orders = await run_check(grpc(plain, service="orders", conditions=["[GRPC_STATUS] == SERVING"]), context)
    assert (orders.status, orders.error) == ("up", None)
    tls = await run_check(grpc(tls_port, tls=True, ca_file=str(grpc_pki.ca_file)), context)
    assert (tls.status, tls.error) == ("up", None)
    # A condition on [GRPC_STATUS] decides by itself: NOT_SERVING may be what is wanted.
    draining = grpc(plain, service="billing", conditions=["[GRPC_STATUS] == NOT_SERVING"])
    assert (await run_check(draining, context)).status == "up"


async def test_grpc_server_name_is_the_name_tls_verifies(
    context: ProbeContext, grpc_ports: tuple[int, int], grpc_pki: Pki
) -> None:
    """Reached by address, the server is verified under server_name: its certificate names
    localhost (and 127.0.0.1), not other.example."""
    _, tls_port = grpc_ports
    by_name = grpc(tls_port, tls=True, ca_file=str(grpc_pki.ca_file), server_name="localhost")
    assert ((result := await run_check(by_name, context)).status, result.error) == ("up", None)
    wrong = grpc(tls_port, tls=True, ca_file=str(grpc_pki.ca_file), server_name="other.example")
    mismatch = await run_check(wrong, context)
    assert mismatch.status == "down"
    assert mismatch.error is not None and mismatch.error.startswith("TLS certificate error: ")
    assert "other.example" in mismatch.error


async def test_grpc_down_cases(context: ProbeContext, grpc_ports: tuple[int, int]) -> None:
    plain, tls_port = grpc_ports
    billing = await run_check(grpc(plain, service="billing"), context)
    assert (billing.status, billing.error) == (
        "down",
        "health check of service 'billing' answered NOT_SERVING",
    )
    unknown = await run_check(grpc(plain, service="nope"), context)
    assert (unknown.status, unknown.error) == (
        "down",
        "the health service knows no service 'nope' (NOT_FOUND)",
    )
    condition = await run_check(
        grpc(plain, service="billing", conditions=["[GRPC_STATUS] == SERVING"]), context
    )
    assert (condition.status, condition.error) == ("down", "[GRPC_STATUS]: expected SERVING, got NOT_SERVING")
    untrusted = await run_check(grpc(tls_port, tls=True), context)
    assert untrusted.status == "down"
    assert untrusted.error is not None and untrusted.error.startswith("TLS certificate error: ")
    port = closed_port()
    refused = await run_check(grpc(port), context)
    assert refused.status == "down"
    assert refused.error is not None and f"127.0.0.1:{port}" in refused.error


async def test_grpc_silent_server_times_out(
    context: ProbeContext, line_server: Callable[[bytes | None], Awaitable[int]]
) -> None:
    port = await line_server(None)
    silent = await run_check(grpc(port, timeout="0.5s", interval="10s"), context)
    assert (silent.status, silent.error) == (
        "down",
        f"no answer to the health check from 127.0.0.1:{port} within 0.5s",
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"conditions": ["[STATUS] == 200"]}, "[STATUS] is not available here"),
        ({"tls": "yes please"}, "checks[0].tls: Input should be a valid boolean"),
        ({"service": "x" * 501}, "checks[0].service: String should have at most 500 characters"),
        ({"server_name": "api.test/x"}, "checks[0].server_name: String should match pattern"),
    ],
)
def test_bad_grpc_config_names_the_key(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_check({"id": "g", "kind": "grpc", "host": "api.test", "port": 50051, **fields})
    assert message in describe_error(caught.value, "checks[0]")


# ---------------------------------------------------------------------------- missing extras


@pytest.mark.parametrize(
    ("check", "extra", "module"),
    [
        (
            {"kind": "ssh", "host": "127.0.0.1", "port": 22, "host_key_fingerprint": OTHER_FINGERPRINT},
            "ssh",
            "asyncssh",
        ),
        ({"kind": "grpc", "host": "127.0.0.1", "port": 50051}, "grpc", "grpclib"),
    ],
)
async def test_a_missing_extra_is_a_clear_down(
    context: ProbeContext,
    monkeypatch: pytest.MonkeyPatch,
    sshd: Sshd,
    check: dict[str, Any],
    extra: str,
    module: str,
) -> None:
    """The one narrow seam: the import of the extra's library fails, as on an agent without it."""
    real_import = builtins.__import__

    def without(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == module or name.startswith(f"{module}."):
            raise ModuleNotFoundError(f"No module named {module!r}", name=module)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without)
    if extra == "ssh":
        check = {**check, "port": sshd.port}  # the banner needs no extra; the key exchange does
    result = await run_check(parse_check({"id": "x", **check}), context)
    assert result.status == "down"
    assert result.error == (
        f"the {extra} check kind needs the optional extra upwatch[{extra}]"
        f" (pip install 'upwatch[{extra}]'); missing module: {module}"
    )

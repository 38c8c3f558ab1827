"""Throwaway real servers for the mail, SSH and gRPC probe tests, on loopback ports.

- Debian's dovecot (IMAP and POP3, plain with STARTTLS and implicit TLS), run in
  the foreground (`dovecot -F -c CONFIG`) from a temporary directory;
- Debian's OpenSSH server (`sshd -D -f CONFIG -p PORT`) with a throwaway host key;
- the reference gRPC server (grpcio) with the standard health service, in a
  subprocess: grpclib (what the probe uses) and grpcio's health module register
  the same protobuf names, which one process cannot hold twice.

Each context manager starts the process in its own session, waits until it
answers, yields what the test needs and stops the process group. The packages
come from scripts/test-setup.sh.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import free_port, start, stop, wait_for


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _binary(name: str, *candidates: str) -> str:
    found = shutil.which(name) or next((path for path in candidates if Path(path).exists()), None)
    if found is None:
        raise RuntimeError(f"{name} is not installed; run scripts/test-setup.sh as root")
    return found


@dataclass(frozen=True)
class Dovecot:
    """Ports of a throwaway dovecot: plain (STARTTLS offered) and implicit TLS, for IMAP and POP3."""

    imap: int
    imaps: int
    pop3: int
    pop3s: int
    greeting: str


DOVECOT_CONFIG = """\
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
login_greeting = {greeting}
passdb {{
  driver = static
  args = nopassword=y
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={dir}/home
}}
mail_location = maildir:{dir}/home/Maildir
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = {pop3s}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""


@contextmanager
def dovecot_server(cert: Path, key: Path, greeting: str = "upwatch test dovecot ready.") -> Iterator[Dovecot]:
    """dovecot serving IMAP and POP3 with the given certificate, on four free loopback ports."""
    binary = _binary("dovecot", "/usr/sbin/dovecot")
    directory = Path(tempfile.mkdtemp(prefix="upwatch-dovecot-"))
    for name in ("run", "state", "home"):
        (directory / name).mkdir()
    ports = Dovecot(free_port(), free_port(), free_port(), free_port(), greeting)
    config = directory / "dovecot.conf"
    config.write_text(
        DOVECOT_CONFIG.format(
            dir=directory,
            cert=cert,
            key=key,
            greeting=greeting,
            imap=ports.imap,
            imaps=ports.imaps,
            pop3=ports.pop3,
            pop3s=ports.pop3s,
        )
    )
    process = start([binary, "-F", "-c", str(config)], {}, directory / "stdout.log")
    try:
        wait_for(lambda: process.poll() is not None or all(map(_accepts, (ports.imap, ports.pop3s))), 30)
        if process.poll() is not None:
            log = (directory / "dovecot.log").read_text() if (directory / "dovecot.log").exists() else ""
            raise RuntimeError(f"dovecot did not start: {(directory / 'stdout.log').read_text()}{log}")
        yield ports
    finally:
        stop(process)
        shutil.rmtree(directory, ignore_errors=True)


@dataclass(frozen=True)
class Sshd:
    """A throwaway OpenSSH server: its port, its first host key's SHA256 fingerprint, and the
    fingerprint of each host key by `ssh-keygen -t` type and size (e.g. "ecdsa-384")."""

    port: int
    fingerprint: str
    fingerprints: dict[str, str] = field(default_factory=dict)


@contextmanager
def sshd_server(key_types: tuple[str, ...] = ("ed25519",)) -> Iterator[Sshd]:
    """Debian's sshd in the foreground with fresh host keys (one per `key_types` entry, "ed25519"
    or "ecdsa-384" style) and no way to log in."""
    binary = _binary("sshd", "/usr/sbin/sshd")
    directory = Path(tempfile.mkdtemp(prefix="upwatch-sshd-"))
    fingerprints: dict[str, str] = {}
    host_keys: list[Path] = []
    for key_type in key_types:
        kind, _, bits = key_type.partition("-")
        host_key = directory / f"host_{kind}{bits}"
        size = ["-b", bits] if bits else []
        subprocess.run(
            ["ssh-keygen", "-q", "-t", kind, *size, "-N", "", "-f", str(host_key)],
            check=True,
            capture_output=True,
        )
        listed = subprocess.run(
            ["ssh-keygen", "-l", "-E", "sha256", "-f", str(host_key)],
            check=True,
            capture_output=True,
            text=True,
        )
        fingerprints[key_type] = listed.stdout.split()[1]
        host_keys.append(host_key)
    port = free_port()
    config = directory / "sshd_config"
    config.write_text(
        "".join(f"HostKey {host_key}\n" for host_key in host_keys)
        + f"ListenAddress 127.0.0.1\nPidFile {directory}/sshd.pid\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication no\n"
        "UsePAM no\nAuthorizedKeysFile none\n"
    )
    # sshd wants its privilege-separation directory even in the foreground.
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    process = start([binary, "-D", "-e", "-f", str(config), "-p", str(port)], {}, directory / "sshd.log")
    try:
        wait_for(lambda: process.poll() is not None or _accepts(port), 30)
        if process.poll() is not None:
            raise RuntimeError(f"sshd did not start: {(directory / 'sshd.log').read_text()}")
        yield Sshd(port, fingerprints[key_types[0]], fingerprints)
    finally:
        stop(process)
        shutil.rmtree(directory, ignore_errors=True)


GRPC_SERVER = """
import sys, time
from concurrent import futures
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
servicer = health.HealthServicer()
servicer.set("", health_pb2.HealthCheckResponse.SERVING)
servicer.set("orders", health_pb2.HealthCheckResponse.SERVING)
servicer.set("billing", health_pb2.HealthCheckResponse.NOT_SERVING)
health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
server.add_insecure_port(f"127.0.0.1:{port}")
if cert:
    credentials = grpc.ssl_server_credentials([(open(key, "rb").read(), open(cert, "rb").read())])
    server.add_secure_port(f"127.0.0.1:{port + 1}", credentials)
server.start()
print("serving", flush=True)
server.wait_for_termination()
"""


@contextmanager
def grpc_health_server(cert: Path, key: Path) -> Iterator[tuple[int, int]]:
    """grpcio's health service: "" and "orders" SERVING, "billing" NOT_SERVING.

    Yields (plaintext port, TLS port); the TLS port is the plaintext one plus one.
    """
    directory = Path(tempfile.mkdtemp(prefix="upwatch-grpc-"))
    port = free_port()
    while not _free(port + 1):
        port = free_port()
    env = {"PYTHONPATH": os.pathsep.join(sys.path)}
    process = start(
        [sys.executable, "-c", GRPC_SERVER, str(port), str(cert), str(key)], env, directory / "grpc.log"
    )
    try:
        wait_for(lambda: process.poll() is not None or (_accepts(port) and _accepts(port + 1)), 60)
        if process.poll() is not None:
            raise RuntimeError(f"the gRPC server did not start: {(directory / 'grpc.log').read_text()}")
        yield port, port + 1
    finally:
        stop(process)
        shutil.rmtree(directory, ignore_errors=True)


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True

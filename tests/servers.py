"""Throwaway real servers for tests: PostgreSQL, MariaDB, Redis and snmpd on loopback ports.

Each context manager creates a temporary directory, starts the Debian server
binary on 127.0.0.1 (never a system service), waits until it answers, yields its
address and credentials, then stops the process group and removes the directory.
Tests run as root, and PostgreSQL and MariaDB refuse to run as root: their data
directories belong to the packages' own system users (`postgres`, `mysql`).
scripts/test-setup.sh installs the packages. Use them from module-scoped
fixtures: each server starts once per test module.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import free_port, start, stop, wait_for

POSTGRESQL_BIN = Path("/usr/lib/postgresql")


@dataclass(frozen=True)
class Server:
    """Where a throwaway server listens and how to log in (user may be empty)."""

    host: str
    port: int
    user: str
    password: str
    directory: Path


def _binary(name: str, *candidates: Path) -> str:
    found = shutil.which(name) or next((str(path) for path in candidates if path.exists()), None)
    if found is None:
        raise RuntimeError(f"{name} is not installed; run scripts/test-setup.sh as root")
    return found


def _owned_tempdir(prefix: str, owner: str) -> Path:
    """A temporary directory the service user can write (pytest's tmp dirs are root-only)."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        entry = pwd.getpwnam(owner)
        os.chown(directory, entry.pw_uid, entry.pw_gid)
    directory.chmod(0o755)
    return directory


def _as_user(owner: str, args: list[str]) -> list[str]:
    return ["runuser", "-u", owner, "--", *args] if os.geteuid() == 0 else args


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _postgresql_tool(name: str) -> str:
    versions = sorted(POSTGRESQL_BIN.glob(f"*/bin/{name}"), key=lambda path: int(path.parts[-3]))
    return _binary(name, *reversed(versions))


@contextmanager
def postgresql_server(password: str = "pg-Secret-41") -> Iterator[Server]:
    """A PostgreSQL cluster (initdb) with SCRAM logins on a loopback port; superuser `postgres`."""
    directory = _owned_tempdir("upwatch-pg-", "postgres")
    data = directory / "data"
    secret_file = directory / "pwfile"
    secret_file.write_text(password + "\n")
    shutil.chown(secret_file, "postgres") if os.geteuid() == 0 else None
    initdb = [_postgresql_tool("initdb"), "-D", str(data), "-U", "postgres", "--pwfile", str(secret_file)]
    initdb += ["--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"]
    subprocess.run(_as_user("postgres", initdb), check=True, capture_output=True)  # noqa: S603
    port = free_port()
    args = [
        _postgresql_tool("postgres"),
        "-D",
        str(data),
        "-p",
        str(port),
        "-c",
        "listen_addresses=127.0.0.1",
    ]
    args += ["-c", f"unix_socket_directories={directory}", "-c", "fsync=off", "-c", "max_connections=20"]
    process = start(_as_user("postgres", args), {}, directory / "server.log")
    try:
        wait_for(lambda: _accepts(port) or process.poll() is not None, timeout_s=30)
        if process.poll() is not None:
            raise RuntimeError((directory / "server.log").read_text())
        yield Server("127.0.0.1", port, "postgres", password, directory)
    finally:
        stop(process, signal.SIGQUIT)  # PostgreSQL's immediate shutdown: throwaway data
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def mariadb_server(user: str = "watcher", password: str = "my-Secret-42") -> Iterator[Server]:
    """A MariaDB server (mariadb-install-db) on a loopback port with one password login `user`,
    who may read everything and write the table `probe.ticks`."""
    directory = _owned_tempdir("upwatch-mariadb-", "mysql")
    data = directory / "data"
    install = [_binary("mariadb-install-db"), "--no-defaults", f"--datadir={data}", "--user=mysql"]
    install += ["--auth-root-authentication-method=socket", "--skip-test-db"]
    subprocess.run(install, check=True, capture_output=True)  # noqa: S603
    init = directory / "init.sql"
    init.write_text(
        f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}';\n"
        f"GRANT SELECT, PROCESS ON *.* TO '{user}'@'%';\n"
        "CREATE DATABASE IF NOT EXISTS probe;\n"
        "CREATE TABLE IF NOT EXISTS probe.ticks (id INT);\n"
        f"GRANT ALL ON probe.* TO '{user}'@'%';\n"
    )
    shutil.chown(init, "mysql") if os.geteuid() == 0 else None
    port = free_port()
    args = [_binary("mariadbd", Path("/usr/sbin/mariadbd")), "--no-defaults", f"--datadir={data}"]
    args += [f"--port={port}", "--bind-address=127.0.0.1", f"--socket={directory / 'mysqld.sock'}"]
    args += ["--user=mysql", f"--init-file={init}", "--skip-log-bin", "--innodb-buffer-pool-size=16M"]
    args += [f"--pid-file={directory / 'mysqld.pid'}", "--skip-name-resolve"]
    process = start(args, {}, directory / "server.log")
    try:
        wait_for(lambda: _accepts(port) or process.poll() is not None, timeout_s=60)
        if process.poll() is not None:
            raise RuntimeError((directory / "server.log").read_text())
        yield Server("127.0.0.1", port, user, password, directory)
    finally:
        stop(process, signal.SIGKILL)  # throwaway data: no clean InnoDB shutdown needed
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def redis_server(password: str = "rd-Secret-43") -> Iterator[Server]:
    """redis-server with `requirepass`, no persistence, on a loopback port."""
    directory = Path(tempfile.mkdtemp(prefix="upwatch-redis-"))
    port = free_port()
    args = [_binary("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--requirepass", password]
    args += ["--save", "", "--appendonly", "no", "--dir", str(directory), "--protected-mode", "no"]
    process = start(args, {}, directory / "server.log")
    try:
        wait_for(lambda: _accepts(port) or process.poll() is not None, timeout_s=20)
        if process.poll() is not None:
            raise RuntimeError((directory / "server.log").read_text())
        yield Server("127.0.0.1", port, "", password, directory)
    finally:
        stop(process)
        shutil.rmtree(directory, ignore_errors=True)


@dataclass(frozen=True)
class SnmpAgent:
    """A throwaway snmpd: a v2c community and a v3 user with SHA authentication and AES privacy."""

    host: str
    port: int
    community: str
    user: str
    auth_key: str
    priv_key: str
    directory: Path


@contextmanager
def snmpd_server(
    community: str = "co-Secret-44",
    user: str = "watcher",
    auth_key: str = "au-Secret-45",
    priv_key: str = "pr-Secret-46",
) -> Iterator[SnmpAgent]:
    """snmpd on a loopback UDP port, reading only its own config (no MIB files needed)."""
    directory = Path(tempfile.mkdtemp(prefix="upwatch-snmpd-"))
    config = directory / "snmpd.conf"
    config.write_text(
        f"rocommunity {community} 127.0.0.1\n"
        f'createUser {user} SHA "{auth_key}" AES "{priv_key}"\n'
        f"rouser {user} priv\n"
        "sysLocation upwatch test rack\n"
        "sysContact ops@acme.test\n"
    )
    port = _free_udp_port()
    args = [_binary("snmpd", Path("/usr/sbin/snmpd")), "-f", "-Lo", "-C", "-c", str(config)]
    args += ["-M", "/nonexistent", "-p", str(directory / "snmpd.pid"), f"udp:127.0.0.1:{port}"]
    env = {"SNMP_PERSISTENT_DIR": str(directory), "MIBS": ""}
    process = start(args, env, directory / "server.log")
    try:
        probe = [_binary("snmpget"), "-v2c", "-c", community, "-r0", "-t0.5", "-On", f"127.0.0.1:{port}"]
        probe.append("1.3.6.1.2.1.1.3.0")
        wait_for(lambda: process.poll() is not None or _answers(probe), timeout_s=20)
        if process.poll() is not None:
            raise RuntimeError((directory / "server.log").read_text())
        yield SnmpAgent("127.0.0.1", port, community, user, auth_key, priv_key, directory)
    finally:
        stop(process)
        shutil.rmtree(directory, ignore_errors=True)


def _answers(command: list[str]) -> bool:
    return subprocess.run(command, capture_output=True, check=False).returncode == 0  # noqa: S603


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

"""Locations for process tests: network namespaces the test creates, joined to the host by veth pairs.

Each location is a namespace with one veth link to the host; the collector and
the target listen on a "service" address that lives on a veth pair kept on the
host (no dummy module needed). Traffic stays inside what the test created.
Where namespaces are not allowed (not root, no iproute2, a sandbox), `create`
returns None and tests fall back to loopback addresses.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field


def _ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = ["ip", *args] if netns is None else ["ip", "netns", "exec", netns, "ip", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=20, check=check)  # noqa: S603


@dataclass
class Locations:
    """`count` namespaces; `service_ip` is reachable from all of them and from the host."""

    tag: str
    namespaces: list[str]
    service_ip: str  # the collector listens here
    target_ip: str  # the monitored target listens here (cut off separately)
    links: list[str] = field(default_factory=list)
    cut: set[tuple[int, str]] = field(default_factory=set)

    @classmethod
    def create(cls, count: int = 3) -> Locations | None:
        if os.geteuid() != 0 or shutil.which("ip") is None:
            return None
        tag = secrets.token_hex(2)
        subnet = _free_subnet()
        if subnet is None:
            return None
        base = int(subnet.network_address)
        service_ip = str(ipaddress.ip_address(base + 254))
        target_ip = str(ipaddress.ip_address(base + 253))
        created = cls(tag, [], service_ip, target_ip)
        try:
            service_link = f"uw{tag}s"
            _ip("link", "add", service_link, "type", "veth", "peer", "name", f"uw{tag}t")
            created.links.append(service_link)
            _ip("addr", "add", f"{service_ip}/32", "dev", service_link)
            _ip("addr", "add", f"{target_ip}/32", "dev", service_link)
            _ip("link", "set", service_link, "up")
            _ip("link", "set", f"uw{tag}t", "up")
            for index in range(count):
                namespace = f"uw{tag}n{index}"
                host_link, ns_link = f"uw{tag}h{index}", f"uw{tag}l{index}"
                host_ip = str(ipaddress.ip_address(base + 4 * index + 1))
                ns_ip = str(ipaddress.ip_address(base + 4 * index + 2))
                _ip("netns", "add", namespace)
                created.namespaces.append(namespace)
                _ip("link", "add", host_link, "type", "veth", "peer", "name", ns_link)
                created.links.append(host_link)
                _ip("link", "set", ns_link, "netns", namespace)
                _ip("addr", "add", f"{host_ip}/30", "dev", host_link)
                _ip("link", "set", host_link, "up")
                _ip("addr", "add", f"{ns_ip}/30", "dev", ns_link, netns=namespace)
                _ip("link", "set", ns_link, "up", netns=namespace)
                _ip("link", "set", "lo", "up", netns=namespace)
                _ip("route", "add", "default", "via", host_ip, netns=namespace)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
            created.close()
            return None
        return created

    def wrap(self, index: int, argv: list[str]) -> list[str]:
        """The command line that runs `argv` inside location `index`."""
        return ["ip", "netns", "exec", self.namespaces[index], *argv]

    def cut_off(self, index: int, address: str) -> None:
        """Location `index` can no longer reach `address` (connects fail at once)."""
        _ip("route", "add", "prohibit", f"{address}/32", netns=self.namespaces[index])
        self.cut.add((index, address))

    def reconnect(self, index: int, address: str) -> None:
        _ip("route", "del", "prohibit", f"{address}/32", netns=self.namespaces[index], check=False)
        self.cut.discard((index, address))

    def close(self) -> None:
        for namespace in self.namespaces:
            _ip("netns", "del", namespace, check=False)
        for link in self.links:
            _ip("link", "del", link, check=False)
        self.namespaces.clear()
        self.links.clear()


def _free_subnet() -> ipaddress.IPv4Network | None:
    """A /24 in 10.200-249.x.0 that no interface of this machine uses."""
    used = _ip("-o", "-4", "addr", check=False).stdout
    for _ in range(20):
        candidate = ipaddress.ip_network(f"10.{200 + secrets.randbelow(50)}.{secrets.randbelow(256)}.0/24")
        prefix = ".".join(str(candidate.network_address).split(".")[:3]) + "."
        if prefix not in used:
            return candidate
    return None

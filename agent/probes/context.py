"""What probes get from the outside world, passed in so tests can swap it."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import aiohttp
import psutil

from agent.allowlist import AllowList
from agent.drill import DrillBook
from shared.timeutil import Clock, utcnow


@dataclass
class ProbeContext:
    """The I/O a probe may use: one shared HTTP session, psutil, a clock; and the drill book
    that says which checks must fail on purpose.

    `allow` is the host's allow-list: a check it refuses never reaches its probe
    (the daemon and `upwatch-agent check` always pass the one from the agent's
    config; None, for probe tests, runs everything).

    `environ` is the agent's environment, where secrets named by checks are read.
    `memory` keeps what a probe must remember between runs of one check (host
    thresholds with a duration remember since when they have been breached),
    keyed by check id; it lives as long as the agent process.
    """

    session: aiohttp.ClientSession
    clock: Clock = utcnow
    psutil: ModuleType | Any = field(default=psutil)
    memory: dict[str, dict[str, Any]] = field(default_factory=dict)
    statvfs: Callable[[str], Any] = os.statvfs
    drills: DrillBook = field(default_factory=DrillBook)
    allow: AllowList | None = None
    # Where checks' secrets ({ env = ... } and { credential = ... }) are read from.
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def memory_of(self, check_id: str) -> dict[str, Any]:
        return self.memory.setdefault(check_id, {})

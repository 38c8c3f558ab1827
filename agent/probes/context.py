"""What probes get from the outside world, passed in so tests can swap it."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import aiohttp
import psutil

from shared.timeutil import Clock, utcnow


@dataclass
class ProbeContext:
    """The I/O a probe may use: one shared HTTP session, psutil, a clock."""

    session: aiohttp.ClientSession
    clock: Clock = utcnow
    psutil: ModuleType | Any = field(default=psutil)

"""Host thresholds with an optional duration: `cpu > 90 for 5m`, `disk >= 85`, `load > 2 for 10m`.

Parsed once at config time; evaluated on the agent, which remembers since when
each threshold has been breached (a spike shorter than the duration is not
reported). Metrics:

    cpu      CPU busy percent              memory   memory used percent
    swap     swap used percent             load     1-minute load average per core
    disk     used percent of each mount    inodes   inodes used percent of each mount
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from shared.timeutil import format_duration, parse_duration

THRESHOLD_METRICS = ("cpu", "memory", "swap", "load", "disk", "inodes")
_THRESHOLD_RE = re.compile(
    r"^(?P<metric>[a-z]+)\s*(?P<op>>=|<=|>|<)\s*(?P<limit>\d+(?:\.\d+)?)\s*%?"
    r"(?:\s+for\s+(?P<duration>\S+))?$"
)


@dataclass(frozen=True)
class Threshold:
    """A limit on one host metric, breached only when it holds for `duration`."""

    text: str
    metric: str
    operator: str
    limit: float
    duration: timedelta = timedelta(0)

    def __str__(self) -> str:
        return self.text

    def breached_by(self, value: float) -> bool:
        return {
            ">": value > self.limit,
            ">=": value >= self.limit,
            "<": value < self.limit,
            "<=": value <= self.limit,
        }[self.operator]

    def describe(self, subject: str, value: float, held_for: timedelta | None) -> str:
        """A person's sentence: "cpu 97.0% > 90 for 5m 10s"."""
        unit = "" if self.metric == "load" else "%"
        text = f"{subject} {value:.1f}{unit} {self.operator} {self.limit:g}"
        if self.duration and held_for is not None:
            text += f" for {format_duration(held_for)}"
        return text


def parse_threshold(text: str) -> Threshold:
    """Parse `metric op number [for duration]`. Raises ValueError naming the threshold."""
    if not isinstance(text, str):
        raise ValueError("a threshold must be a string like 'cpu > 90 for 5m'")
    cleaned = " ".join(text.split())
    match = _THRESHOLD_RE.match(cleaned)
    if not match:
        raise ValueError(f"invalid threshold {text!r}: write it like 'cpu > 90 for 5m'")
    metric = match.group("metric")
    if metric not in THRESHOLD_METRICS:
        raise ValueError(
            f"invalid threshold {text!r}: unknown metric {metric!r} (use {', '.join(THRESHOLD_METRICS)})"
        )
    limit = float(match.group("limit"))
    if metric != "load" and limit > 100:
        raise ValueError(f"invalid threshold {text!r}: {metric} is a percentage (0-100)")
    duration = timedelta(0)
    if match.group("duration"):
        try:
            duration = parse_duration(match.group("duration"))
        except ValueError as error:
            raise ValueError(f"invalid threshold {text!r}: {error}") from None
    return Threshold(cleaned, metric, match.group("op"), limit, duration)

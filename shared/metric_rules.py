"""Metric thresholds the collector evaluates on results: `latency_ms > 800 for 3m`.

A rule names a result metric (`latency_ms` is the result's own latency; any
other name is a key of the result's `metrics`), a comparison, a limit and an
optional duration: the breach counts only once it has held that long at one
location, so a single slow response is not "degraded performance".
(Host limits evaluated on the agent itself live in `shared.thresholds`.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from shared.timeutil import parse_duration

_RULE_RE = re.compile(
    r"^(?P<metric>[a-zA-Z_][a-zA-Z0-9_.:/-]{0,63})\s*(?P<op>>=|<=|>|<)\s*"
    r"(?P<limit>-?\d+(?:\.\d+)?)(?:\s+for\s+(?P<duration>\S+))?$"
)


@dataclass(frozen=True)
class MetricRule:
    """`metric op limit [for duration]`, parsed."""

    text: str
    metric: str
    operator: str
    limit: float
    duration: timedelta = timedelta(0)

    def breached_by(self, value: float) -> bool:
        if self.operator == ">":
            return value > self.limit
        if self.operator == ">=":
            return value >= self.limit
        if self.operator == "<":
            return value < self.limit
        return value <= self.limit


@lru_cache(maxsize=4096)
def parse_metric_rule(text: str) -> MetricRule:
    """Parse one rule. Raises ValueError naming the rule and the accepted form."""
    cleaned = " ".join(str(text).split())
    match = _RULE_RE.match(cleaned)
    if not match:
        raise ValueError(f"invalid metric threshold {text!r}: write it like 'latency_ms > 800 for 3m'")
    duration = timedelta(0)
    if match.group("duration"):
        try:
            duration = parse_duration(match.group("duration"))
        except ValueError as error:
            raise ValueError(f"invalid metric threshold {text!r}: {error}") from None
    return MetricRule(
        cleaned, match.group("metric"), match.group("op"), float(match.group("limit")), duration
    )

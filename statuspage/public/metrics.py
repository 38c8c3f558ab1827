"""`/metrics`: Prometheus text exposition built with prometheus-client from the database.

Names follow what operators already graph: `probe_success` and
`probe_duration_seconds` like blackbox_exporter (per check and location), host
figures like node_exporter (`node_load1_per_cpu`, `node_memory_used_ratio`,
`node_filesystem_used_ratio{mountpoint}`, `node_cpu_busy_ratio`), and
`upwatch_*` for the rest. A fresh registry per scrape reads the current state;
no targets, addresses or error texts are exported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from flask import Blueprint, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from statuspage.public.snapshot import STATUS_LABELS
from statuspage.settings import Settings
from statuspage.storage.agents import list_agents
from statuspage.storage.metrics import latest_metrics_json, open_incidents_by_impact, result_totals
from statuspage.storage.results import load_states
from statuspage.storage.sql import Store  # noqa: I001
from statuspage.storage.status import load_component_status
from statuspage.web import get_db, settings

metrics = Blueprint("metrics", __name__)

# The classic text format every Prometheus version scrapes (the names here are all legacy-safe).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# host probe metric -> (node_exporter-like name, help, scale to a ratio)
HOST_METRICS = {
    "cpu_percent": ("node_cpu_busy_ratio", "Share of CPU time not idle (0-1).", 0.01),
    "memory_used_percent": ("node_memory_used_ratio", "1 - MemAvailable / MemTotal (0-1).", 0.01),
    "load1_per_core": ("node_load1_per_cpu", "1-minute load average divided by the CPU count.", 1.0),
}
DISK_PREFIX = "disk_used_percent:"


class UpwatchCollector(Collector):
    """Reads the database once per scrape and yields every metric family."""

    def __init__(self, db: Store, config: Settings):
        self.db = db
        self.config = config

    def collect(self) -> Iterator[Metric]:
        yield from self._probes()
        yield from self._components()
        yield self._open_incidents()
        yield self._results_total()
        yield from self._agents()
        yield from self._hosts()

    def _probes(self) -> Iterator[Metric]:
        labels = ["check", "location", "component"]
        success = GaugeMetricFamily(
            "probe_success", "1 if the check's last result here was up or degraded.", labels=labels
        )
        duration = GaugeMetricFamily(
            "probe_duration_seconds", "Duration of the check's last probe.", labels=labels
        )
        last = GaugeMetricFamily(
            "upwatch_probe_last_result_timestamp_seconds", "When the last result started.", labels=labels
        )
        for state in load_states(self.db):
            check = self.config.check(state.check_id)
            values = [state.check_id, state.agent, (check.component if check else None) or ""]
            if state.status != "unknown":
                success.add_metric(values, 0.0 if state.status == "down" else 1.0)
            if state.last_latency_ms is not None:
                duration.add_metric(values, state.last_latency_ms / 1000)
            last.add_metric(values, state.last_result_at.timestamp())
        yield success
        yield duration
        yield last

    def _components(self) -> Iterator[Metric]:
        status = GaugeMetricFamily(
            "upwatch_component_status",
            "1 for the component's current status, 0 for the others.",
            labels=["component", "status"],
        )
        stored = load_component_status(self.db)
        for component in self.config.components:
            current = stored.get(component.id, ("unknown", None))[0]
            for name in STATUS_LABELS:
                status.add_metric([component.id, name], 1.0 if name == current else 0.0)
        yield status

    def _open_incidents(self) -> Metric:
        gauge = GaugeMetricFamily(
            "upwatch_open_incidents", "Unresolved incidents (drills excluded).", labels=["impact"]
        )
        rows = open_incidents_by_impact(self.db)
        for impact in ("none", "minor", "major", "critical"):
            gauge.add_metric([impact], float(rows.get(impact, 0)))
        return gauge

    def _results_total(self) -> Metric:
        counter = CounterMetricFamily(
            "upwatch_results",
            "Results ingested and rolled up, per check, location and status.",
            labels=["check", "location", "status"],
        )
        for check_id, agent, status, total in result_totals(self.db):
            counter.add_metric([check_id, agent, status], float(total))
        return counter

    def _agents(self) -> Iterator[Metric]:
        seen = GaugeMetricFamily(
            "upwatch_agent_last_seen_timestamp_seconds", "When the agent last reported.", labels=["agent"]
        )
        skew = GaugeMetricFamily(
            "upwatch_agent_clock_skew_seconds",
            "Collector time minus the agent's send time.",
            labels=["agent"],
        )
        for agent in list_agents(self.db):
            if agent.last_seen_at is not None:
                seen.add_metric([agent.name], agent.last_seen_at.timestamp())
            if agent.clock_skew_s is not None:
                skew.add_metric([agent.name], agent.clock_skew_s)
        yield seen
        yield skew

    def _hosts(self) -> Iterator[Metric]:
        families = {
            key: GaugeMetricFamily(name, help_text, labels=["instance", "check"])
            for key, (name, help_text, _scale) in HOST_METRICS.items()
        }
        disk = GaugeMetricFamily(
            "node_filesystem_used_ratio",
            "1 - avail / size of the filesystem (0-1).",
            labels=["instance", "check", "mountpoint"],
        )
        host_checks = {c.id for c in self.config.checks if c.kind == "host"}
        for state in load_states(self.db, host_checks):
            for name, value in self._latest_metrics(state.check_id, state.agent).items():
                if name in HOST_METRICS:
                    families[name].add_metric([state.agent, state.check_id], value * HOST_METRICS[name][2])
                elif name.startswith(DISK_PREFIX):
                    disk.add_metric([state.agent, state.check_id, name[len(DISK_PREFIX) :]], value / 100)
        yield from families.values()
        yield disk

    def _latest_metrics(self, check_id: str, agent: str) -> dict[str, float]:
        found = latest_metrics_json(self.db, check_id, agent)
        if found is None:
            return {}
        data = json.loads(found)
        return {k: float(v) for k, v in data.items() if isinstance(v, int | float)}


def render_metrics(db: Store, config: Settings) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(UpwatchCollector(db, config))
    return generate_latest(registry)


@metrics.get("/metrics")
def scrape() -> Response:
    response = Response(render_metrics(get_db(), settings()), content_type=CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response

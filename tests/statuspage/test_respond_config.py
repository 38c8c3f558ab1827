"""Incident, escalation and maintenance configuration: every mistake is refused naming its key."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from statuspage.settings import ConfigError, Settings

POLICY = {"id": "ops", "levels": [{"channels": ["ops-log"]}]}
CHANNEL = {"id": "ops-log", "kind": "log"}


def build(**changes: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "components": [{"id": "api", "name": "API"}, {"id": "web", "name": "Web"}],
        "checks": [
            {"id": "api-health", "component": "api", "kind": "tcp", "host": "h", "port": 1},
            {"id": "web-port", "component": "web", "kind": "tcp", "host": "h", "port": 2},
        ],
        "channels": [copy.deepcopy(CHANNEL)],
        "escalation_policies": [copy.deepcopy(POLICY)],
    }
    for path, value in changes.items():
        section, index, key = path.split("__")
        config[section][int(index)][key] = value
    return config


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            build(components__0__escalation_policy="nope"),
            "components[0].escalation_policy: unknown policy 'nope'",
        ),
        (build(components__1__depends_on=["nope"]), "components[1].depends_on: unknown component 'nope'"),
        (build(components__1__depends_on=["web"]), "components[1].depends_on: unknown component 'web'"),
        (
            build(components__0__depends_on=["web"], components__1__depends_on=["api"]),
            "dependency cycle",
        ),
        (
            build(components__0__critical_checks=["web-port"]),
            "components[0].critical_checks: 'web-port' is not a check of this component",
        ),
        (build(components__0__incident_on="sometimes"), "components[0].incident_on"),
        (build(components__0__reopen_cooldown="soon"), "components[0].reopen_cooldown"),
        (build(checks__1__depends_on=["nope"]), "checks[1].depends_on: unknown check 'nope'"),
        (
            build(checks__0__metric_thresholds=["latency > fast"]),
            "checks[0].metric_thresholds: invalid metric threshold",
        ),
        (build(checks__0__failure_rate={"failures": 6, "window": 5}), "checks[0].failure_rate"),
        (build(checks__0__on_breach="explode"), "checks[0].on_breach"),
        (
            build(escalation_policies__0__levels=[{"channels": ["pager"]}]),
            "escalation_policies[0].levels[0].channels: unknown channel 'pager'",
        ),
        (build(escalation_policies__0__levels=[]), "escalation_policies[0].levels"),
        (build(escalation_policies__0__repeat=-1), "escalation_policies[0].repeat"),
    ],
)
def test_bad_config_names_the_key(make_settings: Callable[..., Settings], config: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        make_settings(**config)
    assert message in str(error.value)


def test_bad_maintenance_and_defaults(make_settings: Callable[..., Settings]) -> None:
    config = build()
    config["maintenance"] = [
        {"id": "w", "title": "t", "components": ["nope"], "schedule": "0 2 * * *", "duration": "1h"}
    ]
    config["default_escalation_policy"] = "missing"
    with pytest.raises(ConfigError) as error:
        make_settings(**config)
    assert "maintenance[0].components: unknown component 'nope'" in str(error.value)
    assert "default_escalation_policy: unknown policy 'missing'" in str(error.value)


def test_valid_config(make_settings: Callable[..., Settings]) -> None:
    config = copy.deepcopy(build(components__1__depends_on=["api"], checks__1__depends_on=["api-health"]))
    config["components"][0].update(
        escalation_policy="ops", critical_checks=["api-health"], auto_publish=False
    )
    config["checks"][0].update(
        metric_thresholds=["latency_ms > 800 for 3m"], failure_rate={"failures": 5, "window": 10}
    )
    settings = make_settings(**config)
    assert settings.escalation_policy("ops") is not None
    assert settings.checks[0].metric_thresholds == ["latency_ms > 800 for 3m"]

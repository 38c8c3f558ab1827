"""Burn-rate alerts with an injected clock: one notice when the budget burns too fast, one when
it recovers (with hysteresis), none twice, none without channels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from statuspage import incidents as service
from statuspage.burn_alerts import run_burn_alerts
from statuspage.settings import ConfigError, Settings
from statuspage.storage.outbox import list_outbox
from tests.conftest import FrozenClock

SLA = {"burn_rate_threshold": 14.4, "burn_rate_window": "1h", "burn_rate_channels": ["ops-log"]}
COMPONENTS = [{"id": "api", "name": "Public API", "sla_target": 99.9}, {"id": "web", "name": "Website"}]


@pytest.fixture
def cfg(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        components=COMPONENTS, checks=[], groups=[], channels=[{"id": "ops-log", "kind": "log"}], sla=SLA
    )


@pytest.fixture
def database(cfg: Settings) -> Any:
    from statuspage.db import open_and_migrate

    db = open_and_migrate(cfg.database)
    yield db
    db.conn.close()


def notices(db: Any) -> list[tuple[str, str]]:
    return [(row.event, row.destination) for row in list_outbox(db, "burn:")]


def test_alert_once_then_recover(database: Any, cfg: Settings, clock: FrozenClock) -> None:
    # 99.9 % allows 3.6 s per hour; 14.4x burn = 51.84 s of downtime in the last hour.
    incident_id = service.create_incident(
        database, cfg, title="API down", body="b", actor="a", now=clock(), components={"api": "major_outage"}
    )
    clock.advance(seconds=50)
    assert run_burn_alerts(database, cfg, clock()) == 0  # 50 s: 13.9x, below the line
    clock.advance(seconds=5)
    assert run_burn_alerts(database, cfg, clock()) == 1  # 55 s: 15.3x
    assert notices(database) == [("sla.burn_rate", "ops-log")]
    clock.advance(seconds=60)
    assert run_burn_alerts(database, cfg, clock()) == 0  # still alerting: no repeat
    service.resolve(database, incident_id, "a", clock())
    clock.advance(minutes=30)
    assert run_burn_alerts(database, cfg, clock()) == 0  # 115 s in the hour: 31.9x, still high
    clock.advance(minutes=40)  # the outage has left the one-hour window
    assert run_burn_alerts(database, cfg, clock()) == 1
    assert notices(database) == [("sla.burn_rate", "ops-log"), ("sla.burn_rate_recovered", "ops-log")]
    payload = list_outbox(database, "burn:")[0].payload
    assert payload["component"] == "api" and payload["burn_rate"] >= 14.4


def test_partial_outage_and_maintenance_weigh_in(database: Any, cfg: Settings, clock: FrozenClock) -> None:
    service.create_incident(
        database, cfg, title="slow", body="b", actor="a", now=clock(), components={"api": "partial_outage"}
    )
    clock.advance(seconds=150)  # 150 s × 0.3 = 45 s weighted: 12.5x
    assert run_burn_alerts(database, cfg, clock()) == 0
    clock.advance(seconds=30)  # 54 s weighted: 15x
    assert run_burn_alerts(database, cfg, clock()) == 1


def test_components_without_target_or_channels_are_ignored(
    make_settings: Callable[..., Settings], clock: FrozenClock
) -> None:
    from statuspage.db import open_and_migrate

    quiet = make_settings(
        components=COMPONENTS, checks=[], groups=[], channels=[{"id": "ops-log", "kind": "log"}]
    )
    db = open_and_migrate(quiet.database)
    service.create_incident(
        db,
        quiet,
        title="down",
        body="b",
        actor="a",
        now=clock(),
        components={"api": "major_outage", "web": "major_outage"},
    )
    clock.advance(minutes=10)
    assert run_burn_alerts(db, quiet, clock()) == 0
    db.conn.close()


def test_unknown_channel_is_a_config_error(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigError, match=r"sla\.burn_rate_channels\[0\]: unknown channel 'pager'"):
        make_settings(
            components=COMPONENTS, checks=[], groups=[], sla={**SLA, "burn_rate_channels": ["pager"]}
        )


def test_two_workers_send_once(database: Any, cfg: Settings, clock: FrozenClock) -> None:
    from statuspage.db import open_and_migrate

    other = open_and_migrate(cfg.database)
    service.create_incident(
        database, cfg, title="down", body="b", actor="a", now=clock(), components={"api": "major_outage"}
    )
    clock.advance(minutes=5)
    first = run_burn_alerts(database, cfg, clock())
    second = run_burn_alerts(other, cfg, clock())
    assert first + second == 1 and len(notices(database)) == 1
    other.conn.close()

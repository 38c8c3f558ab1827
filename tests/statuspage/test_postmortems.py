"""Postmortem template pre-filled from the incident; action items; publishing with or without
telling subscribers."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from statuspage import incidents as service
from statuspage import postmortems
from statuspage.settings import Settings
from statuspage.storage import incidents as store
from tests.conftest import FrozenClock
from tests.helpers import BIN


def resolved_incident(db: Any, settings: Settings, clock: FrozenClock) -> int:
    incident_id = service.create_incident(
        db,
        settings,
        title="API errors",
        body="Looking into it.",
        actor="alice",
        now=clock(),
        impact="major",
        components={"api": "major_outage"},
    )
    db.execute(
        "UPDATE incidents SET forensics = ? WHERE id = ?",
        ['{"checks": {"api-health": {"edge-1": {"error": "HTTP status 503"}}}}', incident_id],
    )
    clock.advance(minutes=4)
    service.acknowledge(db, incident_id, "bob", clock())
    clock.advance(minutes=30)
    service.post_update(db, incident_id, "identified", "A bad deploy | rolled back.", "bob", clock())
    clock.advance(minutes=20)
    service.resolve(db, incident_id, "bob", clock())
    service.set_root_cause(db, incident_id, "A config typo in the load balancer.", "bob", clock())
    return incident_id


def test_draft_is_prefilled(db: Any, settings: Settings, clock: FrozenClock) -> None:
    incident_id = resolved_incident(db, settings, clock)
    postmortems.add_action_item(
        db, incident_id, "Lint LB config in CI | block merges", "carol", date(2026, 12, 15), "bob", clock()
    )
    text = postmortems.draft(db, settings, incident_id, clock())
    assert text.startswith("# Postmortem: API errors")
    for section in (
        "## Summary",
        "## Impact",
        "## Timeline (UTC)",
        "## Forensics at opening",
        "## Root cause",
        "## Action items",
    ):
        assert section in text
    assert "Duration: 54m" in text
    assert "Time to acknowledge: 4m" in text
    assert "Public API (major outage)" in text
    assert "acknowledged by bob" in text
    assert "public update [identified]: A bad deploy | rolled back." in text
    assert "HTTP status 503" in text
    assert "A config typo in the load balancer." in text
    assert "| Lint LB config in CI \\| block merges | carol | 2026-12-15 | no |" in text
    # the timeline is in time order
    timeline = text.split("## Timeline (UTC)")[1].split("##")[0]
    stamps = [line[2:21] for line in timeline.splitlines() if line.startswith("- ")]
    assert stamps == sorted(stamps) and len(stamps) >= 6


def test_draft_of_unknown_incident(db: Any, settings: Settings, clock: FrozenClock) -> None:
    with pytest.raises(service.IncidentNotFound):
        postmortems.draft(db, settings, 999, clock())


@pytest.mark.parametrize("notify", [True, False])
def test_publish_tells_subscribers_only_when_asked(
    db: Any, settings: Settings, clock: FrozenClock, notify: bool
) -> None:
    incident_id = resolved_incident(db, settings, clock)
    postmortems.publish(db, incident_id, "# What happened\n...", "bob", clock(), notify_subscribers=notify)
    incident = store.get_incident(db, incident_id)
    assert incident is not None and incident.status == "postmortem" and incident.postmortem_published_at
    last = db.execute(
        "SELECT status, notify_subscribers FROM incident_updates WHERE incident_id = ? ORDER BY id DESC LIMIT 1",
        [incident_id],
    ).fetchone()
    assert last == ("postmortem", 1 if notify else 0)


def test_publish_refuses_open_incident(db: Any, settings: Settings, clock: FrozenClock) -> None:
    incident_id = service.create_incident(
        db, settings, title="t", body="b", actor="a", now=clock(), components={"api": "major_outage"}
    )
    with pytest.raises(service.IncidentInputError):
        postmortems.publish(db, incident_id, "# pm", "bob", clock())


@pytest.mark.parametrize(
    ("description", "owner", "field"),
    [
        ("", "carol", "description"),
        ("fix it", "", "owner"),
        ("x" * 2001, "carol", "description"),
        ("fix", "o" * 101, "owner"),
    ],
)
def test_action_item_validation(
    db: Any, settings: Settings, clock: FrozenClock, description: str, owner: str, field: str
) -> None:
    incident_id = resolved_incident(db, settings, clock)
    with pytest.raises(service.IncidentInputError) as raised:
        postmortems.add_action_item(db, incident_id, description, owner, None, "bob", clock())
    assert raised.value.field == field


def test_action_item_done_lands_on_timeline(db: Any, settings: Settings, clock: FrozenClock) -> None:
    incident_id = resolved_incident(db, settings, clock)
    item = postmortems.add_action_item(db, incident_id, "Add a canary", "dave", None, "bob", clock())
    postmortems.complete_action_item(db, incident_id, item, True, "dave", clock())
    assert "| Add a canary | dave | - | yes |" in postmortems.draft(db, settings, incident_id, clock())
    kinds = [e.kind for e in store.events_of(db, incident_id)]
    assert kinds[-2:] == ["action_item_added", "action_item_done"]


def test_postmortem_cli(db: Any, settings: Settings, clock: FrozenClock, tmp_path: Path) -> None:
    incident_id = resolved_incident(db, settings, clock)
    env = {"UPWATCH_DATABASE": str(settings.database), "PATH": "/usr/bin:/bin"}
    cli = str(BIN / "upwatch-statuspage")
    drafted = subprocess.run(
        [cli, "postmortem", "draft", str(incident_id)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "## Root cause" in drafted.stdout
    added = subprocess.run(
        [
            cli,
            "postmortem",
            "action-item",
            str(incident_id),
            "Canary deploys",
            "--owner",
            "erin",
            "--due",
            "2026-12-01",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "action item" in added.stdout
    pm = tmp_path / "pm.md"
    pm.write_text(drafted.stdout)
    published = subprocess.run(
        [cli, "postmortem", "publish", str(incident_id), str(pm), "--actor", "erin"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert published.returncode == 0, published.stderr
    missing = subprocess.run(
        [cli, "postmortem", "draft", "4242"], env=env, capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 1 and "not found" in missing.stderr
    bad_date = subprocess.run(
        [cli, "postmortem", "action-item", str(incident_id), "x", "--owner", "o", "--due", "tomorrow"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad_date.returncode == 2 and "YYYY-MM-DD" in bad_date.stderr

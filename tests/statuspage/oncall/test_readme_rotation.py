"""The README's quickstart rotation is valid config and is the two-person weekly rotation it says."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from statuspage.oncall.rotation import handoffs, on_call, timeline
from statuspage.settings import load_settings

README = (Path(__file__).resolve().parents[3] / "README.md").read_text()


def test_readme_two_person_weekly_rotation(tmp_path: Path) -> None:
    section = README.split("## Run your on-call rotation", 1)[1]
    block = re.search(r"```toml\n(.*?)```", section, re.S)
    assert block is not None
    data = tomllib.loads(block.group(1))
    settings = load_settings(environ={}, database=str(tmp_path / "db.sqlite"), **data)
    schedule = settings.schedule("primary")
    assert schedule is not None and [r.name for r in settings.responders] == ["alice", "bob"]
    rotation = schedule.to_schedule()
    start = datetime(2027, 3, 1, 12, tzinfo=UTC)  # across the March DST change in Berlin
    shifts = handoffs(timeline(rotation, [], start, start + timedelta(weeks=5)))
    berlin = ZoneInfo("Europe/Berlin")
    assert [(s.responder, s.start.astimezone(berlin).strftime("%a %H:%M")) for s in shifts] == [
        ("alice", "Mon 09:00"),
        ("bob", "Mon 09:00"),
        ("alice", "Mon 09:00"),
        ("bob", "Mon 09:00"),
        ("alice", "Mon 09:00"),
    ]
    assert on_call(rotation, [], start).responder == "bob"

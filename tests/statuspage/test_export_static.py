"""`upwatch-statuspage export-static DIR` as a real subprocess over a seeded database."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import feedparser

from statuspage.settings import Settings
from tests.helpers import BIN


def test_export_static_writes_every_public_output(
    public_settings: Settings, seeded: dict[str, int], tmp_path: Path
) -> None:
    config = tmp_path / "upwatch.toml"
    config.write_text(
        'page = { name = "Acme Status", url = "https://status.acme.test" }\n'
        + "".join(f'[[components]]\nid = "{c.id}"\nname = "{c.name}"\n' for c in public_settings.components)
    )
    out = tmp_path / "site"
    result = subprocess.run(
        [str(BIN / "upwatch-statuspage"), "export-static", str(out)],
        env={
            "UPWATCH_CONFIG": str(config),
            "UPWATCH_DATABASE": str(public_settings.database),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout
    index = (out / "index.html").read_text()
    assert "Partial System Outage" in index and "/static/status.css" in index
    assert (out / "static" / "status.css").exists()
    assert (
        "Elevated API error rates" in (out / "incidents" / str(seeded["resolved"]) / "index.html").read_text()
    )
    assert not (out / "incidents" / str(seeded["drill"])).exists()
    assert "Incident history" in (out / "history" / "index.html").read_text()
    summary = json.loads((out / "api" / "v2" / "summary.json").read_text())
    assert summary["status"]["description"] == "Partial System Outage"
    for name in ("status", "components", "incidents", "scheduled-maintenances"):
        assert json.loads((out / "api" / "v2" / f"{name}.json").read_text())["page"]["name"] == "Acme Status"
    assert (out / "api" / "v2" / "scheduled-maintenances" / "active.json").exists()
    assert not feedparser.parse((out / "history.atom").read_bytes()).bozo
    assert (out / "history.rss").exists()
    assert (out / "badge" / "api.svg").read_text().startswith("<svg")
    assert (out / "badge" / "api" / "uptime.svg").exists()


def test_export_static_refuses_an_unwritable_dir(public_settings: Settings, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = subprocess.run(
        [str(BIN / "upwatch-statuspage"), "export-static", str(blocker / "site")],
        env={"UPWATCH_DATABASE": str(public_settings.database), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "cannot write" in result.stderr and "Traceback" not in result.stderr

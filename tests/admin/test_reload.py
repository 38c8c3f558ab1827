"""Config reload on SIGHUP with the real server: gunicorn workers and the background worker both
take the new file; a bad file keeps the running config and the log says why."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from statuspage.reload import reload_app
from tests.helpers import BIN, free_port, http_get, start, stop, wait_for

CONFIG = """
[page]
name = "{name}"

[[components]]
id = "api"
name = "Public API"
"""


def _page(base: str) -> str:
    return http_get(base + "/")[1].decode()


ROOT = Path(__file__).resolve().parents[2]
# (how the web runs, how many processes log a reload: web master + background worker, or web only)
SERVERS = [
    ("serve", 2),
    ("gunicorn-conf", 1),  # deploy/gunicorn.conf.py, as the systemd unit and container run it
]


@pytest.mark.parametrize(("server", "reloaders"), SERVERS)
def test_sighup_reload_is_atomic(tmp_path: Path, server: str, reloaders: int) -> None:
    config = tmp_path / "upwatch.toml"
    config.write_text(CONFIG.format(name="Before Reload"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    env = {"UPWATCH_CONFIG": str(config), "UPWATCH_DATABASE": str(tmp_path / "upwatch.db"),
           "UPWATCH_WEB_BIND": f"127.0.0.1:{port}", "UPWATCH_WEB_WORKERS": "1"}  # fmt: skip
    if server == "serve":
        command = [str(BIN / "upwatch-statuspage"), "serve", "--port", str(port), "--workers", "1"]
    else:
        command = [str(BIN / "gunicorn"), "--config", str(ROOT / "deploy" / "gunicorn.conf.py")]
    process = start(command, env, log)
    try:
        wait_for(lambda: "Before Reload" in _page(base), timeout_s=60)
        if server == "serve":
            wait_for(lambda: "worker started" in log.read_text(), timeout_s=60)

        config.write_text(CONFIG.format(name="After Reload"))
        os.kill(process.pid, signal.SIGHUP)
        wait_for(lambda: "After Reload" in _page(base), timeout_s=60)
        # The master (web) and the background worker each log their reload.
        wait_for(lambda: log.read_text().count("config reloaded components=1") >= reloaders, timeout_s=60)

        config.write_text(CONFIG.format(name="Broken") + '\n[[components]]\nid = "BAD ID"\nname = "x"\n')
        os.kill(process.pid, signal.SIGHUP)
        wait_for(lambda: log.read_text().count("config reload refused") >= reloaders, timeout_s=60)
        assert "components[1].id" in log.read_text()
        page = _page(base)
        assert "After Reload" in page and "Broken" not in page
        assert process.poll() is None
    finally:
        stop(process)
    assert "Traceback" not in log.read_text()


def test_reload_refuses_a_database_change(app: Flask, tmp_path: Path, caplog: Any) -> None:
    settings = app.config["UPWATCH_SETTINGS"]
    config = tmp_path / "other.toml"
    config.write_text(f'database = "{tmp_path / "other.db"}"\n' + CONFIG.format(name="X"))
    assert reload_app(app, environ={"UPWATCH_CONFIG": str(config)}) is False
    assert app.config["UPWATCH_SETTINGS"] is settings
    assert "needs a restart" in caplog.text


def test_reload_swaps_settings_in_one_step(app: Flask, tmp_path: Path) -> None:
    settings = app.config["UPWATCH_SETTINGS"]
    config = tmp_path / "next.toml"
    config.write_text(f'database = "{settings.database}"\n' + CONFIG.format(name="Next"))
    assert reload_app(app, environ={"UPWATCH_CONFIG": str(config)}) is True
    assert app.config["UPWATCH_SETTINGS"].page.name == "Next"
    assert app.test_client().get("/").status_code == 200


PAGES_A_SCHEDULE = """
[[responders]]
name = "alice"

[[escalation_policies]]
id = "night"
levels = [{ targets = ["schedule:nights"] }]
"""


def test_reload_checks_schedule_targets_against_the_admin_schedules(
    app: Flask, tmp_path: Path, caplog: Any
) -> None:
    """`schedule:nights` is refused until the admin has that schedule, then the reload goes through."""
    from shared.timeutil import utcnow
    from statuspage.oncall import schedule_edits
    from statuspage.storage import sql

    settings = app.config["UPWATCH_SETTINGS"]
    config = tmp_path / "next.toml"
    config.write_text(f'database = "{settings.database}"\n' + CONFIG.format(name="Next") + PAGES_A_SCHEDULE)
    environ = {"UPWATCH_CONFIG": str(config)}
    assert reload_app(app, environ=environ) is False
    assert "escalation_policies[0].levels[0].targets: unknown schedule 'nights'" in caplog.text
    assert app.config["UPWATCH_SETTINGS"] is settings
    layer = {"name": "base", "responders": ["alice"], "shift": "1w", "start": "2026-11-23"}
    db = sql.open_store(str(settings.database))
    try:
        from statuspage.settings import load_settings

        schedule_edits.create(
            db, load_settings(environ=environ), "nights", {"layers": [layer]}, "ops", "", utcnow()
        )
    finally:
        sql.close(db)
    assert reload_app(app, environ=environ) is True


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_serve_and_worker_refuse_an_unknown_schedule_target(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from statuspage.cli import main

    config = tmp_path / "upwatch.toml"
    config.write_text(CONFIG.format(name="X") + PAGES_A_SCHEDULE)
    monkeypatch.setenv("UPWATCH_CONFIG", str(config))
    monkeypatch.setenv("UPWATCH_DATABASE", str(tmp_path / "upwatch.db"))
    assert main([command]) == 2  # before anything starts: no server, no worker loop
    assert "targets: unknown schedule 'nights'" in capsys.readouterr().err

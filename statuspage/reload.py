"""Config reload on SIGHUP, atomically: the new file is validated whole before anything uses it.

Who holds settings: each gunicorn worker (forked from the master, which keeps
the app object) and the background worker process. On SIGHUP gunicorn's
master runs our `on_reload` hook and then replaces its workers gracefully;
the hook validates the file in the master and, only if it is valid, swaps the
app's settings before the new workers are forked. It also forwards SIGHUP to
the background worker, which reloads the same way between passes. A bad file
is logged with every bad key and the running config stays in force.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from statuspage.settings import ConfigError, Settings, load_settings

log = logging.getLogger(__name__)


_last_good: Settings | None = None


def settings_for_gunicorn_config() -> Settings:
    """The settings `deploy/gunicorn.conf.py` builds its knobs from.

    gunicorn executes its config file again on SIGHUP, before our `on_reload`
    hook. At start a bad file raises ConfigError (the service does not start,
    naming the key); on a reload it must not, or the master would exit and take
    the site down: then the last good settings are used and the hook logs why.
    """
    global _last_good
    try:
        _last_good = load_settings()
    except ConfigError:
        if _last_good is None:
            raise
    return _last_good


class ReloadRefused(Exception):
    """The new configuration is invalid or changes what needs a restart; str() says why."""


def load_replacement(current: Settings, environ: dict[str, str] | None = None) -> Settings:
    """Read and validate the configuration again; raise ReloadRefused rather than return a bad one."""
    overrides: dict[str, Any] = {"config": str(current.config)} if current.config else {}
    try:
        new = load_settings(environ=environ, **overrides)
    except ConfigError as error:
        raise ReloadRefused(str(error)) from None
    if new.database != current.database:
        raise ReloadRefused(f"database: changing it ({current.database} -> {new.database}) needs a restart")
    from statuspage.oncall.service import check_references

    try:
        check_references(new)  # `schedule:` targets against the file's schedules and the admin's
    except ConfigError as error:
        raise ReloadRefused(str(error)) from None
    return new


def reload_app(app: Flask, environ: dict[str, str] | None = None) -> bool:
    """Swap the app's settings for freshly loaded ones; False (old config kept, reason logged) if refused."""
    current: Settings = app.config["UPWATCH_SETTINGS"]
    try:
        new = load_replacement(current, environ)
    except ReloadRefused as error:
        log.error("config reload refused; keeping the running configuration:\n%s", error)
        return False
    # One assignment: a request sees the old settings or the new, never a mix.
    global _last_good
    app.config["UPWATCH_SETTINGS"] = _last_good = new
    app.config["MAX_CONTENT_LENGTH"] = new.max_report_bytes
    log.info(
        "config reloaded components=%d checks=%d config=%s", len(new.components), len(new.checks), new.config
    )
    return True

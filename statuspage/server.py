"""`upwatch-statuspage serve`: gunicorn (the production server) plus the worker process.

The worker runs as a child process that stops when the server stops (SIGTERM
at shutdown, and it also notices if its parent vanishes).
"""

from __future__ import annotations

import gc
import logging
import subprocess
import sys
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from shared.logging_setup import ACCESS_LOG_FORMAT
from statuspage.log_redaction import collector_logging_dict

log = logging.getLogger(__name__)


class GunicornServer(BaseApplication):
    """Embed gunicorn so `serve` is one command with our validated config."""

    def __init__(self, app: Flask, options: dict[str, Any]):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def freeze_startup_objects() -> None:
    """Move every object alive now (the app, its settings, imported modules) out of the GC's reach.

    They live as long as the process, yet each full collection would walk all of
    them again (about 100,000 objects): ingest of a 500-result batch allocates
    thousands of objects, so collections run several times per report, and the
    full ones were about a sixth of its CPU time. Called in each web worker right
    after gunicorn forks it (`serve`, deploy/gunicorn.conf.py) and in the worker
    process once it has started.
    """
    gc.collect()
    gc.freeze()


def start_worker_process(config_path: str | None) -> subprocess.Popen[bytes]:
    import os

    command = [sys.executable, "-m", "statuspage.cli", "worker", "--parent-pid", str(os.getpid())]
    env = dict(os.environ)
    if config_path:
        env["UPWATCH_CONFIG"] = config_path
    return subprocess.Popen(command, env=env)  # noqa: S603 - our own interpreter and module


def _on_reload(app: Flask, worker: subprocess.Popen[bytes] | None) -> None:
    """Reload the config for the next generation of web workers and tell the background worker."""
    import signal

    from statuspage.reload import reload_app

    reload_app(app)
    if worker is not None and worker.poll() is None:
        worker.send_signal(signal.SIGHUP)


def serve(app: Flask, host: str, port: int, workers: int, threads: int, with_worker: bool) -> None:
    settings = app.config["UPWATCH_SETTINGS"]
    worker = start_worker_process(str(settings.config) if settings.config else None) if with_worker else None
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 30,
        "graceful_timeout": 10,
        # One format for the app, gunicorn's error log and its access log
        # (text or JSON lines, per `log_format`); access lines carry the request id.
        "logconfig_dict": collector_logging_dict(settings.log_format, settings.log_level),
        "access_log_format": ACCESS_LOG_FORMAT,
        "proc_name": "upwatch-statuspage",
        # SIGHUP: gunicorn calls this in the master, then replaces its workers.
        "on_reload": lambda _arbiter: _on_reload(app, worker),
        # gunicorn's control socket lives in $HOME, shared by every gunicorn of
        # the user; upwatch does not use it.
        "control_socket_disable": True,
        # gunicorn checks a hook's arity: post_fork(arbiter, worker).
        "post_fork": lambda _arbiter, _worker: freeze_startup_objects(),
        # gunicorn believes X-Forwarded-Proto/-Ssl (wsgi.url_scheme) from these peers only:
        # the app's own list, not gunicorn's loopback default (or $FORWARDED_ALLOW_IPS).
        "forwarded_allow_ips": ",".join(settings.security.trusted_proxies),
    }
    try:
        GunicornServer(app, options).run()
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()

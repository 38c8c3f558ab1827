"""gunicorn settings for the upwatch collector's web process.

Used by deploy/systemd/upwatch-web.service and the collector container:

    gunicorn --config /etc/upwatch/gunicorn.conf.py

The application is `statuspage:create_app()`; it reads UPWATCH_CONFIG and the
UPWATCH_* environment like every other upwatch command. The configuration is
validated here, before any worker starts, so a bad file stops the service with
the key named. The knobs of this file (not upwatch settings, so they are read
here, not by the app):

    UPWATCH_WEB_BIND        address(es) to listen on, comma-separated (default 127.0.0.1:8080)
    UPWATCH_WEB_WORKERS     worker processes (default 2)
    UPWATCH_WEB_THREADS     threads per worker (default 4)

Which proxies' X-Forwarded-* headers are believed is the upwatch setting
`security.trusted_proxies` (for nginx on the same host: ["127.0.0.1", "::1"]);
gunicorn is given the same list, so both agree on the scheme.
"""

import os

from shared.logging_setup import ACCESS_LOG_FORMAT
from statuspage.log_redaction import collector_logging_dict
from statuspage.reload import settings_for_gunicorn_config

# A bad file stops the first start (naming the key); on SIGHUP gunicorn runs this file
# again, and then a bad file keeps the running settings instead of stopping the master.
_settings = settings_for_gunicorn_config()

wsgi_app = "statuspage:create_app()"
bind = [address.strip() for address in os.environ.get("UPWATCH_WEB_BIND", "127.0.0.1:8080").split(",")]
# Threads, not more processes: requests mostly wait on SQLite and the network,
# and every process holds its own copy of the app.
worker_class = "gthread"
workers = int(os.environ.get("UPWATCH_WEB_WORKERS", "2"))
threads = int(os.environ.get("UPWATCH_WEB_THREADS", "4"))
timeout = 30
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so a slow leak never grows without bound.
max_requests = 20_000
max_requests_jitter = 2_000
# One list of trusted proxies for gunicorn (wsgi.url_scheme) and the app (client addresses,
# HSTS, Secure cookies); empty means nobody's X-Forwarded-* is believed, not gunicorn's
# loopback default. (Over a UNIX socket gunicorn believes every peer: bind to TCP.)
forwarded_allow_ips = ",".join(_settings.security.trusted_proxies)
# Agents post reports up to max_report_bytes; headers stay small.
limit_request_field_size = 8190
# One format for the app, gunicorn's error log and its access log (text or JSON
# lines, per the `log_format` setting); access lines carry the request id.
# Access lines have ping keys, subscription tokens and query-string tokens cut to a prefix.
logconfig_dict = collector_logging_dict(_settings.log_format, _settings.log_level)
access_log_format = ACCESS_LOG_FORMAT
proc_name = "upwatch-web"
control_socket_disable = True
# Config reload (`systemctl reload upwatch-web` = SIGHUP) must be atomic: the app is built
# once in the master, and on SIGHUP the new file is validated there and swapped in before
# the new workers are forked. Without preload each new worker would read the file itself,
# and a bad file would stop every worker from booting instead of keeping the old config.
preload_app = True


def on_reload(server):  # noqa: ANN001, ANN201 - gunicorn server hook
    from statuspage.reload import reload_app

    reload_app(server.app.wsgi())


def post_fork(server, worker):  # noqa: ANN001, ANN201 - gunicorn server hook
    # The same per-worker tuning as `serve`: the startup heap frozen out of the GC's walks.
    from statuspage.server import freeze_startup_objects

    freeze_startup_objects()

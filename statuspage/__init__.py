"""The upwatch collector and public status page: `create_app(config=None)`."""

from __future__ import annotations

from typing import Any

from flask import Flask

from shared.timeutil import utcnow
from statuspage.settings import Settings, load_settings

__version__ = "0.1.0"


def create_app(config: Settings | dict[str, Any] | None = None) -> Flask:
    """Build the WSGI app.

    `config` is a ready Settings, a dict of overrides for load_settings, or
    None to read UPWATCH_CONFIG and the environment. Raises ConfigError when
    the configuration is invalid, so a bad file stops start-up.
    """
    settings = config if isinstance(config, Settings) else load_settings(**(config or {}))
    app = Flask(__name__, static_folder="public/static", template_folder="public/templates")
    # Before any route is added: every <int:...> is bounded to what SQL can store (a 404 past it).
    from statuspage.bounded import BoundedIntConverter

    app.url_map.converters["int"] = BoundedIntConverter
    app.config["UPWATCH_SETTINGS"] = settings
    app.config["UPWATCH_CLOCK"] = utcnow
    # Flask refuses bigger bodies with 413 before the handler reads them.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_report_bytes
    app.config["JSON_SORT_KEYS"] = False

    from statuspage import admin, public, static_gzip, web
    from statuspage.ingest.agent_api import agent_api
    from statuspage.ingest.heartbeats import heartbeats
    from statuspage.ingest.report_route import ReportRoute
    from statuspage.notify.subscribe_views import subscriptions_blueprint
    from statuspage.oncall.views import oncall_blueprint
    from statuspage.responses.views import approval_blueprint

    # Inside web's ResponseHeaders (installed next): reports get the same request ids and headers.
    app.wsgi_app = ReportRoute(app.wsgi_app, app)  # type: ignore[method-assign]
    web.init_app(app)
    app.register_blueprint(agent_api)
    app.register_blueprint(heartbeats)
    public.init_app(app)
    app.register_blueprint(subscriptions_blueprint)
    app.register_blueprint(oncall_blueprint)
    app.register_blueprint(approval_blueprint)
    admin.init_app(app)
    static_gzip.init_app(app)
    return app

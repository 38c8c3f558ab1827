"""What customers see: the status page, incident pages, history, feeds, badges, the
Statuspage v2 JSON API and Prometheus metrics. Reads only; never writes."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every public blueprint and the template helpers."""
    from statuspage.public import api_v2, badges, feeds, metrics, text, views
    from statuspage.public.snapshot import (
        IMPACT_LABELS,
        INCIDENT_STATUS_LABELS,
        STATUS_LABELS,
        format_percent,
    )

    app.jinja_env.filters.update(iso=text.iso, utc=text.utc, percent=format_percent)
    app.jinja_env.globals.update(
        duration=text.duration,
        status_labels=STATUS_LABELS,
        impact_labels=IMPACT_LABELS,
        incident_status_labels=INCIDENT_STATUS_LABELS,
    )
    for blueprint in (views.public, api_v2.api_v2, feeds.feeds, badges.badges, metrics.metrics):
        app.register_blueprint(blueprint)

"""Operators: sign-in, the admin UI at /admin/ and the admin REST API at /api/v1/admin/."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the admin UI, the admin API and the OpenAPI document."""
    # The view modules attach their routes to the blueprints on import.
    from statuspage.admin import (  # noqa: F401
        auth_views,
        check_views,
        incident_views,
        oncall_api,
        oncall_people_views,
        oncall_responder_api,
        oncall_responder_views,
        oncall_schedule_api,
        oncall_schedule_views,
        oncall_views,
        ops_views,
        report_views,
        response_api,
        response_views,
    )
    from statuspage.admin.api import admin_api
    from statuspage.admin.openapi import openapi
    from statuspage.admin.ui import admin_ui

    app.register_blueprint(admin_ui)
    app.register_blueprint(admin_api)
    app.register_blueprint(openapi)

"""Admin pages for learning from incidents: SLA reports (with CSV and JSON export) and drills."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Response, abort, request

from statuspage import drills
from statuspage.admin.ui import admin_ui, render
from statuspage.reports import Period, parse_period, problem_impact, report_rows, to_csv, to_json
from statuspage.storage import drills as drill_store
from statuspage.storage.problems import list_problems
from statuspage.web import get_db, now, settings


def _period() -> Period:
    """?period=2026-11 (month), 2026-Q4, 2026; default: the current month in the report zone."""
    text = request.args.get("period") or _current_month(now())
    try:
        return parse_period(text)
    except ValueError as error:
        abort(400, description=str(error))


def _current_month(moment: datetime) -> str:
    local = moment.astimezone(ZoneInfo(settings().sla.tz))
    return f"{local.year:04d}-{local.month:02d}"


@admin_ui.get("/reports")
def reports() -> tuple[str, int]:
    """Uptime, error budget, incidents, MTTA, MTTR and longest outage per component."""
    period = _period()
    rows = report_rows(get_db(), settings(), period, now())
    problems = [problem_impact(get_db(), p.id, now()) for p in list_problems(get_db(), limit=50)]
    return render(
        "reports.html", period=period, rows=rows, problems=[p for p in problems if p], tz=settings().sla.tz
    )


@admin_ui.get("/reports.csv")
def reports_csv() -> Response:
    period = _period()
    body = to_csv(report_rows(get_db(), settings(), period, now()))
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="upwatch-sla-{period.label}.csv"'},
    )


@admin_ui.get("/reports.json")
def reports_json() -> Response:
    period = _period()
    return Response(to_json(report_rows(get_db(), settings(), period, now())), mimetype="application/json")


@admin_ui.get("/drills")
def drill_list() -> tuple[str, int]:
    return render("drills.html", drills=drill_store.list_drills(get_db()))


@admin_ui.get("/drills/<int:drill_id>")
def drill_report(drill_id: int) -> tuple[str, int]:
    drill = drill_store.get_drill(get_db(), drill_id)
    if drill is None:
        abort(404)
    report = (
        drill.report
        if drill.status != "running"
        else drills.measure(get_db(), settings(), drill_id, now()).as_dict()
    )
    return render("drill.html", drill=drill, report=report)

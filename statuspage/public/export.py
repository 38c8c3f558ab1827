"""`upwatch-statuspage export-static DIR`: the public outputs as plain files, so a copy can be
served from somewhere that does not go down with the collector (object storage, a CDN).

Each URL is fetched through the app itself (the same code and caching as live),
and written where a static server finds it: `/` -> `index.html`,
`/incidents/7` -> `incidents/7/index.html`, `/api/v2/summary.json` as is.
Links in the pages are root-relative, so the copy must be served at a site root.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from statuspage.storage import (
    public_reads,
    sql,  # noqa: I001
)

API_PATHS = [
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
    "/api/v2/scheduled-maintenances.json",
    "/api/v2/scheduled-maintenances/upcoming.json",
    "/api/v2/scheduled-maintenances/active.json",
]


class ExportError(Exception):
    """A page could not be rendered; the message names the URL."""


def export_paths(app: Flask) -> list[str]:
    """Every URL the static copy contains."""
    settings = app.config["UPWATCH_SETTINGS"]
    db = sql.open_store(settings.database)
    try:
        incident_ids = [i.id for i in public_reads.recent_incidents(db, 1000)]
    finally:
        sql.close(db)
    paths = [
        "/",
        "/history",
        "/history.atom",
        "/history.rss",
        "/static/ui.css",
        "/static/status.css",
        *API_PATHS,
    ]
    paths += [f"/incidents/{incident_id}" for incident_id in incident_ids]
    for component in settings.components:
        paths += [f"/badge/{component.id}.svg", f"/badge/{component.id}/uptime.svg"]
    return paths


def target_file(root: Path, path: str) -> Path:
    """Where a URL path lives in the static tree (directory URLs get an index.html)."""
    relative = path.strip("/")
    if not relative or "." not in relative.rsplit("/", 1)[-1]:
        return root / relative / "index.html"
    return root / relative


def export_static(app: Flask, root: Path) -> list[Path]:
    """Write every public output under `root`; return the files written. Raises ExportError."""
    client = app.test_client()
    written = []
    for path in export_paths(app):
        response = client.get(path)
        if response.status_code != 200:
            raise ExportError(f"{path}: HTTP {response.status_code}")
        target = target_file(root, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(response.get_data())
        written.append(target)
    return written

"""Message templates are files, rendered in Jinja2's sandbox with autoescaping for HTML.

Incident titles and bodies reach templates only as variables, never as
template source, so text like `{{ config }}` in an incident update is printed
literally; the sandbox also stops a template an operator overrides from
reaching Python internals. Operators may override any file by putting one of
the same name in `notify.templates_dir`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from statuspage.markdown import render_markdown

PACKAGE_TEMPLATES = Path(__file__).resolve().parent / "templates"

STATUS_LABELS = {
    "investigating": "Investigating",
    "identified": "Identified",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
    "postmortem": "Postmortem",
    "scheduled": "Scheduled",
    "in_progress": "In progress",
    "completed": "Completed",
    "operational": "Operational",
    "degraded_performance": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
    "under_maintenance": "Under maintenance",
}


class Renderer:
    """Renders `<name>` from the operator's folder first, then the packaged templates."""

    def __init__(self, templates_dir: str | Path | None = None):
        loaders = [FileSystemLoader(str(templates_dir))] if templates_dir else []
        loaders.append(FileSystemLoader(str(PACKAGE_TEMPLATES)))
        self.env = SandboxedEnvironment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,  # templates are read once per process, not stat()ed per mail
        )
        self.env.filters["status_label"] = lambda status: STATUS_LABELS.get(str(status), str(status))
        # Operator markdown in HTML mail: the same renderer and sanitizer as the pages.
        self.env.filters["markdown"] = render_markdown

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context)

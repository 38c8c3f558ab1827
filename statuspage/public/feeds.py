"""`/history.atom` and `/history.rss`: one entry per public incident (the 50 most recent),
with the update trail in the content, built with feedgen."""

from __future__ import annotations

from feedgen.feed import FeedGenerator
from flask import Blueprint, Response, render_template_string
from markupsafe import escape

from shared.timeutil import to_iso
from statuspage.markdown import render_markdown
from statuspage.public.http_cache import cached
from statuspage.public.snapshot import STATUS_LABELS
from statuspage.settings import Settings
from statuspage.storage import public_reads
from statuspage.storage.public_reads import Incident
from statuspage.storage.status import load_component_status
from statuspage.web import get_db, now, settings

feeds = Blueprint("feeds", __name__)

FEED_ENTRIES = 50

# The update trail as HTML; Jinja escapes every value (the feed library escapes it once more as XML).
_CONTENT = """\
<p><strong>{{ impact|capitalize }} impact</strong> · {{ incident.status|capitalize }}</p>
{% if names %}<p>Affected: {{ names|join(', ') }}</p>{% endif %}
{% for u in incident.updates %}
<p><strong>{{ u.status|capitalize }}</strong> ({{ iso(u.created_at) }})</p>
{{ markdown(u.body) }}
{% endfor %}"""


def _feed(config: Settings, incidents: list[Incident]) -> FeedGenerator:
    base = config.page.url
    feed = FeedGenerator()
    feed.id(f"{base}/history")
    feed.title(f"{config.page.name} – incident history")
    # RSS readers render the channel <description> as HTML (feedgen writes the subtitle there):
    # escape it, so operator text with "<" stays text (found by tests/security/test_xss.py).
    feed.subtitle(str(escape(config.page.description or f"Incidents reported on {config.page.name}")))
    feed.link(href=f"{base}/history", rel="alternate")
    feed.language("en")
    feed.generator("upwatch")
    newest = max((i.updated_at for i in incidents), default=now())
    feed.updated(newest)
    feed.lastBuildDate(newest)
    names = {c.id: c.name for c in config.components}
    # An open incident's entry says what each affected component shows now (the page's words).
    shown = load_component_status(get_db())
    for incident in incidents:
        entry = feed.add_entry(order="append")
        link = f"{base}/incidents/{incident.id}"
        entry.id(link)
        entry.guid(link, permalink=True)
        entry.title(f"[{incident.status.capitalize()}] {incident.title}")
        entry.link(href=link, rel="alternate")
        entry.published(incident.created_at)
        entry.updated(incident.updated_at)
        content = render_template_string(
            _CONTENT,
            incident=incident,
            impact=incident.impact,
            names=[_affected(names.get(cid, cid), shown.get(cid), incident) for cid in incident.components],
            iso=to_iso,
            markdown=render_markdown,
        )
        entry.content(content, type="html")
        entry.description(content)
    return feed


def _affected(name: str, shown: tuple[str, object] | None, incident: Incident) -> str:
    if not incident.is_open or shown is None:
        return name
    return f"{name} ({STATUS_LABELS.get(shown[0], shown[0]).lower()})"


@feeds.get("/history.atom")
@cached
def atom() -> Response:
    config = settings()
    feed = _feed(config, public_reads.recent_incidents(get_db(), FEED_ENTRIES))
    feed.link(href=f"{config.page.url}/history.atom", rel="self")
    return Response(feed.atom_str(pretty=True), mimetype="application/atom+xml")


@feeds.get("/history.rss")
@cached
def rss() -> Response:
    config = settings()
    feed = _feed(config, public_reads.recent_incidents(get_db(), FEED_ENTRIES))
    feed.link(href=f"{config.page.url}/history.rss", rel="self")
    return Response(feed.rss_str(pretty=True), mimetype="application/rss+xml")

"""Markdown written by operators (incident updates, postmortems, maintenance notes) as safe HTML.

Two layers, because either alone has failed in real products:
1. markdown-it-py in CommonMark mode with raw HTML turned off, so `<script>`
   typed into an update is shown as text, not parsed;
2. nh3 (the Ammonia sanitizer) over the result with a short allow-list of tags,
   attributes and URL schemes, so a `javascript:` link or a parser quirk cannot
   smuggle markup through layer 1.

Used by the public pages, the admin preview and HTML mail: one function, one
policy. `render_markdown` returns `markupsafe.Markup`, so Jinja does not escape
it a second time; everything else in templates stays autoescaped.
"""

from __future__ import annotations

import functools

import nh3
from flask import Flask
from markdown_it import MarkdownIt
from markupsafe import Markup

MAX_MARKDOWN_CHARS = 100_000

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "hr", "strong", "em", "code", "pre", "blockquote",
        "ul", "ol", "li", "a", "h1", "h2", "h3", "h4", "h5", "h6",
        "table", "thead", "tbody", "tr", "th", "td", "del", "s",
    }
)  # fmt: skip
# rel is set by nh3 itself (link_rel); style/on* attributes are never allowed.
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener noreferrer"

# "commonmark" with html=False: raw HTML blocks and inline tags become text.
_parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)


def sanitize_html(html: str) -> str:
    """Clean HTML to the allow-list above (tags, attributes, URL schemes); return the HTML text."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )


def render_markdown(text: str | None) -> Markup:
    """Render operator markdown to sanitized HTML, safe to put in any HTML body context.

    None or blank text gives an empty Markup. Text past MAX_MARKDOWN_CHARS is
    cut (storage refuses such input earlier; this is the last line of defence
    against a pathological render).
    """
    if not text or not text.strip():
        return Markup("")
    if len(text) <= CACHED_MAX_CHARS:
        return _render_cached(text)
    return _render(text)


def _render(text: str) -> Markup:
    html = _parser.render(text[:MAX_MARKDOWN_CHARS])
    return Markup(sanitize_html(html))  # noqa: S704 - sanitized by nh3 just above


# The status page renders the same few open incidents' updates on every render; the output
# is a pure function of the text, so short texts are kept (512 of them: a few MB at worst).
CACHED_MAX_CHARS = 4096
_render_cached = functools.lru_cache(maxsize=512)(_render)


def install_filter(app: Flask) -> None:
    """Make `{{ text | markdown }}` available in every template."""
    app.jinja_env.filters["markdown"] = render_markdown

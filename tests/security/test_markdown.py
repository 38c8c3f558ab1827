"""Markdown rendering: useful formatting survives, everything executable is gone."""

from __future__ import annotations

import pytest

from statuspage.markdown import ALLOWED_TAGS, render_markdown
from tests.security.htmlcheck import problems

# (markdown, must contain) — formatting operators rely on.
KEEPS = [
    ("**bold**", "<strong>bold</strong>"),
    ("*em*", "<em>em</em>"),
    ("`code`", "<code>code</code>"),
    ("- a\n- b", "<li>a</li>"),
    ("[docs](https://example.com/x)", 'href="https://example.com/x"'),
    ("[docs](https://example.com/x)", 'rel="nofollow noopener noreferrer"'),
    ("[mail](mailto:ops@example.com)", 'href="mailto:ops@example.com"'),
    ("## Impact", "<h2>Impact</h2>"),
    ("| a | b |\n|---|---|\n| 1 | 2 |", "<td>1</td>"),
    ("~~gone~~", "<s>gone</s>"),
    ("> quoted", "<blockquote>"),
]


@pytest.mark.parametrize(("source", "expected"), KEEPS)
def test_formatting_survives(source: str, expected: str) -> None:
    assert expected in str(render_markdown(source))


def test_empty_text_renders_nothing() -> None:
    assert render_markdown(None) == "" and render_markdown("  \n") == ""


def test_output_is_markup_so_jinja_does_not_escape_twice() -> None:
    assert hasattr(render_markdown("x"), "__html__")


# Payloads an attacker (or a careless paste) puts in markdown; none may survive as markup.
HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](vbscript:msgbox(1))",
    "![x](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<svg onload=alert(1)>",
    "<iframe src=//evil.test></iframe>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    '[x](https://ok.test "title" onmouseover=alert(1))',
    "<details open ontoggle=alert(1)>",
    "<!-- <script>alert(1)</script> -->",
    "<style>*{display:none}</style>",
    "<form action=https://evil.test><input name=p></form>",
    "<object data=javascript:alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
]


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_markdown_is_defused(payload: str) -> None:
    html = str(render_markdown(payload))
    assert problems(html, allowed_tags=set(ALLOWED_TAGS)) == [], html

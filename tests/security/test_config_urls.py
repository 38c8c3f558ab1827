"""Finding 7: `page.logo = "/\\\\evil.example/x.png"` passed `config check`, and browsers read
`/\\` as `//`. Configured URLs are now parsed by the WHATWG rules (ada-url) and judged on
what a browser resolves them to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from statuspage.cli import main
from statuspage.settings import ConfigError, load_settings

PAGE_URL = "https://status.acme.test"

# (logo, what is stored, or None when refused) — each line one case.
LOGOS: list[tuple[str, str | None]] = [
    ("/\\evil.example/x.png", None),  # the issue's value: https://evil.example/x.png
    ("\\\\evil.example/x.png", None),
    ("//evil.example/x.png", None),
    ("/\t/evil.example/x.png", None),  # tabs are stripped by browsers
    ("javascript:alert(1)", None),
    ("data:image/png;base64,AAAA", None),
    ("https://user:pw@cdn.acme.test/x.png", None),
    ("http://", None),
    ("/static/logo.png", "/static/logo.png"),
    ("/static/../img/logo.png?v=2", "/img/logo.png?v=2"),
    ("/a\\b.png", "/a/b.png"),  # the browser's reading, stored as such
    ("logo.png", "/logo.png"),
    ("https://cdn.acme.test/logo.png", "https://cdn.acme.test/logo.png"),
    ("HTTPS://CDN.Acme.test/logo.png", "https://cdn.acme.test/logo.png"),
]


@pytest.mark.parametrize(("logo", "stored"), LOGOS)
def test_logo_is_judged_as_a_browser_reads_it(logo: str, stored: str | None) -> None:
    page = {"name": "S", "url": PAGE_URL, "logo": logo}
    if stored is None:
        with pytest.raises(ConfigError, match=r"page\.logo"):
            load_settings(environ={}, page=page)
    else:
        assert load_settings(environ={}, page=page).page.logo == stored


def test_config_check_refuses_the_issues_logo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "upwatch.toml"
    path.write_text(
        '[page]\nname = "S"\nurl = "https://status.acme.test"\nlogo = "/\\\\evil.example/x.png"\n'
    )
    assert main(["config", "check", str(path)]) == 2
    error = capsys.readouterr().err
    assert "page.logo" in error and "https://evil.example/x.png" in error


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("page", {"url": "javascript:alert(1)"}, False),
        ("page", {"url": "https://user:pw@status.acme.test"}, False),
        ("page", {"url": "https://"}, False),
        ("page", {"url": "HTTPS://Status.Acme.test/"}, True),
        ("channels", [{"id": "w", "kind": "webhook", "url": "https://hooks.acme.test/x"}], True),
        ("channels", [{"id": "w", "kind": "webhook", "url": "https://bot:pw@hooks.acme.test/x"}], True),
        ("channels", [{"id": "w", "kind": "webhook", "url": "http://"}], False),
        ("channels", [{"id": "w", "kind": "webhook", "url": "https://[::1"}], False),
    ],
)
def test_other_configured_urls(field: str, value: Any, ok: bool) -> None:
    if ok:
        load_settings(environ={}, **{field: value})
    else:
        with pytest.raises(ConfigError, match=rf"{field}"):
            load_settings(environ={}, **{field: value})

"""Configured URLs judged the way browsers will read them: the WHATWG URL Standard (ada-url).

A check like `startswith("/") and not startswith("//")` is not what a browser
does: for http(s) URLs the standard treats `\\` as `/`, strips tabs and
newlines, and resolves `/\\evil.example/x.png` against the page to
`https://evil.example/x.png`. So every URL a browser will follow (the logo in
`<img src>`, the page's own URL in links and mails, webhook targets) is parsed
with ada (the parser Node.js uses), then judged on what it resolved to, and
stored in its normalised form, so the browser gets exactly what was judged.
"""

from __future__ import annotations

from ada_url import URL

WEB_SCHEMES = ("http:", "https:")


def web_url(text: str, *, allow_credentials: bool = False) -> str:
    """An absolute http(s) URL with a host, normalised (`href`). Raises ValueError saying why.

    `allow_credentials`: whether `user:password@` may appear (webhook receivers
    behind basic auth; never in anything shown to the public).
    """
    url = _parse(text)
    if url is None:
        raise ValueError("must be an absolute http:// or https:// URL")
    _require_web(url, allow_credentials=allow_credentials)
    return str(url.href)


def site_url_or_path(text: str, base: str) -> str:
    """An http(s) URL, or a path on the site at `base` (the page's own URL).

    A relative reference is resolved against `base` as a browser would; it must
    stay on that origin (so `//host`, `/\\host` and `\\\\host` are refused) and
    is returned as the normalised path, query and fragment. Raises ValueError.
    """
    if text != text.strip() or any(ord(ch) < 0x20 or ch == "\x7f" for ch in text):
        raise ValueError("must not contain spaces or control characters")
    absolute = _parse(text)
    if absolute is not None:
        _require_web(absolute)
        return str(absolute.href)
    resolved = _parse(text, base)
    page = _parse(base)
    if resolved is None or page is None:
        raise ValueError("is not a valid URL or path")
    if resolved.origin != page.origin:
        raise ValueError(f"a path must stay on this site; browsers read it as {resolved.href}")
    return f"{resolved.pathname}{resolved.search}{resolved.hash}"


def _parse(text: str, base: str | None = None) -> URL | None:
    try:
        return URL(text, base) if base is not None else URL(text)
    except ValueError:
        return None


def _require_web(url: URL, *, allow_credentials: bool = False) -> None:
    if url.protocol not in WEB_SCHEMES:
        raise ValueError(f"must be an http(s) URL, not {url.protocol}")
    if not url.hostname:
        raise ValueError("must name a host")
    if not allow_credentials and (url.username or url.password):
        raise ValueError("must not carry a user name or password")

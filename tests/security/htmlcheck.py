"""Inspect rendered HTML the way a browser would: which elements, attributes and URLs exist.

Text-matching for "<script" is wrong both ways (escaped text contains it;
odd spellings avoid it), so the XSS tables parse the output instead.
"""

from __future__ import annotations

from html.parser import HTMLParser

EXECUTABLE_TAGS = {
    "script",
    "iframe",
    "object",
    "embed",
    "svg",
    "math",
    "style",
    "form",
    "base",
    "meta",
    "link",
}
INJECTED_ONLY_TAGS = {"script", "iframe", "object", "embed", "base", "form", "math"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "srcset"}
SAFE_SCHEMES = ("http:", "https:", "mailto:", "/", "#", "?")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text.append(data)


def elements(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector.elements


def problems(html: str, allowed_tags: set[str] | None = None, marker: str | None = None) -> list[str]:
    """Everything in `html` that could run script: event handlers, bad URLs, executable tags.

    With `marker`, only elements/attributes carrying it count (pages have
    their own legitimate <link> and <meta>; the payload's marker shows which
    markup came from the attacker).
    """
    found: list[str] = []
    collector = _Collector()
    collector.feed(html)
    collector.close()
    if marker is not None and any(marker in text for text in collector.script_text):
        found.append("payload inside a <script> element")
    for tag, attrs in collector.elements:
        carries = marker is None or marker in tag or any(marker in (v or "") or marker in k for k, v in attrs)
        if allowed_tags is not None and tag not in allowed_tags:
            found.append(f"tag <{tag}>")
        # Pages legitimately put text (escaped) in <meta content>, <link title>, <svg aria-label>;
        # an element that only exists because of the payload is one of these.
        if carries and tag in EXECUTABLE_TAGS and (marker is None or tag in INJECTED_ONLY_TAGS):
            found.append(f"executable tag <{tag}>")
        for name, value in attrs:
            if not carries and marker is not None:
                continue
            if name.startswith("on"):
                found.append(f"event handler {name} on <{tag}>")
            if name == "style":
                found.append(f"style attribute on <{tag}>")
            if name in URL_ATTRIBUTES and value is not None:
                url = "".join(value.split()).lower()
                if ":" in url.split("/", 1)[0] and not url.startswith(SAFE_SCHEMES):
                    found.append(f"unsafe URL {value!r} in {name} of <{tag}>")
    return found

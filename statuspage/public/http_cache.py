"""HTTP caching for public outputs: ETag, Last-Modified, a short max-age, and a render cache.

Bodies are gzipped (once per render) for clients that accept it: the status page
with 200 components is mostly repetitive markup that compresses well.

A response is rendered once per change of the data it shows (the fingerprint
from `public_reads.data_stamp`, plus the current minute for clock-dependent
text such as the stale banner) and then served from memory, so a busy page costs
one small query per request. Conditional requests get 304 Not Modified.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any

from flask import Response, current_app, request

from statuspage.storage.public_reads import data_stamp
from statuspage.web import get_db, now

MAX_AGE_S = 10
MAX_ENTRIES = 512
GZIP_MIN_BYTES = 1024
GZIP_LEVEL = 6


@dataclass(frozen=True)
class Entry:
    version: str
    body: bytes
    gzipped: bytes | None
    mimetype: str
    etag: str
    last_modified: datetime
    headers: tuple[tuple[str, str], ...]


class RenderCache:
    """A small thread-safe LRU of rendered responses, one per app."""

    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, version: str) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.version != version:
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: str, entry: Entry) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


def _cache() -> RenderCache:
    cache: RenderCache = current_app.extensions.setdefault("upwatch_render_cache", RenderCache())
    return cache


def current_version() -> tuple[str, datetime]:
    """(fingerprint of the shown data + current minute, the newest time in the data)."""
    clock = now()
    stamp, times = data_stamp(get_db())
    return f"{stamp}|{clock.strftime('%Y-%m-%dT%H:%M')}", max(times, default=clock)


def cached(view: Callable[..., Response]) -> Callable[..., Response]:
    """Serve a GET view from the render cache and answer conditional requests (ETag first)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        version, last_modified = current_version()
        key = request.full_path
        entry = _cache().get(key, version)
        if entry is None:
            rendered = view(*args, **kwargs)
            if rendered.status_code != 200:
                return rendered
            body = rendered.get_data()
            entry = Entry(
                version=version,
                body=body,
                # mtime=0: the same body always compresses to the same bytes (a stable ETag).
                gzipped=gzip.compress(body, GZIP_LEVEL, mtime=0) if len(body) >= GZIP_MIN_BYTES else None,
                mimetype=rendered.mimetype or "text/html",
                etag=hashlib.sha256(body).hexdigest()[:32],
                last_modified=last_modified.replace(microsecond=0),
                headers=tuple(
                    (k, v)
                    for k, v in rendered.headers.items()
                    if k.lower() not in {"content-type", "content-length"}
                ),
            )
            _cache().put(key, entry)
        use_gzip = entry.gzipped is not None and request.accept_encodings["gzip"] > 0
        response = Response(entry.gzipped if use_gzip else entry.body, mimetype=entry.mimetype)
        for name, value in entry.headers:
            response.headers[name] = value
        if entry.gzipped is not None:
            response.vary.add("Accept-Encoding")
        if use_gzip:
            response.content_encoding = "gzip"
        # Each encoding is its own representation, so it gets its own strong ETag.
        response.set_etag(entry.etag + ("-gz" if use_gzip else ""))
        response.last_modified = entry.last_modified
        response.cache_control.public = True
        response.cache_control.max_age = MAX_AGE_S
        response.make_conditional(request)  # adjusts this response in place (304, Range)
        return response

    return wrapper

"""Drill mode: fail chosen checks on purpose for a set time.

Two sources, same effect:
- the collector's assignments carry `drills` while an operator runs
  `upwatch-statuspage drill` (the agent's part in a full incident drill);
- `upwatch-agent drill CHECK --for 5m` writes the agent's local drill file,
  which the running daemon reads (to rehearse with one agent alone).

While a drill is active for a check, the probe is not run: the result is
`down` with an error saying it is a drill and `detail.drill` set (the drill
id, or "local"), so nobody mistakes it for a real failure afterwards.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

from shared.schema import DrillOrder
from shared.timeutil import from_iso, to_iso

log = logging.getLogger(__name__)
FILE_CHECK_INTERVAL_S = 1.0


def default_drill_file(environ: Mapping[str, str] | None = None) -> Path:
    """systemd's StateDirectory when the agent runs as a unit, ./data otherwise."""
    env = os.environ if environ is None else environ
    state = env.get("STATE_DIRECTORY")
    return Path(state.split(":")[0]) / "drills.json" if state else Path("data") / "agent-drills.json"


class DrillBook:
    """Which checks must fail now, from assignments and from the local drill file."""

    def __init__(self, path: Path | None = None):
        self._path = path
        self._assigned: dict[str, tuple[int | str, datetime]] = {}
        self._local: dict[str, tuple[int | str, datetime]] = {}
        self._file_stamp: float | None = None
        self._checked_at = 0.0

    def update(self, orders: Iterable[DrillOrder]) -> None:
        """Replace the collector's drill orders (called with each new assignments document)."""
        self._assigned = {order.check_id: (order.drill_id, order.until) for order in orders}

    def active(self, check_id: str, now: datetime) -> int | str | None:
        """The drill id (or "local") that makes `check_id` fail at `now`, else None."""
        self._reload_local()
        for source in (self._assigned, self._local):
            found = source.get(check_id)
            if found and now < found[1]:
                return found[0]
        return None

    def until(self, check_id: str) -> datetime | None:
        found = self._assigned.get(check_id) or self._local.get(check_id)
        return found[1] if found else None

    def _reload_local(self) -> None:
        if self._path is None or time.monotonic() - self._checked_at < FILE_CHECK_INTERVAL_S:
            return
        self._checked_at = time.monotonic()
        try:
            stamp = self._path.stat().st_mtime
        except OSError:
            self._local, self._file_stamp = {}, None
            return
        if stamp == self._file_stamp:
            return
        self._file_stamp = stamp
        self._local = {check_id: ("local", until) for check_id, until in read_drill_file(self._path).items()}


def read_drill_file(path: Path) -> dict[str, datetime]:
    """check id -> end of its local drill; a missing or unreadable file means no drills."""
    try:
        data = json.loads(path.read_text())
        return {str(k): from_iso(str(v)) for k, v in data.items()}
    except (OSError, ValueError, AttributeError) as error:
        if path.exists():
            log.warning("ignoring unreadable drill file path=%s error=%s", path, error)
        return {}


def write_local_drill(path: Path, check_id: str, until: datetime, now: datetime) -> None:
    """Add (or replace) a local drill; expired entries are dropped. Written atomically."""
    drills = {k: v for k, v in read_drill_file(path).items() if v > now}
    drills[check_id] = until
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_drill_file(path, drills)


def clear_local_drill(path: Path, check_id: str | None, now: datetime) -> int:
    """End one local drill (or all with None); return how many were active."""
    drills = {k: v for k, v in read_drill_file(path).items() if v > now}
    ended = len(drills) if check_id is None else int(check_id in drills)
    remaining = {} if check_id is None else {k: v for k, v in drills.items() if k != check_id}
    if path.exists():
        _write_drill_file(path, remaining)
    return ended


def _write_drill_file(path: Path, drills: Mapping[str, datetime]) -> None:
    # Write then rename, so the daemon never reads a half-written file.
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({k: to_iso(v) for k, v in drills.items()}, indent=2))
    temporary.replace(path)

"""File / backup probe: a path, or the newest file matching a glob in a directory, must exist,
be younger than `max_age` and larger than `min_size`.

Metrics: `age_s` (like node_exporter's textfile `..._last_success_timestamp`
turned into an age), `size_bytes`.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
from dataclasses import dataclass
from datetime import timedelta

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from shared.checks import FileCheck
from shared.timeutil import format_duration


@dataclass(frozen=True)
class FoundFile:
    path: str
    size_bytes: int
    mtime: float


class FileProblem(Exception):
    """The file is missing or cannot be read; the message says which and why."""


def find_file(check: FileCheck) -> FoundFile:
    """Stat the path, or the newest matching regular file. Raises FileProblem. (Blocking.)"""
    if check.glob is None:
        try:
            stat = os.stat(check.path)
        except FileNotFoundError:
            raise FileProblem(f"{check.path} does not exist") from None
        except OSError as error:
            raise FileProblem(f"cannot read {check.path}: {error.strerror}") from None
        return FoundFile(check.path, stat.st_size, stat.st_mtime)
    newest: FoundFile | None = None
    try:
        with os.scandir(check.path) as entries:
            for entry in entries:
                if not fnmatch.fnmatchcase(entry.name, check.glob) or not entry.is_file():
                    continue
                stat = entry.stat()
                if newest is None or stat.st_mtime > newest.mtime:
                    newest = FoundFile(entry.path, stat.st_size, stat.st_mtime)
    except FileNotFoundError:
        raise FileProblem(f"directory {check.path} does not exist") from None
    except OSError as error:
        raise FileProblem(f"cannot read directory {check.path}: {error.strerror}") from None
    if newest is None:
        raise FileProblem(f"no file matches {os.path.join(check.path, check.glob)}")
    return newest


@register("file")
async def probe_file(check: FileCheck, context: ProbeContext) -> Outcome:
    """Down when missing, older than max_age or smaller than min_size."""
    try:
        found = await asyncio.to_thread(find_file, check)
    except FileProblem as problem:
        return Outcome("down", str(problem))
    age = timedelta(seconds=max(0.0, context.clock().timestamp() - found.mtime))
    metrics = {"age_s": round(age.total_seconds(), 3), "size_bytes": float(found.size_bytes)}
    detail: dict[str, str | int | bool | None] = {"path": found.path}
    problems = []
    if check.max_age is not None and age > check.max_age:
        problems.append(f"{found.path} is {format_duration(age)} old (max {format_duration(check.max_age)})")
    if check.min_size is not None and found.size_bytes < check.min_size:
        problems.append(f"{found.path} is {found.size_bytes} bytes (min {check.min_size})")
    if problems:
        return Outcome("down", "; ".join(problems), metrics, detail)
    return Outcome("up", None, metrics, detail)

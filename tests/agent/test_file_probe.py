"""The file / backup probe against real files with set modification times."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from agent.probes import run_check
from agent.probes.context import ProbeContext
from shared.checks import parse_check
from tests.conftest import T0, FrozenClock


def file_check(path: Path, **fields: Any) -> Any:
    return parse_check({"id": "backup", "kind": "file", "path": str(path), **fields})


def touch(path: Path, size: int, age: timedelta) -> Path:
    path.write_bytes(b"b" * size)
    mtime = (T0 - age).timestamp()
    os.utime(path, (mtime, mtime))
    return path


async def test_fresh_big_file_is_up(tmp_path: Path, context: ProbeContext) -> None:
    context.clock = FrozenClock()
    path = touch(tmp_path / "db.dump", 2048, timedelta(hours=2))
    result = await run_check(file_check(path, max_age="1d", min_size=1024), context)
    assert result.status == "up", result.error
    assert result.metrics == {"age_s": 7200.0, "size_bytes": 2048.0}


async def test_old_and_small_file(tmp_path: Path, context: ProbeContext) -> None:
    context.clock = FrozenClock()
    path = touch(tmp_path / "db.dump", 10, timedelta(days=2, hours=3))
    result = await run_check(file_check(path, max_age="1d", min_size=1024), context)
    assert result.status == "down"
    assert result.error == f"{path} is 2d 3h old (max 1d); {path} is 10 bytes (min 1024)"


async def test_missing_file(tmp_path: Path, context: ProbeContext) -> None:
    result = await run_check(file_check(tmp_path / "nope"), context)
    assert result.error == f"{tmp_path / 'nope'} does not exist"


async def test_newest_matching_file_in_directory(tmp_path: Path, context: ProbeContext) -> None:
    context.clock = FrozenClock()
    touch(tmp_path / "backup-1.tar.gz", 5000, timedelta(days=3))
    newest = touch(tmp_path / "backup-2.tar.gz", 5000, timedelta(hours=1))
    touch(tmp_path / "notes.txt", 1, timedelta(minutes=1))  # newer, but does not match
    result = await run_check(file_check(tmp_path, glob="backup-*.tar.gz", max_age="6h"), context)
    assert result.status == "up", result.error
    assert result.detail["path"] == str(newest)
    none = await run_check(file_check(tmp_path, glob="*.sql"), context)
    assert none.error == f"no file matches {tmp_path}/*.sql"

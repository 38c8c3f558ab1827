"""What `serve` does in each web worker after gunicorn forks it (a real interpreter, not this one:
the test process keeps Python's defaults)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, sys
from statuspage.server import freeze_startup_objects
before = gc.get_freeze_count()
freeze_startup_objects()
print(before, gc.get_freeze_count())
"""


def test_a_web_worker_freezes_its_startup_heap() -> None:
    out = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    before, frozen = int(out[0]), int(out[1])
    assert before == 0
    assert frozen > 10_000  # the app's modules and settings, out of every collection's walk


DEPLOY_PROBE = """
import gc, runpy, sys
config = runpy.run_path(sys.argv[1])
config["post_fork"](None, None)
print(gc.get_freeze_count())
"""


def test_the_deploy_gunicorn_config_tunes_its_workers_like_serve(tmp_path: Path) -> None:
    out = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", DEPLOY_PROBE, str(ROOT / "deploy" / "gunicorn.conf.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, "UPWATCH_DATABASE": str(tmp_path / "u.db"), "UPWATCH_CONFIG": ""},
    ).stdout.split()
    assert int(out[0]) > 10_000

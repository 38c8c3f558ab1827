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
from statuspage.server import SWITCH_INTERVAL_S, tune_web_worker
before = sys.getswitchinterval()
tune_web_worker()
print(before, sys.getswitchinterval(), SWITCH_INTERVAL_S, gc.get_freeze_count())
"""


def test_a_web_worker_gets_the_short_switch_interval_and_a_frozen_heap() -> None:
    out = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    before, after, wanted, frozen = float(out[0]), float(out[1]), float(out[2]), int(out[3])
    assert before == 0.005  # Python's default, which gthread's handoffs wait on
    assert after == wanted < before
    assert frozen > 10_000  # the app's modules and settings, out of every collection's walk


DEPLOY_PROBE = """
import gc, runpy, sys
config = runpy.run_path(sys.argv[1])
config["post_fork"](None, None)
print(sys.getswitchinterval(), gc.get_freeze_count())
"""


def test_the_deploy_gunicorn_config_tunes_its_workers_like_serve(tmp_path: Path) -> None:
    from statuspage.server import SWITCH_INTERVAL_S

    out = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", DEPLOY_PROBE, str(ROOT / "deploy" / "gunicorn.conf.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, "UPWATCH_DATABASE": str(tmp_path / "u.db"), "UPWATCH_CONFIG": ""},
    ).stdout.split()
    assert float(out[0]) == SWITCH_INTERVAL_S
    assert int(out[1]) > 10_000

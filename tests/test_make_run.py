"""`make run`'s script from the outside: the demo serves the status page with its components
operational, and SIGINT (Ctrl-C) stops every process it started."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

from tests.helpers import BIN, free_port, http_get, start, wait_for

ROOT = Path(__file__).resolve().parent.parent


def statuses(base: str) -> dict[str, str]:
    _code, body = http_get(base + "/")
    return dict(re.findall(r'data-component="([a-z0-9_.-]+)" data-status="([a-z_]+)"', body.decode()))


def test_demo_starts_operational_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"PORT": str(port), "MAIL_PORT": str(free_port()), "VENV": str(BIN.parent),
           "DATA_DIR": str(tmp_path / "data")}  # fmt: skip
    process = start(["bash", str(ROOT / "scripts" / "run-demo.sh")], env, tmp_path / "demo.log")
    # The script runs from the project root (it reads deploy/examples/demo.toml).
    expected = {"web": "operational", "port": "operational", "host-health": "operational"}
    try:
        try:
            # 60 s is the promise; the margin absorbs a loaded CI machine.
            wait_for(lambda: statuses(base) == expected, timeout_s=90)
        except AssertionError as error:
            log = (tmp_path / "demo.log").read_text()[-4000:]
            raise AssertionError(f"{error}; the page says {statuses(base)}; log:\n{log}") from None
        assert (tmp_path / "data" / "upwatch.db").exists()
        # the demo's operator can sign in to the admin UI with the password it wrote down
        password = (tmp_path / "data" / "admin-password.txt").read_text().strip()
        assert _admin_sign_in(base, "admin", password)
        log = (tmp_path / "demo.log").read_text()
        assert f"http://127.0.0.1:{port}/" in log
        # its mail goes to the local sink, so /subscribe offers email first
        assert "By email" in http_get(base + "/subscribe")[1].decode()
    finally:
        # Ctrl-C in a terminal signals the whole foreground process group.
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _group_members(process.pid):
        time.sleep(0.2)
    assert _group_members(process.pid) == [], (tmp_path / "demo.log").read_text()[-3000:]
    assert "upwatch demo stopped." in (tmp_path / "demo.log").read_text()


def _admin_sign_in(base: str, name: str, password: str) -> bool:
    """Sign in like a browser (login CSRF cookie + form); True when the dashboard loads."""
    import http.cookiejar
    import urllib.parse
    import urllib.request

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = opener.open(base + "/admin/login", timeout=10).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token, form[:500]
    data = urllib.parse.urlencode(
        {"name": name, "password": password, "csrf_token": token.group(1), "next": ""}
    )
    request = urllib.request.Request(base + "/admin/login", data=data.encode(), headers={"Origin": base})
    page = opener.open(request, timeout=10).read().decode()
    return "Sign out" in page


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is the state, [2] the process group; zombies are already gone for our purpose.
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members

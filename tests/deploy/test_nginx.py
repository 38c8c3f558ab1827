"""The reverse-proxy example passes `nginx -t` with a real (throw-away) certificate."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "deploy" / "nginx" / "upwatch.conf"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
CERT = "/etc/letsencrypt/live/status.acme.test/fullchain.pem"
KEY = "/etc/letsencrypt/live/status.acme.test/privkey.pem"


@pytest.mark.skipif(NGINX is None, reason="nginx missing: run scripts/test-setup.sh")
def test_nginx_accepts_the_example(tmp_path: Path) -> None:
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=status.acme.test",
            "-keyout",
            str(tmp_path / "key.pem"),
            "-out",
            str(tmp_path / "cert.pem"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    site = SITE.read_text()
    assert CERT in site and KEY in site
    (tmp_path / "site.conf").write_text(
        site.replace(CERT, str(tmp_path / "cert.pem")).replace(KEY, str(tmp_path / "key.pem"))
    )
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nevents {{}}\nhttp {{\n    include {tmp_path}/site.conf;\n}}\n"
    )
    tested = subprocess.run(
        [str(NGINX), "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert tested.returncode == 0, tested.stderr
    assert "test is successful" in tested.stderr


def test_example_terminates_tls_and_forwards_request_ids() -> None:
    site = SITE.read_text()
    assert "listen 443 ssl" in site and "ssl_protocols TLSv1.2 TLSv1.3;" in site
    assert "return 301 https://" in site
    assert "proxy_set_header X-Request-ID $request_id;" in site
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in site
    assert "server 127.0.0.1:8080;" in site  # where upwatch-web.service listens


HA_SITE = ROOT / "deploy" / "nginx" / "upwatch-ha.conf"


@pytest.mark.skipif(NGINX is None, reason="nginx missing: run scripts/test-setup.sh")
def test_nginx_accepts_the_ha_example(tmp_path: Path) -> None:
    """The compose HA file's nginx config (two collectors upstream) passes `nginx -t`.

    Its upstream servers are compose service names that only Docker's DNS resolves,
    and nginx resolves upstream names when it loads the config: the test names them
    by address instead (same port, same parameters); every other line is as shipped.
    """
    site = HA_SITE.read_text()
    assert "server collector-a:8080 " in site and "server collector-b:8080 " in site
    local = site.replace("server collector-a:8080 ", "server 127.0.0.1:8080 ").replace(
        "server collector-b:8080 ", "server 127.0.0.2:8080 "
    )
    (tmp_path / "site.conf").write_text(local)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nevents {{}}\nhttp {{\n    include {tmp_path}/site.conf;\n}}\n"
    )
    tested = subprocess.run(
        [str(NGINX), "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert tested.returncode == 0, tested.stderr
    assert "test is successful" in tested.stderr

"""deploy/install-agent.sh run for real into a temporary root (--root implies --no-start):
a virtualenv with upwatch, the env file, the credential, the unit; idempotent; --uninstall."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "install-agent.sh"
# The interpreter the test venv was made from: the script makes its own venv from it.
BASE_PYTHON = str(Path(sys.base_prefix) / "bin" / "python3")
TOKEN = "uwa_" + "t0k3n" * 8


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """upwatch as a wheel, built offline from a copy of the sources (the checkout stays clean)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("agent", "shared", "statuspage"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index", "--no-build-isolation",
         "--wheel-dir", str(work / "dist"), str(source)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    [built] = (work / "dist").glob("upwatch-*.whl")
    return built


def install(root: Path, wheel: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "bash", str(SCRIPT), "--root", str(root), "--python", BASE_PYTHON,
            "--source", str(wheel), "--pip-args", "--no-deps --no-index", *args,
        ],
        capture_output=True, text=True, timeout=180, env={**os.environ, "PIP_NO_INPUT": "1"},
    )  # fmt: skip


def tree(root: Path) -> dict[str, tuple[int, bytes]]:
    """Mode and content of every file the script writes outside the virtualenv."""
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and relative.parts[0] != "opt":
            found[str(relative)] = (stat.S_IMODE(path.stat().st_mode), path.read_bytes())
    return found


def test_install_is_idempotent_and_uninstall_removes_everything(tmp_path: Path, wheel: Path) -> None:
    root = tmp_path / "host"
    first = install(
        root, wheel, "--collector-url", "https://status.acme.test/", "--token", TOKEN,
        "--name", "edge-eu-1", "--labels", "eu,prod",
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert "not started" in first.stdout

    venv = root / "opt" / "upwatch-agent"
    agent = venv / "bin" / "upwatch-agent"
    assert os.access(agent, os.X_OK)
    assert agent.read_text().splitlines()[0] == f"#!{venv}/bin/python"
    show = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "show", "upwatch"], capture_output=True, text=True
    )
    assert "Name: upwatch" in show.stdout

    env_file = root / "etc" / "upwatch-agent" / "agent.env"
    settings = dict(
        line.split("=", 1) for line in env_file.read_text().splitlines() if line and not line.startswith("#")
    )
    assert settings == {
        "UPWATCH_AGENT_COLLECTOR_URL": "https://status.acme.test",
        "UPWATCH_AGENT_NAME": "edge-eu-1",
        "UPWATCH_AGENT_LABELS": "eu,prod",
    }
    assert TOKEN not in env_file.read_text()  # the token is a credential, not an env variable
    token_file = root / "etc" / "upwatch-agent" / "token"
    assert token_file.read_text().strip() == TOKEN
    assert stat.S_IMODE(token_file.stat().st_mode) == stat.S_IMODE(env_file.stat().st_mode) == 0o600
    unit = root / "etc" / "systemd" / "system" / "upwatch-agent.service"
    assert (
        unit.read_text().strip()
        == (ROOT / "deploy" / "systemd" / "upwatch-agent.service").read_text().strip()
    )
    written = tree(root)

    # Again, with nothing but the root: keeps URL, name, labels and token; rewrites nothing.
    again = install(root, wheel)
    assert again.returncode == 0, again.stderr
    assert "created" not in again.stdout and again.stdout.count("unchanged") == 3
    assert tree(root) == written

    # A new token (from a file: off the command line) replaces only the credential.
    secret = tmp_path / "token.txt"
    secret.write_text(TOKEN.upper() + "\n")
    rotated = install(root, wheel, "--token-file", str(secret))
    assert rotated.returncode == 0, rotated.stderr
    assert token_file.read_text().strip() == TOKEN.upper()
    assert env_file.read_text() == written["etc/upwatch-agent/agent.env"][1].decode()

    (root / "var" / "lib" / "private" / "upwatch-agent").mkdir(parents=True)  # the agent's spool
    for _ in range(2):  # uninstall is idempotent too
        removed = subprocess.run(
            ["bash", str(SCRIPT), "--root", str(root), "--uninstall"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert removed.returncode == 0, removed.stderr
    assert [p for p in root.rglob("*") if p.is_file()] == []
    assert not venv.exists() and not (root / "var" / "lib" / "private" / "upwatch-agent").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--collector-url is required"),
        (["--collector-url", "https://c.test"], "--token or --token-file is required"),
        (["--collector-url", "ftp://c.test", "--token", TOKEN], "--collector-url must be"),
        (["--collector-url", "https://c.test\nX=1", "--token", TOKEN], "--collector-url must be"),
        (["--collector-url", "https://c.test", "--token", "short"], "the token must be"),
        (["--collector-url", "https://c.test", "--token", TOKEN, "--name", "bad name"], "--name"),
        (["--collector-url", "https://c.test", "--token", TOKEN, "--labels", "eu,,x"], "--labels"),
        (["--bogus"], "unknown option --bogus"),
        (
            ["--collector-url", "https://c.test", "--token", TOKEN, "--extras", "postgresql,oracle"],
            "--extras",
        ),
        (["--token"], "--token needs a value"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    tmp_path: Path, wheel: Path, args: list[str], message: str
) -> None:
    root = tmp_path / "host"
    refused = install(root, wheel, *args)
    assert refused.returncode == 2 and message in refused.stderr, refused.stderr
    assert not root.exists() or not any(root.rglob("*"))

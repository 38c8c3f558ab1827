"""Bad config files are refused at start-up with a message naming the key."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from statuspage.settings import ConfigError, load_settings
from tests.helpers import BIN

GOOD = """
[page]
name = "Acme Status"
url = "https://status.acme.test"

[[groups]]
id = "core"
name = "Core"

[[components]]
id = "api"
name = "Public API"
group = "core"

[[checks]]
id = "api-health"
component = "api"
kind = "http"
url = "https://api.acme.test/health"
interval = "30s"
timeout = "10s"
run_on = ["label:eu", "agent:edge-1"]
"""

CHECK = """
[[checks]]
id = "c2"
component = "api"
{body}
"""

BAD_CASES = [
    ("unknown top-level key", GOOD + "\ncolour = 'red'\n", "colour"),
    ("unknown page key", GOOD.replace('name = "Acme Status"', 'name = "A"\ntheme = 1'), "page.theme"),
    ("page url not http", GOOD.replace("https://status.acme.test", "ftp://x"), "page.url"),
    ("page name empty", GOOD.replace('name = "Acme Status"', 'name = ""'), "page.name"),
    ("group id bad", GOOD.replace('id = "core"', 'id = "Core Services"', 1), "groups[0].id"),
    ("component unknown group", GOOD.replace('group = "core"', 'group = "nope"'), "components[0].group"),
    (
        "check unknown component",
        GOOD.replace('component = "api"', 'component = "nope"'),
        "checks[0].component",
    ),
    ("check unknown kind", GOOD.replace('kind = "http"', 'kind = "gopher"'), "checks[0]"),
    ("check bad interval", GOOD.replace('interval = "30s"', 'interval = "soon"'), "checks[0].interval"),
    ("timeout above interval", GOOD.replace('timeout = "10s"', 'timeout = "1m"'), "checks[0]"),
    (
        "interval below 1s",
        GOOD.replace('interval = "30s"', 'interval = "500ms"').replace(
            'timeout = "10s"', 'timeout = "100ms"'
        ),
        "checks[0]",
    ),
    ("http url not http", GOOD.replace("https://api.acme.test/health", "api.acme.test"), "checks[0].url"),
    ("bad selector", GOOD.replace('"label:eu", ', '"eu", '), "checks[0].run_on[0]"),
    (
        "unknown check field",
        GOOD + CHECK.format(body='kind = "tcp"\nhost = "h"\nport = 1\nretries = 3'),
        "checks[1].retries",
    ),
    (
        "tcp port out of range",
        GOOD + CHECK.format(body='kind = "tcp"\nhost = "h"\nport = 70000'),
        "checks[1].port",
    ),
    ("tcp host missing", GOOD + CHECK.format(body='kind = "tcp"\nport = 22'), "checks[1].host"),
    (
        "duplicate check id",
        GOOD
        + CHECK.format(body='kind = "tcp"\nhost = "h"\nport = 1').replace('id = "c2"', 'id = "api-health"'),
        "checks[1].id",
    ),
    ("threshold zero", GOOD + "failure_threshold = 0\n", "checks[0].failure_threshold"),
    ("quorum bad", GOOD + 'quorum = "most"\n', "checks[0].quorum"),
    (
        "host limit over 100",
        GOOD + CHECK.format(body='kind = "host"\ncpu_percent_max = 150'),
        "checks[1].cpu_percent_max",
    ),
    ("wrong type", GOOD.replace('name = "Public API"', "name = 5"), "components[0].name"),
    ("not TOML", "[page\nname=", "invalid TOML"),
]


@pytest.mark.parametrize(("case", "text", "key"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_config_is_refused_naming_the_key(tmp_path: Path, case: str, text: str, key: str) -> None:
    path = tmp_path / "upwatch.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={}, config=str(path))
    assert key in str(raised.value), str(raised.value)


def test_good_config_loads(tmp_path: Path) -> None:
    path = tmp_path / "upwatch.toml"
    path.write_text(GOOD)
    settings = load_settings(environ={}, config=str(path))
    assert settings.page.name == "Acme Status"
    assert settings.checks[0].interval.total_seconds() == 30


def test_env_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "upwatch.toml"
    path.write_text(GOOD)
    monkeypatch.setenv("UPWATCH_PAGE__NAME", "From Env")
    monkeypatch.setenv("UPWATCH_DATABASE", str(tmp_path / "x.db"))
    settings = load_settings(config=str(path))
    assert settings.page.name == "From Env"
    assert settings.database == tmp_path / "x.db"


def test_missing_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="UPWATCH_CONFIG"):
        load_settings(environ={}, config=str(tmp_path / "absent.toml"))


def test_serve_refuses_to_start_with_bad_config(tmp_path: Path) -> None:
    path = tmp_path / "upwatch.toml"
    path.write_text(GOOD.replace('component = "api"', 'component = "nope"'))
    completed = subprocess.run(  # noqa: S603
        [str(BIN / "upwatch-statuspage"), "serve", "--port", "1"],
        env={
            "UPWATCH_CONFIG": str(path),
            "UPWATCH_DATABASE": str(tmp_path / "db.sqlite"),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert "checks[0].component: unknown component 'nope'" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "db.sqlite").exists()


def test_config_check_command(tmp_path: Path) -> None:
    path = tmp_path / "upwatch.toml"
    path.write_text(GOOD)
    ok = subprocess.run(  # noqa: S603
        [str(BIN / "upwatch-statuspage"), "config", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0 and "OK" in ok.stdout
    path.write_text(GOOD.replace('interval = "30s"', 'interval = "x"'))
    bad = subprocess.run(  # noqa: S603
        [str(BIN / "upwatch-statuspage"), "config", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "checks[0].interval" in bad.stderr

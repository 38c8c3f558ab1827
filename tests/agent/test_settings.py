"""Agent configuration: env wins over the TOML file; bad values name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.settings import ConfigError, load_config


def test_env_only() -> None:
    config = load_config(
        {
            "UPWATCH_AGENT_COLLECTOR_URL": "http://127.0.0.1:8080/",
            "UPWATCH_AGENT_TOKEN": "uwa_x",
            "UPWATCH_AGENT_NAME": "edge-1",
            "UPWATCH_AGENT_LABELS": "eu, prod",
        }
    )
    assert config.settings.collector_url == "http://127.0.0.1:8080"
    assert config.settings.labels == ["eu", "prod"]
    assert config.local_checks == []


def test_collector_urls_from_env_in_order_and_collector_url_alone() -> None:
    listed = load_config({"UPWATCH_AGENT_COLLECTOR_URLS": "http://a:8080/, http://b:8080"}).settings
    assert listed.collectors() == ["http://a:8080", "http://b:8080"]
    single = load_config({"UPWATCH_AGENT_COLLECTOR_URL": "http://a:8080"}).settings
    assert single.collectors() == ["http://a:8080"]
    both = load_config(
        {"UPWATCH_AGENT_COLLECTOR_URL": "http://a", "UPWATCH_AGENT_COLLECTOR_URLS": "http://a,http://b"}
    ).settings
    assert both.collectors() == ["http://a", "http://b"]
    assert load_config({}).settings.collectors() == []


def test_file_with_local_checks_and_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(
        '[agent]\nname = "from-file"\nlabels = ["eu"]\n\n'
        '[[checks]]\nid = "local-ssh"\nkind = "tcp"\nhost = "127.0.0.1"\nport = 22\n'
    )
    monkeypatch.setenv("UPWATCH_AGENT_NAME", "from-env")
    import os

    config = load_config({**os.environ, "UPWATCH_AGENT_CONFIG": str(path)})
    assert config.settings.name == "from-env"
    assert config.settings.labels == ["eu"]
    assert [c.id for c in config.local_checks] == ["local-ssh"]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[agent]\ncolour = 1\n", "agent.colour"),
        ('[agent]\ncollector_url = "ftp://x"\n', "agent.collector_url"),
        ("[agent]\nmax_concurrency = 0\n", "agent.max_concurrency"),
        ('[agent]\ncollector_urls = ["http://a", "ftp://b"]\n', "agent.collector_urls"),
        ('[agent]\ncollector_urls = ["http://a", "http://a/"]\n', "agent.collector_urls"),
        ('[agent]\ncollector_url = "http://x"\ncollector_urls = ["http://a"]\n', "collector_urls"),
        ('[[checks]]\nid = "x"\nkind = "tcp"\nhost = "h"\n', "checks[0].port"),
        (
            '[[checks]]\nid = "x"\nkind = "tcp"\nhost = "h"\nport = 1\n[[checks]]\nid = "x"\nkind = "tcp"\nhost = "h"\nport = 2\n',
            "checks[1].id",
        ),
        ("[oops]\n", "oops"),
        ("not toml [", "invalid TOML"),
    ],
)
def test_bad_agent_config_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config({"UPWATCH_AGENT_CONFIG": str(path)})
    assert key in str(raised.value)


def test_missing_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="UPWATCH_AGENT_CONFIG"):
        load_config({"UPWATCH_AGENT_CONFIG": str(tmp_path / "absent.toml")})


def test_token_from_systemd_credential(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("uwa_from_credential\n")
    config = load_config({"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert config.settings.token == "uwa_from_credential"
    override = load_config({"CREDENTIALS_DIRECTORY": str(tmp_path), "UPWATCH_AGENT_TOKEN": "uwa_env"})
    assert override.settings.token == "uwa_env"

"""The Dockerfiles and the compose file, checked statically: no Docker engine runs here (or in
CI), so nothing is built. hadolint lints each Dockerfile; then every path they copy, every
program they run and every setting they pass is checked against the repository."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from agent.settings import AgentSettings
from statuspage.settings import Settings
from tests.helpers import BIN

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "deploy" / "docker"
DOCKERFILES = {"collector": DOCKER / "collector.Dockerfile", "agent": DOCKER / "agent.Dockerfile"}
SCRIPTS = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]) | {"gunicorn"}
# Knobs of deploy/gunicorn.conf.py, read there rather than by the app's settings.
GUNICORN_KNOBS = {"UPWATCH_WEB_BIND", "UPWATCH_WEB_WORKERS", "UPWATCH_WEB_THREADS"}


def instructions(path: Path) -> list[tuple[str, str]]:
    parsed = DockerfileParser(path=str(path))
    return [(i["instruction"], i["value"]) for i in parsed.structure if i["instruction"] != "COMMENT"]


def final_stage(path: Path) -> list[tuple[str, str]]:
    steps = instructions(path)
    last_from = max(index for index, (name, _v) in enumerate(steps) if name == "FROM")
    return steps[last_from:]


def exec_form(value: str) -> list[str]:
    words = json.loads(value)
    assert isinstance(words, list) and all(isinstance(w, str) for w in words), value
    return words


def env_keys(path: Path) -> set[str]:
    keys: set[str] = set()
    for name, value in final_stage(path):
        if name == "ENV":
            keys |= {word.split("=", 1)[0] for word in shlex.split(value)}
    return keys


def setting_env_names(model: type[Any], prefix: str) -> set[str]:
    return {f"{prefix}{field.upper()}" for field in model.model_fields}


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_hadolint_is_clean(name: str) -> None:
    linted = subprocess.run(
        [str(BIN / "hadolint"), "--no-color", str(DOCKERFILES[name])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_multi_stage_non_root_with_healthcheck(name: str) -> None:
    path = DOCKERFILES[name]
    assert DockerfileParser(path=str(path)).is_multistage
    final = final_stage(path)
    users = [value for step, value in final if step == "USER"]
    assert users, "the runtime stage must switch user"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, users[-1]
    # The runtime stage installs nothing itself: it copies the virtualenv from the build stage.
    assert any(step == "COPY" and value.startswith("--from=build ") for step, value in final)
    [healthcheck] = [value for step, value in final if step == "HEALTHCHECK"]
    command = exec_form(healthcheck.split("CMD", 1)[1].strip())
    assert command[:2] == ["python", "-c"]
    compile(command[2], f"{name} HEALTHCHECK", "exec")  # the probe is valid Python


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_copied_paths_exist_and_programs_are_installed(name: str) -> None:
    path = DOCKERFILES[name]
    steps = instructions(path)
    for step, value in steps:
        if step == "COPY" and not value.startswith("--from="):
            *sources, _destination = value.split()
            for source in sources:
                assert (ROOT / source).exists(), f"{name}: COPY {source} does not exist"
    final = final_stage(path)
    entry = [exec_form(value) for step, value in final if step == "ENTRYPOINT"]
    command = [exec_form(value) for step, value in final if step == "CMD"]
    program = (entry or command)[-1]
    if program[:2] == ["sh", "-c"]:
        programs = [re.sub(r"^exec\s+", "", part.strip()).split()[0] for part in program[2].split("&&")]
    else:
        programs = [program[0]]
    for executable in programs:
        assert executable in SCRIPTS, f"{name}: runs {executable}, which upwatch does not install"
    # Files the command names must be copied into the image.
    copied = {value.split()[-1] for step, value in final if step == "COPY"}
    for word in " ".join(program).split():
        if word.startswith("/etc/"):
            assert word in copied, f"{name}: {word} is used but never copied"


def test_env_names_real_settings() -> None:
    known = setting_env_names(Settings, "UPWATCH_") | GUNICORN_KNOBS
    keys = {key for key in env_keys(DOCKERFILES["collector"]) if key.startswith("UPWATCH_")}
    assert keys and keys <= known, keys - known
    agent_known = setting_env_names(AgentSettings, "UPWATCH_AGENT_")
    agent_keys = {key for key in env_keys(DOCKERFILES["agent"]) if key.startswith("UPWATCH_")}
    assert agent_keys and agent_keys <= agent_known, agent_keys - agent_known


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def test_compose_runs_collector_worker_and_agent(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"collector", "worker", "agent"}
    for name, service in services.items():
        if "build" in service:
            build = service["build"]
            context = (DOCKER / build["context"]).resolve()
            assert context == ROOT, name
            assert (context / build["dockerfile"]).is_file(), name
        assert service.get("read_only") is True and service.get("cap_drop") == ["ALL"], name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source in compose["volumes"], f"{name}: undeclared volume {source}"
    images = {name: service["image"] for name, service in services.items()}
    # The worker runs the collector's image with the worker command.
    assert images["worker"] == images["collector"]
    assert services["worker"]["command"] == ["upwatch-statuspage", "worker"]
    assert services["worker"]["command"][0] in SCRIPTS
    # Web and worker share one database volume.
    assert services["worker"]["volumes"] == services["collector"]["volumes"]


def test_compose_agent_reaches_the_collector(compose: dict[str, Any]) -> None:
    agent = compose["services"]["agent"]
    environment = agent["environment"]
    known = setting_env_names(AgentSettings, "UPWATCH_AGENT_") | {"CREDENTIALS_DIRECTORY"}
    assert set(environment) <= known, set(environment) - known
    exposed = [value for step, value in final_stage(DOCKERFILES["collector"]) if step == "EXPOSE"]
    assert environment["UPWATCH_AGENT_COLLECTOR_URL"] == f"http://collector:{exposed[0]}"
    # The token arrives as a secret file the agent reads as its credential ($CREDENTIALS_DIRECTORY/token).
    assert agent["secrets"] == [{"source": "upwatch_agent_token", "target": "token"}]
    assert environment["CREDENTIALS_DIRECTORY"] == "/run/secrets"
    assert "upwatch_agent_token" in compose["secrets"]
    assert agent["depends_on"]["collector"]["condition"] == "service_healthy"


def test_dockerignore_keeps_local_state_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "data"} <= set(ignored)


def test_ha_compose_two_collectors_two_workers_on_postgres_behind_nginx() -> None:
    data = yaml.safe_load((DOCKER / "compose.ha.yaml").read_text())
    services = data["services"]
    assert {"postgres", "collector-a", "collector-b", "worker-a", "worker-b", "nginx", "agent"} <= set(
        services
    )
    upwatch = [services[name] for name in ("collector-a", "collector-b", "worker-a", "worker-b")]
    for service in upwatch:
        assert service["image"] == "upwatch-collector:latest"
        assert service["environment"]["UPWATCH_DATABASE"].startswith("postgresql://")
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service.get("read_only") is True and service.get("cap_drop") == ["ALL"]
    for worker in ("worker-a", "worker-b"):
        assert services[worker]["command"] == ["upwatch-statuspage", "worker"]
    top_level = {name.split("__")[0] for name in upwatch[0]["environment"]} - {"PGPASSFILE"}
    assert top_level <= setting_env_names(Settings, "UPWATCH_")
    agent = services["agent"]["environment"]
    assert agent["UPWATCH_AGENT_COLLECTOR_URLS"] == "http://collector-a:8080,http://collector-b:8080"
    nginx_conf = (ROOT / "deploy" / "nginx" / "upwatch-ha.conf").read_text()
    assert "server collector-a:8080" in nginx_conf and "server collector-b:8080" in nginx_conf
    assert "proxy_next_upstream error timeout http_502 http_503 http_504 non_idempotent" in nginx_conf
    assert "postgresql" in (ROOT / "deploy" / "docker" / "collector.Dockerfile").read_text()

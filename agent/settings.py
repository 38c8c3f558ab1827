"""Agent settings: environment `UPWATCH_AGENT_*`, an optional TOML file, and a secrets dir.

Precedence, highest first: environment, the TOML file's `[agent]` table,
the systemd credential `token` (a file in `$CREDENTIALS_DIRECTORY`, as
`LoadCredential=token:...` provides), defaults.
The TOML file (`UPWATCH_AGENT_CONFIG`) may also declare local `[[checks]]`,
which the agent runs in addition to what the collector assigns it, an
`[allow]` table: the assigned command and file checks this host lets the
collector run (see agent/allowlist.py), and `[[actions]]`: the only
remediation commands it will ever run on the collector's orders (agent/actions.py;
the same trust model: the host's owner decides what may run).
"""

from __future__ import annotations

import os
import socket
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from agent.actions import ActionConfig, parse_actions
from agent.allowlist import AllowConfig, AllowList
from shared.checks import COLLECTOR_KINDS, AnyCheck, describe_error, parse_check
from shared.logging_setup import LogFormat, LogLevel


class ConfigError(Exception):
    """The agent's configuration is invalid; the message names the key."""


class AgentSettings(BaseSettings):
    """Everything the agent needs to know to run."""

    model_config = SettingsConfigDict(env_prefix="UPWATCH_AGENT_", extra="forbid")

    collector_url: str = Field(default="", max_length=2000)
    collector_urls: Annotated[list[str], NoDecode] = Field(default_factory=list, max_length=20)
    token: str = Field(default="", max_length=500)
    name: str = Field(default_factory=socket.gethostname, max_length=64)
    labels: Annotated[list[str], NoDecode] = Field(default_factory=list)
    config: Path | None = None
    max_concurrency: int = Field(default=50, ge=1, le=10_000)
    assignments_refresh_s: float = Field(default=60.0, ge=1, le=86_400)
    report_interval_s: float = Field(default=2.0, ge=0.1, le=3600)
    heartbeat_interval_s: float = Field(default=30.0, ge=1, le=3600)
    request_timeout_s: float = Field(default=10.0, ge=0.5, le=300)
    shutdown_grace_s: float = Field(default=5.0, ge=0, le=300)
    batch_size: int = Field(default=500, ge=1, le=1000)
    backoff_max_s: float = Field(default=60.0, ge=0.1, le=3600)
    spool_path: Path | None = None
    spool_max_bytes: int = Field(default=256 * 1024 * 1024, ge=64 * 1024, le=1 << 40)
    spool_ledger: bool = False
    drill_file: Path | None = None
    log_format: LogFormat = "text"
    log_level: LogLevel = "INFO"

    def spool_file(self) -> Path:
        """Where the spool lives: `spool_path`, else `data/spool-<name>.db` (one per agent name)."""
        return self.spool_path or Path("data") / f"spool-{self.name}.db"

    def collectors(self) -> list[str]:
        """The collectors to report to, in order: `collector_urls`, else `[collector_url]`, else none."""
        if self.collector_urls:
            return list(self.collector_urls)
        return [self.collector_url] if self.collector_url else []

    @field_validator("labels", "collector_urls", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        # Env gives "eu,prod"; TOML gives a list. Both mean the same.
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("collector_url")
    @classmethod
    def _collector_url(cls, value: str) -> str:
        return _check_url(value) if value else value

    @field_validator("collector_urls")
    @classmethod
    def _collector_urls(cls, value: list[str]) -> list[str]:
        urls = [_check_url(url) for url in value]
        if len(set(urls)) != len(urls):
            raise ValueError("lists a URL twice")
        return urls

    @model_validator(mode="after")
    def _one_way_to_name_collectors(self) -> AgentSettings:
        if self.collector_url and self.collector_urls and self.collector_urls[0] != self.collector_url:
            raise ValueError(
                "collector_urls: set collector_url or collector_urls, not both"
                " (or make collector_url the first of collector_urls)"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_config merges the file and the environment itself (env wins, so
        # one unit file can tweak a shared config) and passes them as init kwargs.
        return init_settings, file_secret_settings


def _check_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value.rstrip("/")


class AgentConfig:
    """Validated settings plus the local checks and the allow-list from the optional TOML file."""

    def __init__(
        self,
        settings: AgentSettings,
        local_checks: list[AnyCheck],
        allow: AllowList | None = None,
        actions: list[ActionConfig] | None = None,
    ):
        self.settings = settings
        self.local_checks = local_checks
        self.allow = allow or AllowList(local_checks=local_checks)
        self.actions = actions or []

    @property
    def drill_file(self) -> Path:
        """Where `upwatch-agent drill` records local drills for the daemon to read."""
        from agent.drill import default_drill_file

        return self.settings.drill_file or default_drill_file()


def load_config(environ: Mapping[str, str] | None = None) -> AgentConfig:
    """Read env and the optional TOML file. Raises ConfigError naming the bad key."""
    env = os.environ if environ is None else environ
    path_text = env.get("UPWATCH_AGENT_CONFIG")
    file_data: dict[str, Any] = {}
    if path_text:
        file_data = _read_toml(Path(path_text))
    unknown = set(file_data) - {"agent", "checks", "allow", "actions"}
    if unknown:
        raise ConfigError(
            f"{sorted(unknown)[0]}: unknown section (expected [agent], [[checks]], [allow] or [[actions]])"
        )
    values = dict(file_data.get("agent", {}))
    credential = _credential_token(env)
    if credential and "token" not in values:
        values["token"] = credential
    prefix = "UPWATCH_AGENT_"
    values.update({key[len(prefix) :].lower(): value for key, value in env.items() if key.startswith(prefix)})
    try:
        settings = AgentSettings(**values)
    except ValidationError as error:
        raise ConfigError(describe_error(error, "agent")) from None
    local_checks = _parse_checks(file_data.get("checks", []))
    try:
        allow_config = AllowConfig.model_validate(file_data.get("allow", {}))
    except ValidationError as error:
        raise ConfigError(describe_error(error, "allow")) from None
    allow = AllowList(allow_config, local_checks, config_path=path_text)
    try:
        actions = parse_actions(file_data.get("actions", []))
    except ValueError as error:
        raise ConfigError(str(error)) from None
    return AgentConfig(settings, local_checks, allow, actions)


def _credential_token(env: Mapping[str, str]) -> str | None:
    directory = env.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return None
    path = Path(directory) / "token"
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"UPWATCH_AGENT_CONFIG: cannot read {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None


def _parse_checks(raw: Any) -> list[AnyCheck]:
    if not isinstance(raw, list):
        raise ConfigError("checks: must be an array of tables ([[checks]])")
    checks: list[AnyCheck] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        try:
            check = parse_check(item)
        except ValidationError as error:
            raise ConfigError(describe_error(error, f"checks[{index}]")) from None
        if check.id in seen:
            raise ConfigError(f"checks[{index}].id: duplicate check id {check.id!r}")
        if check.kind in COLLECTOR_KINDS:
            raise ConfigError(
                f"checks[{index}].kind: {check.kind} checks are evaluated by the collector;"
                " declare them in the collector's config"
            )
        seen.add(check.id)
        checks.append(check)
    return checks

"""What this host lets the collector make it do: the `[allow]` table of the agent's own TOML.

The trust model (docs/configuration.md, "What a collector can make an agent do"):
network probes (http, tcp, icmp, dns, tls, and the service kinds with inline
credentials) and host metrics run whatever the collector assigns; an assigned
`command` check runs, and an assigned `file` check is read, only when this
host's own config allows it, by argv (with its cwd and env) or by path,
optionally for one check id; and an assigned check uses one of this host's own
secrets (`{ env = "UPWATCH_SECRET_..." }`, `{ credential = "..." }`) only
towards the server `[[allow.secrets]]` names for it. Local `[[checks]]` in the
same TOML are the host owner's own and always run. Everything else is refused
with a result that says why and how to allow it; it never runs.

Whoever writes the collector's config, or breaks into the collector, must not
own every host: Zabbix turns remote commands off on the agent and allows them
one key at a time (`AllowKey=system.run[...]`); this is the same idea, one
exact command at a time. Remediation actions (the agent's `[[actions]]`) follow
the same rule and reuse `AllowList.trusts`.
"""

from __future__ import annotations

import json
import posixpath
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.checks import AnyCheck, CommandCheck, FileCheck, SecretSource

# Kinds whose assigned checks this host must allow; every other kind runs as assigned.
GUARDED_KINDS = frozenset({"command", "file"})


class AllowedCommand(BaseModel):
    """One command the collector may make this host run: the exact argv, cwd and env."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check: str | None = Field(default=None, min_length=1, max_length=200)
    argv: list[Annotated[str, Field(max_length=4000)]] = Field(min_length=1, max_length=200)
    cwd: str | None = Field(default=None, max_length=4000)
    env: dict[str, Annotated[str, Field(max_length=4000)]] = Field(default_factory=dict, max_length=100)

    def allows(self, check: CommandCheck) -> bool:
        # Exact match of everything that decides what runs: an allowed argv with a
        # collector-chosen PATH, LD_PRELOAD or working directory is another program.
        return (
            (self.check is None or self.check == check.id)
            and list(self.argv) == list(check.argv)
            and self.cwd == check.cwd
            and dict(self.env) == dict(check.env)
        )


class AllowedPath(BaseModel):
    """A path (a file, or a directory and everything under it) assigned file checks may read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check: str | None = Field(default=None, min_length=1, max_length=200)
    path: str = Field(min_length=1, max_length=4000)

    @field_validator("path")
    @classmethod
    def _absolute(cls, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError("path must be absolute")
        return posixpath.normpath(path)

    def allows(self, check: FileCheck) -> bool:
        if self.check is not None and self.check != check.id:
            return False
        # normpath resolves "..", so "/var/backups/../../etc/shadow" is judged as /etc/shadow.
        wanted = posixpath.normpath(check.path)
        return wanted == self.path or wanted.startswith(self.path.rstrip("/") + "/")


class AllowedSecret(BaseModel):
    """A secret of this host (an `UPWATCH_SECRET_*` variable or a credential file) that an
    assigned check may use, and the one server it may be sent to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = Field(default=None, min_length=1, max_length=128)
    credential: str | None = Field(default=None, min_length=1, max_length=128)
    host: str = Field(min_length=1, max_length=253)
    port: int | None = Field(default=None, ge=1, le=65535)
    check: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_source(self) -> AllowedSecret:
        if (self.env is None) == (self.credential is None):
            raise ValueError("give exactly one of env (a variable name) or credential (a file name)")
        return self

    def allows(self, check: AnyCheck, source: SecretSource) -> bool:
        targets = check_targets(check)
        return (
            (self.check is None or self.check == check.id)
            and (self.env, self.credential) == (source.env, source.credential)
            and bool(targets)
            # Every server the check contacts (an http suite may have several) must be this one.
            and all(
                host == self.host.lower().rstrip(".") and (self.port is None or port == self.port)
                for host, port in targets
            )
        )


class AllowConfig(BaseModel):
    """The `[allow]` table: `[[allow.commands]]`, `[[allow.files]]` and `[[allow.secrets]]`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    commands: list[AllowedCommand] = Field(default_factory=list, max_length=10_000)
    files: list[AllowedPath] = Field(default_factory=list, max_length=10_000)
    secrets: list[AllowedSecret] = Field(default_factory=list, max_length=10_000)


class AllowList:
    """Decides whether this host runs a check, given where it came from.

    `local_checks` are the host's own (trusted as they are written); any other
    check is taken as assigned by the collector.
    """

    def __init__(
        self,
        config: AllowConfig | None = None,
        local_checks: list[AnyCheck] | None = None,
        config_path: str | None = None,
    ):
        self.config = config or AllowConfig()
        self._local = {check.id: check for check in local_checks or []}
        self.config_path = config_path  # named in refusal messages, when known

    def trusts(self, check: AnyCheck) -> bool:
        """True when the check may run here (see `refusal`)."""
        return self.refusal(check) is None

    def refusal(self, check: AnyCheck) -> str | None:
        """None when the check may run; else the reason, naming the TOML that would allow it."""
        sources = host_secrets(check)
        if check.kind not in GUARDED_KINDS and not sources:
            return None
        if self._local.get(check.id) == check:
            return None  # the host owner's own check, unchanged by the collector
        for source in sources:
            if not any(entry.allows(check, source) for entry in self.config.secrets):
                servers = ", ".join(host for host, _port in check_targets(check)) or "?"
                return (
                    f"refused: this check would send this agent's {source} to"
                    f" {servers}; the agent uses its own secrets only where its"
                    f" config allows; to allow this one, add to {self._where()} a"
                    f" {allow_secret_toml(check, source)}"
                )
        if isinstance(check, CommandCheck):
            if any(entry.allows(check) for entry in self.config.commands):
                return None
            return (
                "refused: this agent runs a command the collector assigns only when its own config"
                f" allows it; to allow this one, add to {self._where()} a {allow_command_toml(check)}"
            )
        if isinstance(check, FileCheck):
            if any(entry.allows(check) for entry in self.config.files):
                return None
            return (
                "refused: this agent reads a path the collector assigns only when its own config"
                f" allows it; to allow this one, add to {self._where()} a {allow_file_toml(check)}"
            )
        return None

    def _where(self) -> str:
        return f"the agent's TOML ({self.config_path or 'UPWATCH_AGENT_CONFIG'})"


def allow_command_toml(check: CommandCheck) -> str:
    """The `[[allow.commands]]` entry that allows exactly this check, described on one line."""
    parts = [f"check = {_toml(check.id)}", f"argv = {_toml(list(check.argv))}"]
    if check.cwd is not None:
        parts.append(f"cwd = {_toml(check.cwd)}")
    if check.env:
        parts.append("env = {" + ", ".join(f"{_toml(k)} = {_toml(v)}" for k, v in check.env.items()) + "}")
    return "[[allow.commands]] entry with " + ", ".join(parts)


def host_secrets(check: AnyCheck) -> list[SecretSource]:
    """The secrets of this host (environment or credential file) the check would use.

    Inline secrets come from the collector itself and reveal nothing of the host.
    """
    found: list[SecretSource] = []
    for name in type(check).model_fields:
        value = getattr(check, name)
        values = value.values() if isinstance(value, dict) else [value]  # http's `secrets` table
        found.extend(item for item in values if isinstance(item, SecretSource))
    return found


def check_targets(check: AnyCheck) -> list[tuple[str, int | None]]:
    """(host, port) of every server the check contacts: its `host`, or its url and steps' urls."""
    host = getattr(check, "host", None)
    if isinstance(host, str):
        return [(host.lower().rstrip("."), getattr(check, "port", None))]
    urls = [getattr(check, "url", None)] + [
        getattr(step, "url", None) for step in getattr(check, "steps", [])
    ]
    targets: list[tuple[str, int | None]] = []
    for url in urls:
        if isinstance(url, str):
            parts = urlsplit(url)
            default = 443 if parts.scheme == "https" else 80
            targets.append(((parts.hostname or "").rstrip("."), parts.port or default))
    return targets


def allow_secret_toml(check: AnyCheck, source: SecretSource) -> str:
    """The `[[allow.secrets]]` entry that allows exactly this use, described on one line."""
    which = f"env = {_toml(source.env)}" if source.env else f"credential = {_toml(source.credential)}"
    targets = check_targets(check)
    host, port = targets[0] if targets else ("", None)
    parts = [f"check = {_toml(check.id)}", which, f"host = {_toml(host)}"]
    if port is not None:
        parts.append(f"port = {port}")
    return "[[allow.secrets]] entry with " + ", ".join(parts)


def allow_file_toml(check: FileCheck) -> str:
    """The `[[allow.files]]` entry that allows exactly this check's path, described on one line."""
    return f"[[allow.files]] entry with check = {_toml(check.id)}, path = {_toml(check.path)}"


def _toml(value: Any) -> str:
    # JSON strings and arrays of strings are valid TOML basic strings and arrays.
    return json.dumps(value, ensure_ascii=False)

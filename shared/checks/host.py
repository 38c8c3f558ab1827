"""Kinds that look at the agent's own host: host health, files and commands."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    Field,
    field_validator,
    model_validator,
)

from shared.checks.common import (
    MODEL_CONFIG,
    CheckBase,
    Duration,
    ThresholdText,
)


class ProcessMatch(BaseModel):
    """A process that must run: by exact name, or by a glob over its command line."""

    model_config = MODEL_CONFIG

    name: str | None = Field(default=None, min_length=1, max_length=200)
    cmdline: str | None = Field(default=None, min_length=1, max_length=1000)
    min_count: int = Field(default=1, ge=1, le=10_000)

    @model_validator(mode="after")
    def _one_matcher(self) -> ProcessMatch:
        if (self.name is None) == (self.cmdline is None):
            raise ValueError("give exactly one of name or cmdline")
        return self

    @property
    def label(self) -> str:
        return self.name if self.name is not None else f"cmdline {self.cmdline}"


class HostCheck(CheckBase):
    """Host health read through psutil; each limit is optional (None = not checked)."""

    kind: Literal["host"]
    cpu_percent_max: float | None = Field(default=None, ge=0, le=100)
    memory_percent_max: float | None = Field(default=None, ge=0, le=100)
    swap_percent_max: float | None = Field(default=None, ge=0, le=100)
    load_per_core_max: float | None = Field(default=None, ge=0, le=1000)
    disk_percent_max: float | None = Field(default=None, ge=0, le=100)
    inodes_percent_max: float | None = Field(default=None, ge=0, le=100)
    mounts: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=lambda: ["/"], min_length=1, max_length=20
    )
    thresholds: list[ThresholdText] = Field(default_factory=list, max_length=50)
    processes: list[ProcessMatch] = Field(default_factory=list, max_length=50)
    min_uptime: Duration | None = None

    @field_validator("mounts")
    @classmethod
    def _mounts(cls, mounts: list[str]) -> list[str]:
        for mount in mounts:
            if mount != "*" and not mount.startswith("/"):
                raise ValueError(f"mount {mount!r} must be an absolute path or '*' (every real filesystem)")
        return mounts


class FileCheck(CheckBase):
    """A file (or the newest file matching a glob in a directory) must exist, be fresh and big enough."""

    kind: Literal["file"]
    path: str = Field(min_length=1, max_length=4000)
    glob: str | None = Field(default=None, min_length=1, max_length=500)
    max_age: Duration | None = None
    min_size: int | None = Field(default=None, ge=0)

    @field_validator("path")
    @classmethod
    def _absolute(cls, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError("path must be absolute")
        return path

    @field_validator("glob")
    @classmethod
    def _plain_glob(cls, glob: str | None) -> str | None:
        if glob is not None and ("/" in glob or glob in (".", "..")):
            raise ValueError("glob matches file names inside path; it must not contain '/'")
        return glob


class CommandCheck(CheckBase):
    """Run an argv (never through a shell) under the timeout; exit status 0 is up."""

    kind: Literal["command"]
    argv: list[Annotated[str, Field(max_length=4000)]] = Field(min_length=1, max_length=200)
    cwd: str | None = Field(default=None, max_length=4000)
    env: dict[str, Annotated[str, Field(max_length=4000)]] = Field(default_factory=dict, max_length=100)
    output_lines: int = Field(default=20, ge=0, le=200)

    @field_validator("argv")
    @classmethod
    def _program(cls, argv: list[str]) -> list[str]:
        if not argv[0]:
            raise ValueError("argv[0] (the program) must not be empty")
        return argv

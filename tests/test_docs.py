"""Documentation is part of the product: every setting and every command is documented.

Walks the settings models and the CLI parsers; a key or command missing from
docs/ fails here (after sqlite-utils' tests/test_docs.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from pydantic import BaseModel

from agent.actions import ActionConfig
from agent.allowlist import AllowConfig, AllowedCommand, AllowedPath, AllowedSecret
from agent.settings import AgentSettings
from shared.checks import CHECK_MODELS, KINDS, FailureRate
from statuspage.cli import build_parser
from statuspage.notify.config import ChannelConfig, NotifyConfig, SmtpConfig, SubscriptionsConfig
from statuspage.oncall.config import (
    ContactConfig,
    LayerConfig,
    NotificationRule,
    OncallConfig,
    ResponderConfig,
    RestrictionConfig,
    ScheduleConfig,
)
from statuspage.respond_config import EscalationLevel, EscalationPolicyConfig, MaintenanceConfig
from statuspage.responses.config import ResponseRule, ResponsesConfig
from statuspage.settings import (
    AdminConfig,
    ComponentConfig,
    GroupConfig,
    HeartbeatsConfig,
    PageConfig,
    SecurityConfig,
    Settings,
    SlaConfig,
)

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DOC = (ROOT / "docs" / "configuration.md").read_text()
CLI_DOC = (ROOT / "docs" / "cli.md").read_text()
EXAMPLE = (ROOT / "deploy" / "examples" / "upwatch.toml").read_text()


def check_models() -> list[type[BaseModel]]:
    return list(CHECK_MODELS)


# Sections are documented by their headings ([page], [[checks]] ...), not as keys.
SECTION_NAMES = {
    "page",
    "sla",
    "groups",
    "components",
    "checks",
    "security",
    "admin",
    "channels",
    "smtp",
    "notify",
    "subscriptions",
    "escalation_policies",
    "maintenance",
    "responders",
    "schedules",
    "oncall",
    "responses",
    "heartbeats",
}


def keys(model: type[BaseModel]) -> list[str]:
    return [key for key in model.model_fields if key not in SECTION_NAMES]


SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("settings", Settings),
    ("page", PageConfig),
    ("groups", GroupConfig),
    ("components", ComponentConfig),
    ("security", SecurityConfig),
    ("admin", AdminConfig),
    ("agent", AgentSettings),
    ("allow", AllowConfig),
    ("allow_commands", AllowedCommand),
    ("allow_files", AllowedPath),
    ("allow_secrets", AllowedSecret),
    ("sla", SlaConfig),
    ("heartbeats", HeartbeatsConfig),
    ("channels", ChannelConfig),
    ("smtp", SmtpConfig),
    ("notify", NotifyConfig),
    ("subscriptions", SubscriptionsConfig),
    ("escalation_policies", EscalationPolicyConfig),
    ("escalation_levels", EscalationLevel),
    ("maintenance", MaintenanceConfig),
    ("failure_rate", FailureRate),
    ("responders", ResponderConfig),
    ("contacts", ContactConfig),
    ("rules", NotificationRule),
    ("schedules", ScheduleConfig),
    ("layers", LayerConfig),
    ("restrict", RestrictionConfig),
    ("oncall", OncallConfig),
    ("responses", ResponsesConfig),
    ("response_rules", ResponseRule),
    ("actions", ActionConfig),
]


@pytest.mark.parametrize(
    "key",
    sorted(
        {key for _name, model in SECTIONS for key in keys(model)}
        | {k for m in check_models() for k in keys(m)}
    ),
)
def test_every_setting_is_documented(key: str) -> None:
    assert f"`{key}`" in CONFIG_DOC, f"docs/configuration.md does not document `{key}`"


@pytest.mark.parametrize("kind", KINDS)
def test_every_check_kind_is_documented(kind: str) -> None:
    assert f'kind = "{kind}"' in CONFIG_DOC


def subcommands(parser: argparse.ArgumentParser, prefix: str) -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = subcommands(sub, f"{prefix} {name}")
                found.extend(nested or [f"{prefix} {name}"])
    return found


@pytest.mark.parametrize("command", subcommands(build_parser(), "upwatch-statuspage"))
def test_every_collector_command_is_documented(command: str) -> None:
    assert f"`{command}" in CLI_DOC, f"docs/cli.md does not document {command}"


@pytest.mark.parametrize(
    "command",
    [
        "upwatch-agent run",
        "upwatch-agent check",
        "upwatch-agent version",
        "upwatch-agent actions list",
        "upwatch-agent actions reset",
    ],
)
def test_agent_commands_are_documented(command: str) -> None:
    assert f"`{command}" in CLI_DOC


@pytest.mark.parametrize(
    "section",
    [
        "[page]",
        "[security]",
        "[admin]",
        "[[groups]]",
        "[[components]]",
        "[[checks]]",
        "[[channels]]",
        "[smtp]",
        "[notify]",
        "[subscriptions]",
        "[[responders]]",
        "[[schedules]]",
        "[oncall]",
        "[responses]",
        "[[responses.rules]]",
        "[heartbeats]",
    ],
)
def test_example_config_shows_every_section(section: str) -> None:
    assert section in EXAMPLE


def test_example_configs_are_valid(tmp_path: Path) -> None:
    from statuspage.settings import load_settings

    for name in ("upwatch.toml", "demo.toml"):
        settings = load_settings(environ={}, config=str(ROOT / "deploy" / "examples" / name))
        assert settings.components, name


@pytest.mark.parametrize("key", sorted({k for m in check_models() for k in keys(m)}))
def test_example_config_shows_every_check_field(key: str) -> None:
    import re

    assert re.search(rf"(^|[\s{{,#]){key} = ", EXAMPLE, re.MULTILINE), (
        f"deploy/examples/upwatch.toml lacks `{key}`"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_example_config_shows_every_kind(kind: str) -> None:
    assert f'kind = "{kind}"' in EXAMPLE


def test_example_agent_config_is_valid() -> None:
    from agent.settings import load_config

    config = load_config({"UPWATCH_AGENT_CONFIG": str(ROOT / "deploy" / "examples" / "agent.toml")})
    assert [action.id for action in config.actions] == ["restart-postgres"]
    for key in keys(ActionConfig):
        assert f"{key} = " in (ROOT / "deploy" / "examples" / "agent.toml").read_text(), key

"""Secrets a check names and the agent reveals: inline, from its environment, or its credentials dir.

A database password or an SNMP v3 key need not sit in the collector's config:
`password = { env = "PG_PASSWORD" }` reads the agent's environment and
`password = { credential = "pg-password" }` reads `$CREDENTIALS_DIRECTORY/pg-password`
(systemd's `LoadCredential=`, the same directory the agent's token may come from).
Revealed values live only for one probe run and are scrubbed from what it reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

from pydantic import BaseModel, SecretStr

from shared.checks import Secret, SecretSource

MASK = "***"


class SecretUnavailable(Exception):
    """A secret the check names cannot be read on this agent; the message names the key."""


def reveal(secret: Secret | None, key: str, environ: Mapping[str, str]) -> str | None:
    """The secret's value (None when the check sets none). Raises SecretUnavailable naming `key`."""
    if secret is None:
        return None
    if isinstance(secret, SecretStr):
        return secret.get_secret_value()
    if secret.env is not None:
        value = environ.get(secret.env)
        if value is None:
            raise SecretUnavailable(f"{key}: environment variable {secret.env} is not set on this agent")
        return value
    return _read_credential(secret, key, environ)


def _read_credential(secret: SecretSource, key: str, environ: Mapping[str, str]) -> str:
    directory = environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        raise SecretUnavailable(
            f"{key}: credential {secret.credential} needs CREDENTIALS_DIRECTORY"
            " (systemd LoadCredential=) in the agent's environment"
        )
    path = Path(directory) / str(secret.credential)
    try:
        # A credential file usually ends with the newline an editor or `echo` added.
        return path.read_text().rstrip("\r\n")
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise SecretUnavailable(f"{key}: cannot read credential {secret.credential}: {reason}") from None


@cache
def _secret_fields(model: type[BaseModel]) -> tuple[str, ...]:
    # Computed once per kind: the 200 HTTP checks of a busy agent pay one dict lookup per run.
    return tuple(name for name, info in model.model_fields.items() if "Secret" in str(info.annotation))


def revealed_values(check: BaseModel, environ: Mapping[str, str]) -> list[str]:
    """Every secret of the check this agent can read, to scrub from results and logs."""
    values = []
    for name in _secret_fields(type(check)):
        value = getattr(check, name)
        # A field holds one secret, or names several (an http check's `secrets` table).
        named = value.items() if isinstance(value, dict) else [(name, value)]
        for key, secret in named:
            if isinstance(secret, SecretStr | SecretSource):
                try:
                    revealed = reveal(secret, key, environ)
                except SecretUnavailable:
                    continue
                if revealed:
                    values.append(revealed)
    return values


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (longest first, so one inside another goes too) replaced by ***."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text

"""Secrets a check names and the agent reads: inline text, an environment variable, or a credential file."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    Field,
    PlainSerializer,
    PlainValidator,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from shared.checks.common import MODEL_CONFIG

# Secrets a check names and the agent reads (http headers and bodies, database passwords, SNMP keys).
SECRET_ENV_PREFIX = "UPWATCH_SECRET_"


class SecretSource(BaseModel):
    """A secret the agent reads itself: from its environment, or a file in its credentials
    directory (`$CREDENTIALS_DIRECTORY`, as systemd's `LoadCredential=` provides)."""

    model_config = MODEL_CONFIG

    env: str | None = Field(default=None, max_length=128)
    credential: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")

    @field_validator("env")
    @classmethod
    def _secret_variable(cls, env: str | None) -> str | None:
        # A check from the collector names what the agent reads: only variables set aside for
        # checks, so a tampered assignment cannot send the agent's other environment anywhere.
        if env is not None and not re.fullmatch(rf"{SECRET_ENV_PREFIX}[A-Za-z0-9_]{{1,100}}", env):
            raise ValueError(
                f"must name a variable starting with {SECRET_ENV_PREFIX}, e.g. {SECRET_ENV_PREFIX}PG"
            )
        return env

    @field_validator("credential")
    @classmethod
    def _not_the_token(cls, credential: str | None) -> str | None:
        if credential == "token":
            raise ValueError(
                "'token' is the agent's collector token; give the check's secret its own credential"
            )
        return credential

    @model_validator(mode="after")
    def _one_source(self) -> SecretSource:
        if (self.env is None) == (self.credential is None):
            raise ValueError("give exactly one of env (a variable name) or credential (a file name)")
        return self

    def __str__(self) -> str:
        return f"environment variable {self.env}" if self.env else f"credential {self.credential}"


def _secret(value: Any) -> SecretStr | SecretSource:
    if isinstance(value, SecretStr | SecretSource):
        return value
    if isinstance(value, str):
        if not 1 <= len(value) <= 1000:
            raise ValueError("a secret must have 1 to 1000 characters")
        return SecretStr(value)
    if isinstance(value, dict):
        try:
            return SecretSource.model_validate(value)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            reason = first["msg"].removeprefix("Value error, ")
            raise ValueError(f"{where}: {reason}" if where else reason) from None
    raise ValueError('give the secret as text, { env = "UPWATCH_SECRET_..." } or { credential = "name" }')


def _secret_out(secret: SecretStr | SecretSource) -> Any:
    # An inline secret travels as its value to the agent that needs it; repr and logs show ***.
    return (
        secret.get_secret_value() if isinstance(secret, SecretStr) else secret.model_dump(exclude_none=True)
    )


Secret = Annotated[
    SecretStr | SecretSource,
    PlainValidator(_secret, json_schema_input_type=str | dict[str, str]),
    PlainSerializer(_secret_out),
]

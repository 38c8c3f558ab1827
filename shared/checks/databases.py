"""Database kinds: postgresql, mysql (MariaDB too) and redis; each library is an optional agent extra."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import (
    Field,
    field_validator,
)

from shared.checks.common import (
    CheckBase,
    Conditions,
    Hostname,
    _placeholders_allowed,
)
from shared.checks.secret import Secret
from shared.conditions import Condition

DATABASE_ALLOWED = frozenset({"RESULT", "ROWS", "RESPONSE_TIME", "CONNECTED"})
DatabaseName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")]
UserName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")]
Query = Annotated[str, Field(min_length=1, max_length=10_000)]


class PostgresqlCheck(CheckBase):
    """Connect to PostgreSQL (psycopg 3), log in, run one query in a read-only transaction."""

    kind: Literal["postgresql"]
    host: Hostname
    port: int = Field(default=5432, ge=1, le=65535)
    user: UserName
    password: Secret | None = None
    database: DatabaseName | None = None
    query: Query = "SELECT 1"
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    conditions: Conditions

    ALLOWED: ClassVar[frozenset[str]] = DATABASE_ALLOWED

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)


class MysqlCheck(CheckBase):
    """Connect to MySQL or MariaDB (aiomysql), log in, run one query in a read-only transaction."""

    kind: Literal["mysql"]
    host: Hostname
    port: int = Field(default=3306, ge=1, le=65535)
    user: UserName
    password: Secret | None = None
    database: DatabaseName | None = None
    query: Query = "SELECT 1"
    tls: bool = False
    conditions: Conditions

    ALLOWED: ClassVar[frozenset[str]] = DATABASE_ALLOWED

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)


class RedisCheck(CheckBase):
    """Connect to Redis (redis-py's asyncio client), authenticate, send one command."""

    kind: Literal["redis"]
    host: Hostname
    port: int = Field(default=6379, ge=1, le=65535)
    username: UserName | None = None
    password: Secret | None = None
    database: int = Field(default=0, ge=0, le=1_000_000)
    command: list[Annotated[str, Field(min_length=1, max_length=1000)]] = Field(
        default_factory=lambda: ["PING"], min_length=1, max_length=20
    )
    tls: bool = False
    conditions: Conditions

    ALLOWED: ClassVar[frozenset[str]] = frozenset({"RESULT", "RESPONSE_TIME", "CONNECTED"})

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)

"""Service kinds: snmp, domain (RDAP) and docker."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from shared.checks.common import (
    CheckBase,
    Conditions,
    Hostname,
    _placeholders_allowed,
)
from shared.checks.databases import UserName
from shared.checks.secret import Secret
from shared.conditions import Condition

OID = Annotated[str, Field(min_length=1, max_length=200)]
_OID_RE = re.compile(r"^\.?[0-2](\.\d{1,10}){1,60}$")


class SnmpCheck(CheckBase):
    """SNMP GET of one or more OIDs (pysnmp), v2c with a community or v3 with a user (USM)."""

    kind: Literal["snmp"]
    host: Hostname
    port: int = Field(default=161, ge=1, le=65535)
    version: Literal["2c", "3"] = "2c"
    community: Secret | None = None
    user: UserName | None = None
    auth_protocol: Literal["MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"] | None = None
    auth_key: Secret | None = None
    priv_protocol: Literal["DES", "AES", "AES192", "AES256"] | None = None
    priv_key: Secret | None = None
    context: str = Field(default="", max_length=128)
    oids: list[OID] = Field(default_factory=lambda: ["1.3.6.1.2.1.1.3.0"], min_length=1, max_length=50)
    retries: int = Field(default=1, ge=0, le=5)
    conditions: Conditions

    ALLOWED: ClassVar[frozenset[str]] = frozenset({"SNMP", "RESPONSE_TIME"})

    @field_validator("oids")
    @classmethod
    def _plain_oids(cls, oids: list[str]) -> list[str]:
        for oid in oids:
            if not _OID_RE.match(oid):
                raise ValueError(
                    f"{oid!r} is not a numeric OID like 1.3.6.1.2.1.1.3.0 (MIB names are not resolved)"
                )
        return [oid.lstrip(".") for oid in oids]

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)

    @model_validator(mode="after")
    def _credentials(self) -> SnmpCheck:
        if self.version == "2c":
            v3_only = ("user", "auth_protocol", "auth_key", "priv_protocol", "priv_key")
            given = [name for name in v3_only if getattr(self, name) is not None]
            if given:
                raise ValueError(f'{given[0]}: only for version = "3" (v2c uses community)')
            return self
        if self.community is not None:
            raise ValueError('community: only for version = "2c" (v3 uses user and keys)')
        if self.user is None:
            raise ValueError('user: required for version = "3"')
        for protocol, key in (("auth_protocol", "auth_key"), ("priv_protocol", "priv_key")):
            if (getattr(self, protocol) is None) != (getattr(self, key) is None):
                raise ValueError(f"{protocol} and {key}: give both or neither")
        if self.priv_protocol is not None and self.auth_protocol is None:
            raise ValueError("priv_protocol: privacy needs authentication (set auth_protocol and auth_key)")
        return self


class DomainCheck(CheckBase):
    """A domain's registration expiry from RDAP (RFC 9083), the registries' JSON protocol."""

    kind: Literal["domain"]
    # A registered name in ASCII (an IDN as its xn-- form), like RDAP's ldhName.
    domain: str = Field(
        min_length=3, max_length=253, pattern=r"^[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+\.?$"
    )
    rdap_server: str | None = Field(default=None, max_length=2000)
    rdap_bootstrap: str = Field(default="https://data.iana.org/rdap/dns.json", max_length=2000)
    min_days_left: float = Field(default=14.0, ge=0, le=3650)
    conditions: Conditions

    ALLOWED: ClassVar[frozenset[str]] = frozenset({"DOMAIN_EXPIRATION", "RESPONSE_TIME"})

    @field_validator("domain")
    @classmethod
    def _lower(cls, domain: str) -> str:
        return domain.lower().rstrip(".")

    @field_validator("rdap_server", "rdap_bootstrap")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("must start with https:// (or http://)")
        return url

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)


class DockerCheck(CheckBase):
    """A container's state, health and restarts through the Docker Engine API on its unix socket."""

    kind: Literal["docker"]
    container: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    socket: str = Field(default="/var/run/docker.sock", min_length=2, max_length=1000)
    require_healthy: bool = True
    allow_restarts: bool = False
    conditions: Conditions

    ALLOWED: ClassVar[frozenset[str]] = frozenset(
        {"CONTAINER_STATE", "CONTAINER_HEALTH", "RESTART_COUNT", "RESPONSE_TIME"}
    )

    @field_validator("socket")
    @classmethod
    def _absolute(cls, socket: str) -> str:
        if not socket.startswith("/"):
            raise ValueError("socket must be the absolute path of the Docker Engine's unix socket")
        return socket

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)

"""The http kind: one request, or a suite of steps whose stored values later steps use."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    Field,
    PlainSerializer,
    PlainValidator,
    field_validator,
    model_validator,
)

from shared.checks.common import (
    MODEL_CONFIG,
    CheckBase,
    Conditions,
    _placeholders_allowed,
)
from shared.checks.secret import Secret
from shared.conditions import Condition, Subject, parse_value

HTTP_PLACEHOLDERS = frozenset(
    {"STATUS", "RESPONSE_TIME", "BODY", "HEADER", "CERTIFICATE_EXPIRATION", "CONNECTED", "IP"}
)


VARIABLE_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,63})\}")
STORE_SOURCES = frozenset({"BODY", "HEADER", "STATUS"})


def _store_expression(value: Any) -> Subject:
    if not isinstance(value, str):
        raise ValueError(
            "a stored value is named like '[BODY].access_token', '[HEADER].location' or '[STATUS]'"
        )
    subject = parse_value(value)
    if subject.placeholder not in STORE_SOURCES:
        raise ValueError(f"{value!r}: store takes [BODY], [BODY].path, [HEADER].name or [STATUS]")
    return subject


StoreExpression = Annotated[
    Subject,
    PlainValidator(_store_expression, json_schema_input_type=str),
    PlainSerializer(lambda subject: subject.text, return_type=str),
]


class HttpStep(BaseModel):
    """One request of an HTTP suite; `store` keeps values of its response for later steps,
    which use them as `{name}` in their url, headers and body."""

    model_config = MODEL_CONFIG

    name: str = Field(min_length=1, max_length=100)
    url: str = Field(max_length=2000)
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, Annotated[str, Field(max_length=4000)]] = Field(default_factory=dict, max_length=50)
    body: str | None = Field(default=None, max_length=100_000)
    conditions: Conditions
    keyword: str | None = Field(default=None, min_length=1, max_length=1000)
    forbidden_keyword: str | None = Field(default=None, min_length=1, max_length=1000)
    store: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")], StoreExpression] = Field(
        default_factory=dict, max_length=20
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return url

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, HTTP_PLACEHOLDERS)

    def variables(self) -> set[str]:
        """The `{name}`s its url, headers and body use."""
        texts = [self.url, self.body or "", *self.headers.values()]
        return {name for text in texts for name in VARIABLE_RE.findall(text)}


def _suite_problems(check: HttpCheck) -> list[str]:
    """What is wrong with a suite: fields that belong on the steps, variables used before they are stored."""
    problems = []
    if check.url is not None:
        problems.append("url: give url or steps, not both (each step has its own url)")
    for field_name in ("body", "keyword", "forbidden_keyword"):
        if getattr(check, field_name) is not None:
            problems.append(f"{field_name}: set it on the steps of a suite")
    if check.conditions:
        problems.append("conditions: set them on the steps of a suite")
    if check.method != "GET":
        problems.append("method: set it on the steps of a suite")
    names: set[str] = set()
    stored: set[str] = set(check.secrets)
    for index, step in enumerate(check.steps):
        if step.name in names:
            problems.append(f"steps[{index}].name: duplicate step name {step.name!r}")
        names.add(step.name)
        for variable in sorted(step.variables() - stored):
            problems.append(f"steps[{index}]: {{{variable}}} is not stored by an earlier step (nor a secret)")
        stored |= set(step.store)
    return problems


class HttpCheck(CheckBase):
    """An HTTP(S) request; up when the status is below 400 (unless a condition tests [STATUS])
    and every condition holds. With `steps`, a suite: requests in order, values of one response
    stored for the next, down at the first failing step."""

    kind: Literal["http"]
    url: str | None = Field(default=None, max_length=2000)
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, Annotated[str, Field(max_length=4000)]] = Field(default_factory=dict, max_length=50)
    body: str | None = Field(default=None, max_length=100_000)
    follow_redirects: bool = True
    max_redirects: int = Field(default=10, ge=0, le=50)
    verify_tls: bool = True
    ca_file: str | None = Field(default=None, min_length=1, max_length=1000)
    conditions: Conditions
    keyword: str | None = Field(default=None, min_length=1, max_length=1000)
    forbidden_keyword: str | None = Field(default=None, min_length=1, max_length=1000)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    steps: list[HttpStep] = Field(default_factory=list, max_length=20)
    # Values for {name} in the url, headers and body (and a suite's steps), read on the agent.
    secrets: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")], Secret] = Field(
        default_factory=dict, max_length=20
    )

    ALLOWED: ClassVar[frozenset[str]] = HTTP_PLACEHOLDERS

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return url

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, conditions: list[Condition]) -> list[Condition]:
        return _placeholders_allowed(conditions, cls.ALLOWED)

    @model_validator(mode="after")
    def _url_or_steps(self) -> HttpCheck:
        if self.steps:
            problems = _suite_problems(self)
            if problems:
                raise ValueError("\n".join(problems))
        elif self.url is None:
            raise ValueError("url: give the url to request (or steps, for a suite)")
        return self

"""`GET /api/v1/openapi.json`: the admin API's OpenAPI 3.1 document, built from the live routes.

Paths come from `api.ENDPOINTS` (the routes actually registered), schemas
from the pydantic models the handlers parse and return. OpenAPI 3.1 uses
JSON Schema 2020-12, which is what pydantic emits, so the schemas go in as
they are with `$ref`s pointed at `#/components/schemas`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from statuspage import __version__
from statuspage.admin import models
from statuspage.admin.api import ENDPOINTS, MAX_BODY_BYTES

openapi = Blueprint("openapi", __name__)
_RULE_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
REF = "#/components/schemas/{model}"


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """Flask rule -> OpenAPI path template and its path parameters."""
    parameters = []
    for converter, name in _RULE_PARAM.findall(rule):
        schema: dict[str, Any] = (
            {"type": "integer", "minimum": 0, "maximum": 2**62}
            if converter == "int"
            else {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^/]+$"}
        )
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return "/api/v1/admin" + _RULE_PARAM.sub(r"{\2}", rule), parameters


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
    }


def build_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document as a dict."""
    used: set[type[BaseModel]] = {models.Error}
    for e in ENDPOINTS:
        used.add(e.response)
        if e.body is not None:
            used.add(e.body)
    modes: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (model, "validation") for model in sorted(used, key=lambda m: m.__name__)
    ]
    _keys, schema = models_json_schema(modes, ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for e in ENDPOINTS:
        path, parameters = _path(e.path)
        responses: dict[str, Any] = {
            str(e.status): {
                "description": e.summary,
                "content": {"application/json": {"schema": {"$ref": REF.format(model=e.response.__name__)}}},
            },
            "401": _error_response("missing, unknown or revoked token"),
            "403": _error_response(f"the token lacks the {e.scope!r} scope"),
        }
        if parameters:
            responses["404"] = _error_response("not found")
        operation: dict[str, Any] = {
            "operationId": e.function_name,
            "summary": e.summary,
            "tags": [e.path.strip("/").split("/")[0]],
            "security": [{"bearer": []}],
            "x-scope": e.scope,
            "responses": responses,
        }
        if parameters:
            operation["parameters"] = parameters
        if e.method == "GET" and e.function_name in ("list_incidents",):
            operation["parameters"] = [
                {"name": "open", "in": "query", "required": False, "schema": {"type": "boolean"}}
            ]
        if e.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": REF.format(model=e.body.__name__)}}},
            }
            responses["400"] = _error_response("body is not JSON")
            responses["413"] = _error_response(f"body larger than {MAX_BODY_BYTES} bytes")
            responses["415"] = _error_response("Content-Type is not application/json")
            responses["422"] = _error_response("body does not match the schema; `details` names the fields")
        elif e.method != "GET":
            responses["422"] = _error_response("the action is not possible in the current state")
        paths.setdefault(path, {})[e.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "upwatch admin API",
            "version": __version__,
            "description": "Operate incidents, maintenance, component status and agents. "
            "Authenticate with `Authorization: Bearer uwt_...` (tokens from the admin UI or "
            "`upwatch-statuspage api-token create`). Read tokens may only GET.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schema.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@openapi.get("/api/v1/openapi.json")
def document() -> Response:
    return jsonify(build_document())

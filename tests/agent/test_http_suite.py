"""HTTP suites (`steps`) against a multi-step API on loopback: log in, keep the token, use it;
stop at the first failing step and name it; time every step."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pydantic import ValidationError

from agent.probes import run_check
from agent.probes.context import ProbeContext
from shared.checks import describe_error, parse_check
from tests.agent.conftest import ServeFn, closed_port

TOKEN = "tok-7f3a"


def api() -> web.Application:
    """POST /login -> token; GET /me (bearer) -> profile; GET /orders?user= -> orders; GET /slow hangs."""

    async def login(request: web.Request) -> web.Response:
        data = await request.json()
        if data != {"user": "ci", "password": "pw"}:
            return web.json_response({"error": "bad login"}, status=401)
        return web.json_response({"access_token": TOKEN, "expires_in": 300}, headers={"X-Session": "s-1"})

    async def me(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "unauthorized"}, status=401)
        return web.json_response({"name": "ci", "session": request.headers.get("X-Session")})

    async def orders(request: web.Request) -> web.Response:
        return web.json_response({"user": request.query.get("user"), "orders": [{"id": 1}, {"id": 2}]})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response(text="late")

    app = web.Application()
    app.add_routes(
        [
            web.post("/login", login),
            web.get("/me", me),
            web.get("/orders", orders),
            web.get("/slow", slow),
        ]
    )
    return app


def suite(base: str, *extra_steps: dict[str, Any], **fields: Any) -> Any:
    steps = [
        {
            "name": "login",
            "url": f"{base}/login",
            "method": "POST",
            "headers": {"Content-Type": "application/json"},
            "body": '{"user": "ci", "password": "pw"}',
            "conditions": ["[STATUS] == 200"],
            "store": {"token": "[BODY].access_token", "session": "[HEADER].x-session"},
        },
        {
            "name": "profile",
            "url": f"{base}/me",
            "headers": {"Authorization": "Bearer {token}", "X-Session": "{session}"},
            "conditions": ["[BODY].session == s-1"],
            "store": {"user": "[BODY].name"},
        },
        *extra_steps,
    ]
    return parse_check({"id": "api-flow", "kind": "http", "steps": steps, **fields})


@pytest.fixture
async def base(serve: ServeFn) -> str:
    return f"http://127.0.0.1:{await serve(api())}"


async def test_suite_passes_values_from_step_to_step(context: ProbeContext, base: str) -> None:
    orders = {
        "name": "orders",
        "url": f"{base}/orders?user={{user}}",
        "conditions": ["len([BODY].orders) == 2", "[BODY].user == ci"],
    }
    result = await run_check(suite(base, orders), context)
    assert (result.status, result.error) == ("up", None)
    assert {"step1_ms", "step2_ms", "step3_ms", "total_ms"} <= set(result.metrics)
    assert result.metrics["steps_passed"] == 3
    assert str(result.detail["steps"]).startswith("login ")


async def test_suite_fails_at_the_first_failing_step_naming_it(context: ProbeContext, base: str) -> None:
    wrong = {
        "name": "admin check",
        "url": f"{base}/me",
        "headers": {"Authorization": "Bearer {token}"},
        "conditions": ["[BODY].name == admin"],
    }
    never = {"name": "never run", "url": f"{base}/orders"}
    result = await run_check(suite(base, wrong, never), context)
    assert (result.status, result.error) == (
        "down",
        'step 3 "admin check": [BODY].name: expected admin, got ci',
    )
    assert result.detail["failed_step"] == "admin check"
    assert result.detail["failed_step_number"] == 3
    assert result.metrics["steps_passed"] == 2
    assert "step4_ms" not in result.metrics and "step3_ms" in result.metrics


async def test_suite_step_failures(context: ProbeContext, base: str) -> None:
    unauthorized = {"name": "no token", "url": f"{base}/me"}
    result = await run_check(suite(base, unauthorized), context)
    assert (result.status, result.error) == ("down", 'step 3 "no token": HTTP status 401')
    missing = {"name": "orders", "url": f"{base}/orders", "store": {"next": "[BODY].next_page"}}
    result = await run_check(suite(base, missing), context)
    assert (
        result.error
        == 'step 3 "orders": cannot store next from [BODY].next_page: not found in the response body'
    )
    port = closed_port()
    gone = {"name": "gone", "url": f"http://127.0.0.1:{port}/x"}
    result = await run_check(suite(base, gone), context)
    assert result.error == f'step 3 "gone": connection refused (127.0.0.1:{port})'


async def test_a_hanging_step_is_named(context: ProbeContext, base: str) -> None:
    hanging = {"name": "report", "url": f"{base}/slow"}
    result = await run_check(suite(base, hanging, timeout="1s", interval="10s"), context)
    assert result.status == "down"
    assert result.error is not None and result.error.startswith('step 3 "report": no response within 0.')


async def test_wrong_password_fails_the_first_step(context: ProbeContext, base: str) -> None:
    check = suite(base)
    login = check.steps[0].model_copy(update={"body": '{"user": "ci", "password": "nope"}'})
    result = await run_check(check.model_copy(update={"steps": [login, *check.steps[1:]]}), context)
    assert (result.status, result.error) == ("down", 'step 1 "login": [STATUS]: expected 200, got 401')


@pytest.mark.parametrize(
    ("steps", "fields", "message"),
    [
        (
            [{"name": "a", "url": "http://x/", "headers": {"Authorization": "Bearer {token}"}}],
            {},
            "checks[0]: steps[0]: {token} is not stored by an earlier step",
        ),
        (
            [{"name": "a", "url": "http://x/"}],
            {"url": "http://x/"},
            "checks[0]: url: give url or steps, not both",
        ),
        (
            [{"name": "a", "url": "http://x/"}],
            {"conditions": ["[STATUS] == 200"]},
            "checks[0]: conditions: set them on the steps of a suite",
        ),
        (
            [{"name": "a", "url": "http://x/"}, {"name": "a", "url": "http://x/"}],
            {},
            "checks[0]: steps[1].name: duplicate step name 'a'",
        ),
        (
            [{"name": "a", "url": "http://x/", "store": {"t": "[IP]"}}],
            {},
            "checks[0].steps[0].store.t: '[IP]': store takes [BODY]",
        ),
        (
            [{"name": "a", "url": "http://x/", "store": {"t": "BODY.x"}}],
            {},
            "checks[0].steps[0].store.t: invalid value 'BODY.x'",
        ),
        (
            [{"name": "a", "url": "http://x/", "store": {"bad-name": "[STATUS]"}}],
            {},
            "checks[0].steps[0].store.bad-name.[key]: String should match pattern",
        ),
        (
            [{"name": "a", "url": "ftp://x/"}],
            {},
            "checks[0].steps[0].url: url must start with http:// or https://",
        ),
        (
            [{"name": "a", "url": "http://x/", "conditions": ["[GRPC_STATUS] == SERVING"]}],
            {},
            "[GRPC_STATUS] is not available here",
        ),
        ([{"url": "http://x/"}], {}, "checks[0].steps[0].name: Field required"),
    ],
)
def test_bad_suite_config_names_the_key(
    steps: list[dict[str, Any]], fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_check({"id": "s", "kind": "http", "steps": steps, **fields})
    assert message in describe_error(caught.value, "checks[0]")


def test_an_http_check_needs_a_url_or_steps() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_check({"id": "s", "kind": "http"})
    assert "checks[0]: url: give the url to request (or steps, for a suite)" in describe_error(
        caught.value, "checks[0]"
    )


# ---------------------------------------------------------------------------- secrets

PASSWORD = "s3cr3t-Pa55-71"


def echo_api() -> web.Application:
    """POST /login wants PASSWORD and echoes a wrong one in its error (as careless APIs do)."""

    async def login(request: web.Request) -> web.Response:
        data = await request.json()
        if data.get("password") != PASSWORD:
            return web.json_response({"error": f"bad password {data.get('password')}"}, status=401)
        return web.json_response({"access_token": TOKEN})

    async def me(request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "")
        return web.json_response({"seen": token}, status=200 if token == f"Bearer {PASSWORD}" else 403)

    app = web.Application()
    app.add_routes([web.post("/login", login), web.get("/me", me)])
    return app


def secret_suite(base: str, secret: dict[str, str]) -> Any:
    return parse_check(
        {
            "id": "secret-flow",
            "kind": "http",
            "secrets": {"password": secret},
            "steps": [
                {
                    "name": "login",
                    "url": f"{base}/login",
                    "method": "POST",
                    "body": '{"user": "ci", "password": "{password}"}',
                    "conditions": ["[STATUS] == 200"],
                    "store": {"token": "[BODY].access_token"},
                }
            ],
        }
    )


async def test_suite_secrets_come_from_the_agent_and_never_show(
    context: ProbeContext, serve: ServeFn, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{await serve(echo_api())}"
    env = ProbeContext(session=context.session, environ={"UPWATCH_SECRET_API_PASSWORD": PASSWORD})
    result = await run_check(secret_suite(base, {"env": "UPWATCH_SECRET_API_PASSWORD"}), env)
    assert (result.status, result.error) == ("up", None)
    (tmp_path / "api-password").write_text("wrong-" + PASSWORD + "\n")
    from_file = ProbeContext(session=context.session, environ={"CREDENTIALS_DIRECTORY": str(tmp_path)})
    refused = await run_check(secret_suite(base, {"credential": "api-password"}), from_file)
    assert refused.status == "down"
    assert refused.error == 'step 1 "login": [STATUS]: expected 200, got 401'
    assert PASSWORD not in refused.model_dump_json()  # the body excerpt echoed it: scrubbed
    assert "bad password ***" in str(refused.detail["body_excerpt"])
    missing = await run_check(secret_suite(base, {"env": "UPWATCH_SECRET_NOT_SET"}), context)
    assert (missing.status, missing.error) == (
        "down",
        "secrets.password: environment variable UPWATCH_SECRET_NOT_SET is not set on this agent",
    )


async def test_a_single_request_uses_secrets_too(context: ProbeContext, serve: ServeFn) -> None:
    base = f"http://127.0.0.1:{await serve(echo_api())}"
    check = parse_check(
        {
            "id": "me",
            "kind": "http",
            "url": f"{base}/me",
            "headers": {"Authorization": "Bearer {token}"},
            "body": None,
            "secrets": {"token": {"env": "UPWATCH_SECRET_TOKEN"}},
            "conditions": ["[BODY].seen == pat(Bearer *)"],
        }
    )
    env = ProbeContext(session=context.session, environ={"UPWATCH_SECRET_TOKEN": PASSWORD})
    assert (await run_check(check, env)).status == "up"
    wrong = ProbeContext(session=context.session, environ={"UPWATCH_SECRET_TOKEN": PASSWORD + "x"})
    result = await run_check(check, wrong)
    assert (result.status, result.error) == ("down", "HTTP status 403")
    assert PASSWORD not in result.model_dump_json()


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        (
            {"password": {"env": "HOME"}},
            "checks[0].secrets.password: env: must name a variable starting with UPWATCH_SECRET_",
        ),
        ({"password": {"credential": "token"}}, "'token' is the agent's collector token"),
        ({"bad-name": "x"}, "checks[0].secrets.bad-name.[key]: String should match pattern"),
    ],
)
def test_bad_secrets_name_the_key(secrets: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_check({"id": "s", "kind": "http", "url": "http://x/", "secrets": secrets})
    assert message in describe_error(caught.value, "checks[0]")

"""Shared fixtures: an app on a real SQLite file, its test client, and a CLI runner."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from statuspage import create_app
from statuspage.db import migrate
from statuspage.server import freeze_startup_objects
from statuspage.settings import Settings, load_settings
from statuspage.storage import sql
from statuspage.storage.agents import create_agent
from tests.pg import PostgresServer

T0 = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)

BASE_CONFIG: dict[str, Any] = {
    "page": {"name": "Test Status"},
    "groups": [{"id": "core", "name": "Core"}],
    "components": [
        {"id": "api", "name": "Public API", "group": "core"},
        {"id": "web", "name": "Website"},
    ],
    "checks": [
        {
            "id": "api-health",
            "component": "api",
            "kind": "http",
            "url": "http://127.0.0.1:9/health",
            "interval": "10s",
            "run_on": ["label:eu"],
        },
        {
            "id": "web-port",
            "component": "web",
            "kind": "tcp",
            "host": "127.0.0.1",
            "port": 9,
            "interval": "10s",
            "run_on": ["agent:edge-1"],
        },
    ],
}


class FrozenClock:
    """An injected clock: tests move time explicitly, never sleep."""

    def __init__(self, start: datetime = T0):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        from datetime import timedelta

        self.now += timedelta(**kwargs)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the whole run (started on first use)."""
    # Not under pytest's tmp dirs: those are root-only (0700) and the server runs as nobody.
    root = Path(tempfile.mkdtemp(prefix="upwatch-pg-"))
    server = PostgresServer(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


ENGINES = ["sqlite", "postgresql"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "engines(*names): the storage engines a test runs on, each a parameter of the `engine` "
        "fixture (default: both for tests on `store` / `database_location`, else sqlite only). "
        "A module of table-driven suites says "
        '`pytestmark = pytest.mark.engines("sqlite", "postgresql")`; a multi-process or '
        'browser test in it says `@pytest.mark.engines("sqlite")` to run once.',
    )


def pytest_collection_finish(session: pytest.Session) -> None:
    """Every test module is imported now: freeze what is alive out of the GC's full collections.

    As `serve` does in each web worker (freeze_startup_objects): the modules, their
    functions and the collected tests live for the whole run, yet each full
    collection would walk them again, about 50 ms every few tests.
    """
    freeze_startup_objects()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `engine` by the closest `engines` marker (a test's own wins over its module's)."""
    if "engine" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("engines")
    if marker is not None:
        names = list(marker.args)
    elif {"store", "database_location"} & set(metafunc.fixturenames):
        names = list(ENGINES)  # storage-level tests (a bare database) always ran on both
    else:
        names = ["sqlite"]
    unknown = set(names) - set(ENGINES)
    if unknown or not names:
        raise pytest.UsageError(f"engines marker: unknown engine(s) {sorted(unknown)} (known: {ENGINES})")
    if names != ["sqlite"]:  # sqlite alone is the fixture's default: node ids stay as they were
        metafunc.parametrize("engine", names, indirect=True, ids=names)


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """The storage engine this test runs on: 'sqlite' or 'postgresql' (see the `engines` marker)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def database_location(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh empty database on `engine`: a SQLite file path or a PostgreSQL URL (dropped after)."""
    if engine == "sqlite":
        yield str(tmp_path / "upwatch.db")
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    url = server.new_database()
    yield url
    server.drop_database(url)


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated once per run, closed (its WAL folded in), for tests to copy.

    Migrating a new file costs about 50 ms; copying this one well under 1 ms.
    Tests of migrating itself open `database_location` (a path with no file).
    """
    path = tmp_path_factory.mktemp("migrated") / "upwatch.db"
    handle = sql.open_store(str(path))
    migrate(handle)
    sql.close(handle)
    return path


def copy_of_migrated(template: Path, folder: Path, name: str = "upwatch.db") -> str:
    target = folder / name
    shutil.copyfile(template, target)
    return str(target)


@pytest.fixture
def settings_database(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The database `make_settings` points at, on `engine`, as the migrations leave it.

    SQLite: a copy of the run's migrated file at `tmp_path / "upwatch.db"`.
    PostgreSQL: the run's one migrated app database, emptied for this test (tests/pg.py).
    """
    if engine == "sqlite":
        yield copy_of_migrated(request.getfixturevalue("migrated_sqlite_file"), tmp_path)
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    yield server.app_database()
    server.release_app_database()


@pytest.fixture
def store(
    engine: str, database_location: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[sql.Store]:
    """A migrated store on each engine in turn (on SQLite a copy of the run's migrated file)."""
    if engine == "sqlite":
        database_location = copy_of_migrated(request.getfixturevalue("migrated_sqlite_file"), tmp_path)
    handle = sql.open_store(database_location)
    migrate(handle)
    yield handle
    sql.close(handle)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def make_settings(settings_database: str) -> Callable[..., Settings]:
    """Settings over BASE_CONFIG on the test's database (`settings_database`: the `engine` parameter)."""

    def factory(**overrides: Any) -> Settings:
        data = {**BASE_CONFIG, "database": settings_database, **overrides}
        return load_settings(environ={}, **data)

    return factory


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def app(settings: Settings, clock: FrozenClock) -> Flask:
    app = create_app(settings)
    app.config["UPWATCH_CLOCK"] = clock
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db(settings: Settings, app: Flask) -> Any:
    """The app's database, opened through the seam (a sqlite-utils Database on SQLite)."""
    database = sql.open_store(settings.database)
    yield database
    sql.close(database)


@pytest.fixture
def agent_token(db: Any, clock: FrozenClock) -> Callable[..., str]:
    """Create an agent directly in the database; return its bearer token."""

    def factory(name: str = "edge-1", labels: list[str] | None = None) -> str:
        _agent, token = create_agent(db, name, labels or ["eu"], clock())
        return token

    return factory

"""Shared fixtures: a real SQLite store on disk, settings isolated from the host."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiosqlite
import pytest

from bot.app import App, bootstrap
from bot.config import Settings
from bot.store.sqlite import SqliteStore
from tests import pg
from tests.helpers import poll_in_order
from tests.pg import NoServer, create_database, drop_database

_HOST_SETTINGS = (
    "NEWSBRIEF_",
    "DISCORD_",
    "SLACK_",
    "OPENAI_",
)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads the developer's environment or .env file."""
    import os

    for name in list(os.environ):
        if name.startswith(_HOST_SETTINGS) or name in ("PORT", "DATABASE_URL"):
            monkeypatch.delenv(name, raising=False)
    # Parsing and fingerprinting in a thread: spawning worker processes for every app a
    # test builds would take most of a second each. tests/test_workers.py runs them.
    monkeypatch.setenv("NEWSBRIEF_CPU_WORKERS", "0")
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture
def no_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    """For the core's tests: opening SQLite fails, so they prove they run on the fakes."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a core test opened SQLite; use the in-memory store")

    monkeypatch.setattr(aiosqlite, "connect", refuse)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(tmp_path / "test.db")
    yield opened
    await opened.close()


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    """The real composition on the bundled sample feeds, ingested, offline."""
    built = await bootstrap(Settings(NEWSBRIEF_DB=tmp_path / "app.db"))
    reports = await poll_in_order(built)
    assert all(r.status == "ok" for r in reports), reports
    yield built
    await built.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on the PostgreSQL server are marked `postgres`: those asking for its
    database by name here (the contract suites' engines carry the mark themselves).

    Tests marked `slow` go first, the longest first, each followed by one other test:
    `make test` hands tests to its xdist workers in this order, two to each at the start,
    then one at a time (--dist load --maxschedchunk 1), so each slow test starts at once
    on a worker of its own while the others share the rest, instead of starting late
    and leaving the whole run waiting on it."""
    for item in items:
        if "pg_database" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
    slow = [item for item in items if item.get_closest_marker("slow")]
    slow.sort(key=lambda item: -_slow_seconds(item))
    rest = [item for item in items if not item.get_closest_marker("slow")]
    items[:] = [
        *(pair for n, test in enumerate(slow) for pair in (test, *rest[n : n + 1])),
        *rest[len(slow) :],
    ]


def _slow_seconds(item: pytest.Item) -> float:
    """How long a test marked `slow(seconds)` takes, about."""
    mark = item.get_closest_marker("slow")
    return float(mark.args[0]) if mark and mark.args else 0.0


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database for this run (see tests/pg.py): its URL. Without a server,
    the tests asking for it are skipped, or fail under NEWSBRIEF_TEST_REQUIRE_POSTGRES=1."""
    try:
        name, url = create_database()
    except NoServer as exc:
        missing = str(exc)
    else:
        missing = ""
    if missing and pg.REQUIRED:
        pytest.fail(f"{missing} (and NEWSBRIEF_TEST_REQUIRE_POSTGRES=1)", pytrace=False)
    if missing:
        pytest.skip(
            f"{missing}; start it (see .ci/run) or set NEWSBRIEF_TEST_PG "
            "(NEWSBRIEF_TEST_REQUIRE_POSTGRES=1 makes this an error)"
        )
    try:
        yield url
    finally:
        drop_database(name)

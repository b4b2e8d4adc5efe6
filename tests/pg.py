"""A PostgreSQL database of its own for a test run, on the machine's server.

The server is the one the test environment provides (127.0.0.1:5432, trust auth;
`.ci/run` starts it if it is down), or NEWSBRIEF_TEST_PG's; each run (each xdist
worker) creates a database with a name of its own, migrated once, emptied before each
test, and dropped at the end.

Where no server answers, the tests that need one (marked `postgres`) are skipped,
unless NEWSBRIEF_TEST_REQUIRE_POSTGRES=1 (as `.ci/run` sets it): then they fail.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from collections.abc import Awaitable, Callable

import asyncpg

from bot.store.pg import PostgresStore
from bot.store.pg.schema import TABLES

SERVER = os.environ.get("NEWSBRIEF_TEST_PG", "postgresql://127.0.0.1:5432/test")
# Read here, at import: each test runs with the NEWSBRIEF_* variables cleared.
REQUIRED = os.environ.get("NEWSBRIEF_TEST_REQUIRE_POSTGRES", "") == "1"
CONNECT_SECONDS = 10.0


class NoServer(Exception):
    """No PostgreSQL server answers at SERVER."""


def _run(work: Callable[[], Awaitable[None]]) -> None:
    """Run `work` on an event loop of its own, in a thread: the session fixture may be
    first asked for from inside a test's running loop."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(work())  # type: ignore[arg-type]
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def _url(name: str) -> str:
    return SERVER.rsplit("/", 1)[0] + f"/{name}"


async def _connect_to_server() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(SERVER, timeout=CONNECT_SECONDS)
    except (OSError, asyncpg.CannotConnectNowError) as exc:  # refused, unreachable, starting
        raise NoServer(f"no PostgreSQL server answers at {SERVER}: {exc!r}") from exc


def create_database() -> tuple[str, str]:
    """A new database on the server: its name and URL; NoServer if none answers."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"newsbrief_test_{worker}_{os.getpid()}_{secrets.token_hex(4)}"

    async def create() -> None:
        conn = await _connect_to_server()
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        store = await PostgresStore.open(_url(name))  # migrated once, for every test
        await store.close()

    _run(create)
    return name, _url(name)


def drop_database(name: str) -> None:
    async def drop() -> None:
        conn = await _connect_to_server()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    _run(drop)


async def empty_database(url: str) -> None:
    """Every table emptied, ids starting again at 1: each test sees a new database."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()

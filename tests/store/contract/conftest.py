"""Every storage contract suite runs once per engine: the in-memory fake, SQLite and
PostgreSQL.

A new engine (PostgreSQL, say) joins by adding a parameter here and passing the
same suites. Tests get the store through the role they test, so they can only
use that port's methods.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

import pytest

from bot.services.ports import (
    ArticleStore,
    DeliveryStore,
    FeedStore,
    LlmLedger,
    OutboxStore,
    StorageEngine,
    StoryStore,
    SubscriptionStore,
    ThreadStore,
)
from bot.store.pg import PostgresStore
from bot.store.sqlite import SqliteStore
from tests.fakes.store import InMemoryStore
from tests.pg import empty_database


class AllRoles(StorageEngine, Protocol):
    """What each engine implements: every storage port."""


# PostgreSQL's needs the server (tests/pg.py): marked, to be skipped where none answers.
ENGINES = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@asynccontextmanager
async def open_engine(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AllRoles]:
    """A new, empty store of the engine `kind`; "postgres-gin": PostgreSQL searching
    without its RUM index, as on a server without the extension."""
    if kind == "memory":
        yield InMemoryStore()
        return
    if kind.startswith("postgres"):
        url = request.getfixturevalue("pg_database")
        pg = await PostgresStore.open(url, max_connections=4)
        pg.ranked_index = pg.ranked_index and kind == "postgres"
        store: AllRoles = pg
        await empty_database(url)
    else:
        store = await SqliteStore.open(tmp_path / "c.db")
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture(params=ENGINES)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AllRoles]:
    async with open_engine(request.param, request, tmp_path) as store:
        yield store


@pytest.fixture
def feeds(engine: AllRoles) -> FeedStore:
    return engine


@pytest.fixture
def articles(engine: AllRoles) -> ArticleStore:
    """The same engine as `feeds`: articles are scoped through the feeds that carry them."""
    return engine


@pytest.fixture
def stories(engine: AllRoles) -> StoryStore:
    """The same engine again: stories are made of the articles stored through `articles`."""
    return engine


@pytest.fixture
def subscriptions(engine: AllRoles) -> SubscriptionStore:
    return engine


@pytest.fixture
def deliveries(engine: AllRoles) -> DeliveryStore:
    return engine


@pytest.fixture
def outbox(engine: AllRoles) -> OutboxStore:
    return engine


@pytest.fixture
def threads(engine: AllRoles) -> ThreadStore:
    return engine


@pytest.fixture
def ledger(engine: AllRoles) -> LlmLedger:
    return engine

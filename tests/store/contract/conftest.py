"""Every storage contract suite runs once per engine: the in-memory fake and SQLite.

A new engine (PostgreSQL, say) joins by adding a parameter here and passing the
same suites. Tests get the store through the role they test, so they can only
use that port's methods.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import pytest

from bot.services.ports import (
    ArticleStore,
    ClaimLedger,
    DeliveryStore,
    FeedStore,
    LlmLedger,
    OutboxStore,
    Store,
    StoryStore,
    SubscriptionStore,
    ThreadStore,
)
from bot.store.pg import PostgresStore
from bot.store.sqlite import SqliteStore
from tests.fakes.store import InMemoryStore
from tests.pg import empty_database


class AllRoles(Store, LlmLedger, ClaimLedger, Protocol):
    """What each engine implements: every storage port."""


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AllRoles]:
    if request.param == "memory":
        yield InMemoryStore()
        return
    if request.param == "postgres":
        url = request.getfixturevalue("pg_database")
        store: AllRoles = await PostgresStore.open(url, max_connections=4)
        await empty_database(url)
    else:
        store = await SqliteStore.open(tmp_path / "c.db")
    try:
        yield store
    finally:
        await store.close()


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

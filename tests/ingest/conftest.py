"""Fixtures for the ingest tests: a loopback feed server and a Fetcher that may reach it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.ingest.fetch import Fetcher
from tests.fakes.feed_server import FeedServer, feed_server


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with feed_server() as running:
        yield running


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    opened = Fetcher(
        timeout_seconds=2.0,
        max_bytes=200_000,
        max_redirects=3,
        per_host_concurrency=2,
        allow_private=True,
    )
    yield opened
    await opened.aclose()

"""Core services are tested on the in-memory stores: no SQLite under the core's tests.

tests/store/contract holds SQLite to the same behaviour.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App, bootstrap
from bot.config import Settings
from tests.fakes.store import InMemoryStore
from tests.helpers import poll_in_order


@pytest.fixture(autouse=True)
def _core_runs_without_sqlite(no_sqlite: None) -> None:
    """Every test here runs on the in-memory store."""


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
async def app(tmp_path: Path, store: InMemoryStore) -> AsyncIterator[App]:
    """The real composition on the bundled sample feeds, ingested, offline, in memory."""
    built = await bootstrap(Settings(NEWSBRIEF_DB=tmp_path / "unused.db"), store=store)
    reports = await poll_in_order(built)
    assert all(r.status == "ok" for r in reports), reports
    yield built
    await built.close()

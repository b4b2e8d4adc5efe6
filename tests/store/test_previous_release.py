"""A database the previous release wrote opens on this one and reads back whole.

The fixtures in tests/store/data are what the release before the store's roles were
shared (a7e1b3a, 7 December 2026: SQLite schema 7, PostgreSQL schema 3) wrote through
its own store: default and subscribed feeds with their fetch state, articles in
stories with a reprint and fingerprints, subscriptions, a posted digest with its
thread, turns and story versions, a command cut off mid-send, a claimed reply, the
model cache and the ledgers. SQLite's was dumped with `sqlite3 .dump`, PostgreSQL's
with `pg_dump --data-only --inserts` (its schema is made by the migrations here).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from bot.domain import Reprint, Scope, ThreadKind
from bot.placement import PlacedArticle
from bot.services.dedupe import canonical_url
from bot.services.ports import StorageEngine
from bot.services.story_index import fingerprint, print_from_record
from bot.store.pg import PostgresStore
from bot.store.sqlite import SqliteStore
from tests.helpers import new_article
from tests.pg import empty_database

DATA = Path(__file__).parent / "data"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
A = Scope("slack", "T1")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StorageEngine]:
    """The previous release's database, opened by this one."""
    opened: StorageEngine
    if request.param == "sqlite":
        path = tmp_path / "release.db"
        with sqlite3.connect(path) as conn:
            conn.executescript((DATA / "release_sqlite.sql").read_text(encoding="utf-8"))
        conn.close()
        opened = await SqliteStore.open(path)
    else:
        url = request.getfixturevalue("pg_database")
        await empty_database(url)
        conn = await asyncpg.connect(url)
        try:
            await conn.execute((DATA / "release_postgres.sql").read_text(encoding="utf-8"))
        finally:
            await conn.close()
        opened = await PostgresStore.open(url)
    try:
        yield opened
    finally:
        await opened.close()


async def test_feeds_articles_and_stories_read_back(store: StorageEngine) -> None:
    """Feeds keep their fetch state; articles their stories, reprints and fingerprints."""
    wire, ledger, own = await store.polled_feeds()
    assert (wire.url, wire.title, wire.etag, wire.is_default) == (
        "https://wire.example/feed",
        "The Wire",
        '"e1"',
        True,
    )
    assert wire.next_poll_at == T0 + timedelta(minutes=15)
    assert (ledger.consecutive_failures, ledger.last_error) == (1, "HTTP 503")
    assert [f.url for f in await store.feeds_for_scope(A)] == [wire.url, ledger.url, own.url]
    one, two, other = await store.get_articles([1, 2, 3])
    assert [a.story_id for a in (one, two, other)] == [1, 1, 3]
    assert one.reprints == (Reprint("Copy Times", "https://copy.example/c/1"),)
    assert one.published_at == T0 and one.fetched_at == T0 + timedelta(minutes=5)
    assert [(s.id, s.version) for s in await store.stories(A, [1, 3])] == [(1, 2), (3, 1)]
    prints = await store.story_prints(T0 - timedelta(days=1))
    assert [p.article_id for p in prints] == [1, 2, 3]
    assert print_from_record(prints[0].record) == fingerprint(one.title, one.text)
    hits = await store.search(A, ["bridge"], mode="all", since=None, limit=5)
    assert {h.article.id for h in hits} == {1, 2}
    known = await store.known_articles(ledger, [(None, canonical_url("https://copy.example/c/1"))])
    assert known == [1]


async def test_posts_threads_and_ledgers_read_back(store: StorageEngine) -> None:
    """The outbox, threads, subscriptions and ledgers are as the release left them."""
    subscription = await store.get_subscription(A, "C1")
    assert subscription is not None
    assert (subscription.topics, subscription.timezone) == (("bridge", "ferry"), "Europe/Kyiv")
    assert subscription.last_digest_at == T0 + timedelta(days=1)
    assert len(await store.list_subscriptions()) == 2
    digest = await store.get_delivery("digest:1:2026-12-02")
    assert digest is not None and digest.status == "posted"
    assert [(p.state, p.message_id) for p in digest.parts] == [
        ("sent", "1700000000.000100"),
        ("sent", "1700000000.000200"),
    ]
    assert digest.shows is not None and digest.shows.article_ids == (1, 2, 3)
    cut_off = await store.get_delivery("command:slack:T1:C1:trig-1")
    assert cut_off is not None and cut_off.status == "pending"
    assert (cut_off.parts[0].state, cut_off.attempts, cut_off.error) == (
        "sending",
        1,
        "TimeoutError: slow",
    )
    thread = await store.get_thread(A, "C1", "1700000000.000100")
    assert thread is not None and thread.kind is ThreadKind.DIGEST
    assert thread.article_ids == (1, 2, 3)
    assert [t.question for t in await store.recent_turns(thread, 5)] == ["What was decided?"]
    posted = await store.posted_stories(A, "C1", [1, 3])
    assert {i: p.version for i, p in posted.items()} == {1: 2, 3: 1}
    assert not await store.claim_delivery("reply:slack:T1:C1:111.1", A, "C1")
    assert await store.cached_output("k1") == '{"headline": "h"}'
    stats = await store.llm_stats(None)
    assert (stats.requests, stats.fallbacks, stats.fallback_reasons) == (1, 1, (("timeout", 1),))
    (day,) = await store.claims_by_day(None)
    assert (day.day.isoformat(), day.checked) == ("2026-12-01", 5)


async def test_new_rows_follow_the_old_ones(store: StorageEngine) -> None:
    """What is written now takes the next ids after the release's rows."""
    wire = await store.get_feed("https://wire.example/feed")
    assert wire is not None
    article = new_article("https://wire.example/a/4", "Tunnel plans", "A tunnel is planned.")
    assert await store.add_articles(wire, [PlacedArticle(article)]) == [4]
    assert (await store.add_feed("https://new.example/feed")).id == 4
    later = await store.upsert_subscription(
        Scope("slack", "T2"), "C9", digest_time="07:00", timezone="UTC", topics=[]
    )
    assert later.id == 3

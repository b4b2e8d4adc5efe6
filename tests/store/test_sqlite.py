from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import aiosqlite.core
import pytest

from bot.app import bootstrap, no_chat
from bot.config import Settings
from bot.domain import Feed, NewArticle, Scope, StoreUnavailable, ThreadKind
from bot.placement import PlacedArticle
from bot.services.story_index import fingerprint, print_record
from bot.store.sqlite import SchemaTooNewError, SqliteStore, fts_query
from bot.store.sqlite import db as sqlite_db
from bot.store.sqlite import search as sqlite_search
from bot.store.sqlite.db import SqliteDatabase
from bot.store.sqlite.migrations import MIGRATIONS, SCHEMA_VERSION
from bot.timeutil import to_db, utcnow
from tests.helpers import new_article, store_article, until

A = Scope("slack", "TA")
B = Scope("slack", "TB")


def _article(url: str, title: str, text: str, guid: str | None = None) -> NewArticle:
    return new_article(url, title, text, guid=guid, is_full_text=True)


async def test_new_database_is_at_the_current_schema_in_wal_mode(tmp_path: Path) -> None:
    """Opening creates every table, records the schema version and turns on WAL."""
    store = await SqliteStore.open(tmp_path / "s.db")
    assert await store.schema_version() == SCHEMA_VERSION
    await store.close()
    with sqlite3.connect(tmp_path / "s.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert {
        "feeds",
        "articles",
        "articles_fts",
        "subscriptions",
        "deliveries",
        "threads",
        "qa_turns",
        "workspace_feeds",
        "article_feeds",
    } <= tables


async def test_reopening_keeps_data_and_does_not_migrate_again(tmp_path: Path) -> None:
    """A second open of the same file finds its data and the same schema."""
    store = await SqliteStore.open(tmp_path / "s.db")
    await store.add_feed("https://a.example/feed")
    await store.close()
    again = await SqliteStore.open(tmp_path / "s.db")
    assert (await again.get_feed("https://a.example/feed")) is not None
    await again.close()


async def test_the_log_is_checkpointed_beside_the_writer_and_stays_small(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits' log is copied into the database by the checkpointer, so the log stays small."""
    monkeypatch.setattr(sqlite_db, "CHECKPOINT_EVERY_SECONDS", 0.01)
    store = await SqliteStore.open(tmp_path / "s.db")
    wal = tmp_path / "s.db-wal"
    sizes = []
    for i in range(12):
        feed = await store.add_feed(f"https://a.example/{i}")
        await store.add_articles(
            feed, [PlacedArticle(_article(f"https://a.example/{i}/1", f"T{i}", "word " * 40_000))]
        )
        await store.log_checkpointed()
        sizes.append(wal.stat().st_size)
    await store.close()
    # Each write reuses the log from its start once the one before is in the database,
    # so the file never outgrows the first (the schema's) log; without the checkpointer
    # it would hold every write (the writer's own checkpoint waits for 8,000 pages).
    assert sizes[-1] <= sizes[0]


async def test_closing_a_store_with_a_checkpoint_pending_leaves_nothing_running(
    tmp_path: Path,
) -> None:
    """A store closed right after a commit cancels its pending checkpoint and closes cleanly."""
    store = await SqliteStore.open(tmp_path / "s.db")
    await store.add_feed("https://a.example/feed")
    await store.close()
    again = await SqliteStore.open(tmp_path / "s.db")
    assert (await again.get_feed("https://a.example/feed")) is not None
    await again.close()


async def test_closing_a_store_while_its_checkpointer_connects_leaves_no_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closed while the checkpointer is opening its own connection (at its first
    checkpoint), the store waits for that connection and closes it: no SQLite thread is
    left behind (one that went on after the event loop had closed crashed the bot's
    shutdown with "Event loop is closed")."""
    monkeypatch.setattr(sqlite_db, "CHECKPOINT_EVERY_SECONDS", 0.0)
    connect, connections = sqlite3.connect, []
    checkpointer_connecting, checkpointer_connected = threading.Event(), threading.Event()

    def slow_checkpointer_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connections.append(args)
        if len(connections) != 2:  # the store's connection first, then the checkpointer's
            return connect(*args, **kwargs)
        checkpointer_connecting.set()
        time.sleep(0.2)
        try:
            return connect(*args, **kwargs)
        finally:
            checkpointer_connected.set()

    def sqlite_threads() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if "_connection_worker_thread" in t.name}

    monkeypatch.setattr(aiosqlite.core.sqlite3, "connect", slow_checkpointer_connect)
    before = sqlite_threads()
    store = await SqliteStore.open(tmp_path / "s.db")
    await store.add_feed("https://a.example/feed")  # a commit: a checkpoint follows
    await asyncio.to_thread(checkpointer_connecting.wait, 5)
    await store.close()
    assert checkpointer_connected.is_set()  # waited for, not left to finish on its own
    await until(lambda: not sqlite_threads() - before, "the store's SQLite threads to end")


async def test_database_from_a_newer_build_is_refused(tmp_path: Path) -> None:
    """A schema newer than the code is refused with advice, not silently used."""
    with sqlite3.connect(tmp_path / "new.db") as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaTooNewError, match="upgrade newsbrief"):
        await SqliteStore.open(tmp_path / "new.db")


async def test_search_uses_stemming_and_is_scoped(store: SqliteStore) -> None:
    """FTS5 with stemming finds 'talks' for 'talk', only in the asking workspace's feeds."""
    feed = await store.add_feed("https://a.example/feed")
    await store.subscribe_feed(A, feed, channel="C", added_by="U")
    await store_article(
        store,
        feed,
        _article("https://a.example/t", "Peace talks resume", "Envoys talked for hours."),
    )
    hits = await store.search(A, ["talk"], mode="all", since=None, limit=5)
    assert [h.article.title for h in hits] == ["Peace talks resume"]
    assert await store.search(B, ["talk"], mode="all", since=None, limit=5) == []
    assert (await store.feeds_for_scope(B)) == []
    assert [f.url for f in await store.feeds_for_scope(A)] == ["https://a.example/feed"]


async def test_search_window_excludes_older_articles(store: SqliteStore) -> None:
    """Articles published before `since` are not found."""
    feed = (await store.sync_default_feeds(["https://a.example/feed"]))[0]
    await store_article(store, feed, _article("https://a.example/t", "Harbour news", "Ships."))
    future = utcnow() + timedelta(minutes=1)
    assert await store.search(A, ["harbour"], mode="all", since=future, limit=5) == []
    assert len(await store.search(A, ["harbour"], mode="all", since=None, limit=5)) == 1


def test_fts_query_quotes_every_token() -> None:
    """User text becomes quoted tokens, so FTS5 operators cannot be injected."""
    assert (
        fts_query(['ukraine" OR x', "NEAR(a"], "all")
        == '"ukraine" AND "or" AND "x" AND "near" AND "a"'
    )
    assert fts_query(["peace", "talks"], "any") == '"peace" OR "talks"'
    assert fts_query(["***", "()"], "all") is None


async def test_threads_and_turns_belong_to_their_workspace(store: SqliteStore) -> None:
    """A thread is found only in its own workspace and channel; turns come back in order."""
    thread = await store.save_thread(A, "C1", "ts-1", ThreadKind.BRIEF, [3, 1, 2])
    assert thread.article_ids == (3, 1, 2)
    assert await store.get_thread(B, "C1", "ts-1") is None
    assert await store.get_thread(A, "C2", "ts-1") is None
    await store.add_turn(thread, "q1", "a1", [3])
    await store.add_turn(thread, "q2", "a2", [1])
    turns = await store.recent_turns(thread, 1)
    assert [t.question for t in turns] == ["q2"]


async def test_subscriptions_upsert_disable_and_list(store: SqliteStore) -> None:
    """Setting a digest twice updates it; turning it off removes it from the schedule."""
    await store.upsert_subscription(A, "C1", digest_time="08:00", timezone="UTC", topics=["x"])
    sub = await store.upsert_subscription(
        A, "C1", digest_time="09:30", timezone="Europe/Kyiv", topics=[]
    )
    assert (sub.digest_time, sub.timezone, sub.topics) == ("09:30", "Europe/Kyiv", ())
    assert [s.id for s in await store.list_subscriptions()] == [sub.id]
    assert await store.disable_subscription(A, "C1")
    assert await store.list_subscriptions() == []
    assert not await store.disable_subscription(A, "C1")


async def test_upgrading_a_database_from_before_stories_keeps_every_article_and_thread(
    tmp_path: Path,
) -> None:
    """Schema 4 -> 5: articles, links, search and threads kept; each article its own story."""
    path = tmp_path / "v4.db"
    now = to_db(utcnow())
    with sqlite3.connect(path) as conn:
        for migration in MIGRATIONS[:4]:
            conn.executescript(migration)
        conn.execute("PRAGMA user_version = 4")
        conn.execute(
            "INSERT INTO feeds (id, url, is_default, created_at) VALUES (1, 'https://f/x', 1, ?)",
            (now,),
        )
        for n in (1, 2):
            conn.execute(
                "INSERT INTO articles (id, url, canonical_url, title, source, published_at, "
                "fetched_at, text, is_full_text, content_hash) "
                "VALUES (?, ?, ?, ?, 'Outlet', ?, ?, 'Harbour cranes stand idle.', 1, ?)",
                (n, f"https://f/{n}", f"https://f/{n}", f"Cranes {n}", now, now, f"h{n}"),
            )
            conn.execute("INSERT INTO article_feeds (article_id, feed_id) VALUES (?, 1)", (n,))
        conn.execute(
            "INSERT INTO threads (platform, workspace, channel, thread_key, kind, article_ids, "
            "created_at) VALUES ('slack', 'TA', 'C1', 't1', 'brief', '[1, 2]', ?)",
            (now,),
        )
    store = await SqliteStore.open(path)
    try:
        assert await store.schema_version() == SCHEMA_VERSION
        articles = await store.get_articles([1, 2])
        assert [(a.id, a.story_id) for a in articles] == [(1, 1), (2, 2)]
        assert [s.id for s in await store.stories(A, [1, 2])] == [1, 2]
        hits = await store.search(A, ["cranes"], mode="all", since=None, limit=5)
        assert {h.article.id for h in hits} == {1, 2}
        thread = await store.get_thread(A, "C1", "t1")
        assert thread is not None and thread.article_ids == (1, 2)
        # New articles get ids after the old ones, and their stories too.
        feed = (await store.polled_feeds())[0]
        added = await store_article(store, feed, _article("https://f/3", "Cranes 3", "New text."))
        assert added == 3 and (await store.get_articles([3]))[0].story_id == 3
    finally:
        await store.close()


async def test_upgrading_to_the_outbox_keeps_claims_and_drops_stuck_digests(
    tmp_path: Path,
) -> None:
    """Schema 5 -> 6: reply claims stay claimed, posted digests stay posted; a digest left
    'pending' for good by a killed bot is dropped, so catch-up can make it again."""
    path = tmp_path / "v5.db"
    now = to_db(utcnow())
    with sqlite3.connect(path) as conn:
        for migration in MIGRATIONS[:5]:
            conn.executescript(migration)
        conn.execute("PRAGMA user_version = 5")
        for key, status in (
            ("reply:slack:TA:C1:1.1", "pending"),
            ("digest:1:2026-11-29", "posted"),
            ("digest:1:2026-11-30", "pending"),
        ):
            conn.execute(
                "INSERT INTO deliveries (key, platform, workspace, channel, status, created_at, "
                "updated_at) VALUES (?, 'slack', 'TA', 'C1', ?, ?, ?)",
                (key, status, now, now),
            )
    store = await SqliteStore.open(path)
    try:
        assert await store.schema_version() == SCHEMA_VERSION
        assert not await store.claim_delivery("reply:slack:TA:C1:1.1", A, "C1")
        posted = await store.get_delivery("digest:1:2026-11-29")
        assert posted is not None and (posted.status, posted.parts) == ("posted", ())
        assert await store.get_delivery("digest:1:2026-11-30") is None
        assert await store.due_deliveries(utcnow()) == []
    finally:
        await store.close()


async def test_a_batch_costs_the_same_round_trips_whatever_its_length(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """add_articles makes as many calls into aiosqlite's thread for 20 entries as for 2."""
    await (await SqliteStore.open(tmp_path / "s.db")).close()  # migrated
    conn = await aiosqlite.connect(tmp_path / "s.db", isolation_level=None)
    conn.row_factory = aiosqlite.Row
    await conn.execute("PRAGMA foreign_keys=ON")
    store = SqliteStore(SqliteDatabase(conn, None))
    calls: list[str] = []
    # Every call into the thread the store makes goes through one of these (it opens no
    # cursors of its own), each one hop.
    for name in ("execute", "executemany", "execute_fetchall"):
        method = getattr(conn, name)

        def counted(*args: object, _name: str = name, _method: object = method) -> object:
            calls.append(_name)
            return _method(*args)  # type: ignore[operator]

        monkeypatch.setattr(conn, name, counted)
    try:
        feed = await store.add_feed("https://a.example/feed")
        stored = await store_article(store, feed, _article("https://a.example/0", "Old", "Old."))
        assert stored == 1

        def batch(tag: str, n: int) -> list[PlacedArticle]:
            """New stories, joins, reprints, copies and prints: every table written."""
            placed = []
            for i in range(n):
                article = _article(f"https://a.example/{tag}{i}", f"{tag} {i}", f"{tag} {i}.")
                print_ = fingerprint(article.title, article.text)
                kind = i % 4
                if kind == 0:
                    placed.append(PlacedArticle(article, record=print_record(print_)))
                elif kind == 1:
                    placed.append(
                        PlacedArticle(article, story_id=stored, record=print_record(print_))
                    )
                elif kind == 2:
                    placed.append(PlacedArticle(article, reprint_of=-1))
                else:
                    copy = _article("https://a.example/0?utm_source=x", "Copy", "Copy.")
                    placed.append(PlacedArticle(copy))
            return placed

        counts = []
        for tag, n in (("a", 4), ("b", 20)):
            calls.clear()
            results = await store.add_articles(feed, batch(tag, n))
            assert sum(r is not None for r in results) == n // 2
            counts.append(len(calls))
        assert counts[0] == counts[1] <= 10, counts
    finally:
        await store.close()


async def test_a_search_whose_best_matches_are_all_too_old_still_finds_the_recent_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ranking the best matches first never loses a match the window allows: when too few
    of them pass, every match is ranked."""
    monkeypatch.setattr(sqlite_search, "_RANKED_FIRST", 1)  # the first ten ranked, at limit=1
    store = await SqliteStore.open(tmp_path / "s.db")
    try:
        (feed,) = await store.sync_default_feeds(["https://wire.example/feed"])
        old = utcnow() - timedelta(days=30)
        for i in range(12):  # strong matches, all outside the window
            await store_article(
                store,
                feed,
                new_article(
                    f"https://wire.example/{i}",
                    "Harbour harbour",
                    f"Harbour news {i}.",
                    published_at=old,
                ),
            )
        recent = await store_article(
            store,
            feed,
            new_article("https://wire.example/new", "Ferry timetable", "Also the harbour."),
        )
        hits = await store.search(
            Scope("console", "local"),
            ["harbour"],
            mode="any",
            since=utcnow() - timedelta(days=7),
            limit=1,
        )
        assert [h.article.id for h in hits] == [recent]
    finally:
        await store.close()


async def _common_word_store(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> tuple[Feed, Feed]:
    """A feed all read, one only B reads; common past 3 matches, 20 ranked at limit=2."""
    monkeypatch.setattr(sqlite_search, "_COMMON_MATCHES", 3)
    monkeypatch.setattr(sqlite_search, "_NEWEST_RANKED", 1)  # 10 x limit: 20 at limit=2
    (shared,) = await store.sync_default_feeds(["https://wire.example/feed"])
    own = await store.add_feed("https://b.example/feed")
    await store.subscribe_feed(B, own, channel="C", added_by="U")
    return shared, own


async def _harbour(store: SqliteStore, feed: Feed, n: int, title: str, **times: datetime) -> int:
    """Article `n` on `feed`, with "harbour" once in its text."""
    article_id = await store_article(
        store,
        feed,
        new_article(f"https://x.example/{n}", title, f"Item {n} from the harbour.", **times),
    )
    assert article_id is not None
    return article_id


async def test_a_very_common_word_ranks_its_newest_matches(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A common word returns the best of its newest matches; a rarer one, of all matches."""
    feed, _ = await _common_word_store(store, monkeypatch)
    old_strong = [await _harbour(store, feed, n, f"Harbour harbour harbour {n}") for n in range(5)]
    newer = [await _harbour(store, feed, n, f"Weather {n}") for n in range(5, 23)]
    weaker = await _harbour(store, feed, 23, "Harbour reopens")
    stronger = await _harbour(store, feed, 24, "Harbour harbour ferries")
    assert len(newer) + 2 == 20
    hits = await store.search(A, ["harbour"], mode="all", since=None, limit=2)
    assert [h.article.id for h in hits] == [stronger, weaker]
    assert hits[0].relevance > hits[1].relevance > 0
    monkeypatch.setattr(sqlite_search, "_COMMON_MATCHES", 25)  # 25 matches: not common
    hits = await store.search(A, ["harbour"], mode="all", since=None, limit=2)
    assert {h.article.id for h in hits} <= set(old_strong)


async def test_a_very_common_word_keeps_to_the_window_and_the_scope(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A common word's newest matches out of the window or the scope are left out."""
    shared, own = await _common_word_store(store, monkeypatch)
    now = utcnow()
    for n in range(10):
        await _harbour(store, shared, n, f"Weather {n}")
    good = await _harbour(store, shared, 10, "Harbour harbour news")
    fair = await _harbour(store, shared, 11, "Harbour news")
    strong = "Harbour harbour harbour"
    failing = [
        await _harbour(store, own, 12, strong),  # only workspace B reads it
        await _harbour(store, shared, 13, strong, published_at=now - timedelta(days=30)),
        await _harbour(store, shared, 14, strong, fetched_at=now - timedelta(days=2)),
    ]
    hits = await store.search(
        A,
        ["harbour"],
        mode="all",
        since=now - timedelta(days=7),
        limit=2,
        fetched_since=now - timedelta(days=1),
    )
    assert [h.article.id for h in hits] == [good, fair]
    hits = await store.search(B, ["harbour"], mode="all", since=None, limit=2)
    assert {h.article.id for h in hits} <= set(failing)


async def test_a_very_common_word_whose_newest_matches_all_fail_finds_older_ones(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Too few passing among a common word's newest matches: older ones, as if all ranked."""
    shared, own = await _common_word_store(store, monkeypatch)
    now = utcnow()
    best = await _harbour(store, shared, 0, "Harbour harbour news")
    second = await _harbour(store, shared, 1, "Harbour news")
    await _harbour(store, shared, 2, "Weather")
    for n in range(3, 33):  # 30 newer, stronger matches, none passing: more than 20 ranked
        if n % 2:
            await _harbour(store, own, n, f"Harbour harbour harbour {n}")
        else:  # an archive stored late
            await _harbour(
                store, shared, n, f"Harbour harbour {n}", published_at=now - timedelta(days=30)
            )
    since = now - timedelta(days=7)
    hits = await store.search(A, ["harbour"], mode="all", since=since, limit=2)
    assert [h.article.id for h in hits] == [best, second]
    monkeypatch.setattr(sqlite_search, "_COMMON_MATCHES", 1000)  # every match ranked
    assert await store.search(A, ["harbour"], mode="all", since=since, limit=2) == hits


async def test_a_full_disk_is_store_unavailable_and_the_store_works_once_freed(
    tmp_path: Path,
) -> None:
    """SQLITE_FULL (here: the page limit reached) is StoreUnavailable, the transaction
    is rolled back, and writes work again once there is room."""
    store = await SqliteStore.open(tmp_path / "full.db")
    try:
        pages = await store.db.fetchval("PRAGMA page_count")
        await store.db.conn.execute(f"PRAGMA max_page_count = {pages}")
        feed = await store.add_feed("https://a.example/feed.xml")
        with pytest.raises(StoreUnavailable, match="full"):
            for n in range(200):
                await store_article(store, feed, new_article(f"https://a.example/{n}", "x" * 4000))
        await store.db.conn.execute("PRAGMA max_page_count = 1073741823")
        assert not store.db.conn.in_transaction
        await store_article(store, feed, new_article("https://a.example/after", "room again"))
    finally:
        await store.close()


async def test_ingest_into_a_full_disk_stops_the_poll_with_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A full disk during a poll: StoreUnavailable once, no traceback per feed."""
    app = await bootstrap(Settings(NEWSBRIEF_DB=tmp_path / "full.db"), chat=no_chat)
    try:
        store = app.store
        assert isinstance(store, SqliteStore)
        pages = await store.db.fetchval("PRAGMA page_count")
        await store.db.conn.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StoreUnavailable):
            await app.ingest.poll_all()
    finally:
        await app.close()
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []

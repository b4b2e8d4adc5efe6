"""The Store port on SQLite (aiosqlite): WAL, forward migrations, FTS5 search."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bot.domain import (
    Article,
    Feed,
    NewArticle,
    PostedStory,
    QATurn,
    Reprint,
    Scope,
    Story,
    Subscription,
    ThreadContext,
    ThreadKind,
)
from bot.services.ports import (
    ClaimTally,
    DayClaims,
    LlmCall,
    LlmStats,
    MatchMode,
    SearchHit,
    StoredPrint,
)
from bot.services.story_index import Fingerprint, print_from_record, print_record
from bot.store.migrations import MIGRATIONS, SCHEMA_VERSION
from bot.timeutil import from_db, from_db_optional, to_db, utcnow

log = logging.getLogger(__name__)

_FTS_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)

# The feeds a scope sees: the operator's defaults plus its own subscriptions.
_SCOPE_FEEDS = """
    SELECT id FROM feeds WHERE is_default = 1
    UNION
    SELECT feed_id FROM workspace_feeds WHERE platform = ? AND workspace = ?
"""
_ARTICLE_COLUMNS = (
    "a.id, a.guid, a.url, a.canonical_url, a.title, a.source, a.published_at, a.fetched_at, "
    "a.text, a.is_full_text, a.content_hash, a.story_id"
)
# A URL stored as an article's or as a reprint's.
_KNOWN_URL = (
    "SELECT id FROM articles WHERE canonical_url = ? "
    "UNION ALL SELECT article_id FROM reprints WHERE canonical_url = ? LIMIT 1"
)


class SchemaTooNewError(RuntimeError):
    pass


def fts_query(words: Sequence[str], mode: MatchMode) -> str | None:
    """User words -> a safe FTS5 expression: every token quoted, no operators leak in."""
    tokens = [t for w in words for t in _FTS_TOKEN.findall(w.lower())]
    if not tokens:
        return None
    joiner = " AND " if mode == "all" else " OR "
    return joiner.join(f'"{t}"' for t in dict.fromkeys(tokens))


class SqliteStore:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str) -> SqliteStore:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        try:
            conn.row_factory = aiosqlite.Row
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA busy_timeout=5000")
            await conn.execute("PRAGMA synchronous=NORMAL")
            store = cls(conn)
            await store._migrate()
        except BaseException:
            await conn.close()  # its worker thread would otherwise keep the process alive
            raise
        return store

    async def close(self) -> None:
        await self._conn.close()

    async def schema_version(self) -> int:
        async with self._conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        current = await self.schema_version()
        if current > SCHEMA_VERSION:
            raise SchemaTooNewError(
                f"the database is at schema {current}, newer than this build's "
                f"{SCHEMA_VERSION}: upgrade newsbrief or point NEWSBRIEF_DB elsewhere"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            log.info("migrating database to schema %d", version)
            async with self._transaction() as conn:
                for statement in _statements(MIGRATIONS[version - 1]):
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version = {version}")

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._write_lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            else:
                await self._conn.execute("COMMIT")

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        async with self._conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Row | None:
        async with self._conn.execute(sql, params) as cur:
            return await cur.fetchone()

    # --- feeds ---------------------------------------------------------------------

    async def sync_default_feeds(self, urls: Sequence[str]) -> list[Feed]:
        now = to_db(utcnow())
        async with self._transaction() as conn:
            await conn.execute("UPDATE feeds SET is_default = 0 WHERE is_default = 1")
            for url in urls:
                await conn.execute(
                    "INSERT INTO feeds (url, is_default, created_at) VALUES (?, 1, ?) "
                    "ON CONFLICT(url) DO UPDATE SET is_default = 1",
                    (url, now),
                )
        rows = await self._fetchall("SELECT * FROM feeds WHERE is_default = 1 ORDER BY id")
        return [_feed(r) for r in rows]

    async def add_feed(self, url: str) -> Feed:
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO feeds (url, created_at) VALUES (?, ?) ON CONFLICT(url) DO NOTHING",
                (url, to_db(utcnow())),
            )
        feed = await self.get_feed(url)
        assert feed is not None
        return feed

    async def get_feed(self, url: str) -> Feed | None:
        row = await self._fetchone("SELECT * FROM feeds WHERE url = ?", (url,))
        return _feed(row) if row else None

    async def polled_feeds(self) -> list[Feed]:
        """Feeds someone reads: fetched once each, however many channels follow them."""
        rows = await self._fetchall(
            "SELECT * FROM feeds WHERE is_default = 1 "
            "OR id IN (SELECT feed_id FROM workspace_feeds) ORDER BY id"
        )
        return [_feed(r) for r in rows]

    async def feeds_for_scope(self, scope: Scope) -> list[Feed]:
        rows = await self._fetchall(
            f"SELECT * FROM feeds WHERE id IN ({_SCOPE_FEEDS}) ORDER BY is_default DESC, id",
            (scope.platform, scope.workspace),
        )
        return [_feed(r) for r in rows]

    async def subscribe_feed(
        self, scope: Scope, feed: Feed, *, channel: str, added_by: str | None
    ) -> bool:
        async with self._transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO workspace_feeds (platform, workspace, feed_id, channel, added_by, "
                "added_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (scope.platform, scope.workspace, feed.id, channel, added_by, to_db(utcnow())),
            )
            return cur.rowcount > 0

    async def unsubscribe_feed(self, scope: Scope, feed: Feed) -> bool:
        async with self._transaction() as conn:
            cur = await conn.execute(
                "DELETE FROM workspace_feeds WHERE platform = ? AND workspace = ? AND feed_id = ?",
                (scope.platform, scope.workspace, feed.id),
            )
            return cur.rowcount > 0

    async def record_fetch_success(
        self,
        feed: Feed,
        *,
        at: datetime,
        next_poll_at: datetime,
        etag: str | None,
        last_modified: str | None,
        title: str | None,
    ) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE feeds SET etag = ?, last_modified = ?, title = COALESCE(?, title), "
                "next_poll_at = ?, consecutive_failures = 0, last_error = NULL, blocked_by = NULL, "
                "last_success_at = ?, last_attempt_at = ? WHERE id = ?",
                (etag, last_modified, title, to_db(next_poll_at), to_db(at), to_db(at), feed.id),
            )

    async def record_fetch_failure(
        self,
        feed: Feed,
        *,
        at: datetime,
        next_poll_at: datetime,
        error: str,
        blocked_by: str | None = None,
    ) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE feeds SET consecutive_failures = consecutive_failures + 1, "
                "last_error = ?, next_poll_at = ?, last_attempt_at = ?, blocked_by = ? "
                "WHERE id = ?",
                (error[:500], to_db(next_poll_at), to_db(at), blocked_by, feed.id),
            )

    # --- articles --------------------------------------------------------------------

    async def known_article(self, feed: Feed, guid: str | None, canonical_url: str) -> bool:
        """Whether an entry is stored already, by its guid in this feed or its URL."""
        if guid:
            row = await self._fetchone(
                "SELECT 1 FROM article_feeds WHERE feed_id = ? AND guid = ?", (feed.id, guid)
            )
            if row is not None:
                return True
        row = await self._fetchone(_KNOWN_URL, (canonical_url, canonical_url))
        return row is not None

    async def _stored_copy(
        self, conn: aiosqlite.Connection, feed: Feed, article: NewArticle
    ) -> int | None:
        """The article an entry is a copy of (same guid in this feed, URL, a reprint's URL
        or the same text), linked to `feed` so every workspace reading it sees it."""
        existing = None
        if article.guid:
            async with conn.execute(
                "SELECT article_id FROM article_feeds WHERE feed_id = ? AND guid = ?",
                (feed.id, article.guid),
            ) as cur:
                existing = await cur.fetchone()
        if existing is None:
            async with conn.execute(
                _KNOWN_URL, (article.canonical_url, article.canonical_url)
            ) as cur:
                existing = await cur.fetchone()
        if existing is None:
            async with conn.execute(
                "SELECT id FROM articles WHERE content_hash = ?", (article.content_hash,)
            ) as cur:
                existing = await cur.fetchone()
        if existing is None:
            return None
        await conn.execute(
            "INSERT INTO article_feeds (article_id, feed_id, guid) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (existing[0], feed.id, article.guid),
        )
        return int(existing[0])

    async def add_article(
        self,
        feed: Feed,
        article: NewArticle,
        *,
        story_id: int | None = None,
        print_: Fingerprint | None = None,
    ) -> int | None:
        async with self._transaction() as conn:
            if await self._stored_copy(conn, feed, article) is not None:
                return None
            published = to_db(article.published_at)
            if story_id is not None:
                cur = await conn.execute(
                    "UPDATE stories SET version = version + 1, last_seen = max(last_seen, ?) "
                    "WHERE id = ?",
                    (published, story_id),
                )
                if cur.rowcount == 0:
                    story_id = None  # gone: the article starts a story of its own
            cur = await conn.execute(
                "INSERT INTO articles (guid, url, canonical_url, title, source, published_at, "
                "fetched_at, text, is_full_text, content_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    article.guid,
                    article.url,
                    article.canonical_url,
                    article.title,
                    article.source,
                    to_db(article.published_at),
                    to_db(article.fetched_at),
                    article.text,
                    int(article.is_full_text),
                    article.content_hash,
                ),
            )
            article_id = cur.lastrowid
            assert article_id is not None
            if story_id is None:
                story_id = article_id
                await conn.execute(
                    "INSERT INTO stories (id, first_seen, last_seen) VALUES (?, ?, ?)",
                    (story_id, published, published),
                )
            await conn.execute(
                "UPDATE articles SET story_id = ? WHERE id = ?", (story_id, article_id)
            )
            await conn.execute(
                "INSERT INTO article_feeds (article_id, feed_id, guid) VALUES (?, ?, ?)",
                (article_id, feed.id, article.guid),
            )
            if print_ is not None:
                data, shingles = print_record(print_)
                await conn.execute(
                    "INSERT INTO article_prints (article_id, data, shingles) VALUES (?, ?, ?)",
                    (article_id, data, shingles),
                )
            return article_id

    async def add_reprint(self, feed: Feed, article_id: int, reprint: NewArticle) -> bool:
        async with self._transaction() as conn:
            if await self._stored_copy(conn, feed, reprint) is not None:
                return False
            await conn.execute(
                "INSERT INTO reprints (article_id, canonical_url, url, source, published_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    article_id,
                    reprint.canonical_url,
                    reprint.url,
                    reprint.source,
                    to_db(reprint.published_at),
                ),
            )
            await conn.execute(
                "INSERT INTO article_feeds (article_id, feed_id, guid) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (article_id, feed.id, reprint.guid),
            )
            await conn.execute(
                "UPDATE stories SET last_seen = max(last_seen, ?) "
                "WHERE id = (SELECT story_id FROM articles WHERE id = ?)",
                (to_db(reprint.published_at), article_id),
            )
            return True

    async def _articles(self, rows: Sequence[aiosqlite.Row]) -> list[Article]:
        """Rows as articles, each with the reprints of it."""
        articles = [_article(r) for r in rows]
        if not articles:
            return articles
        ids = [a.id for a in articles]
        marks = ",".join("?" * len(ids))
        found: dict[int, list[Reprint]] = {}
        for row in await self._fetchall(
            f"SELECT article_id, source, url FROM reprints WHERE article_id IN ({marks}) "
            "ORDER BY published_at, source",
            ids,
        ):
            found.setdefault(row["article_id"], []).append(Reprint(row["source"], row["url"]))
        if not found:
            return articles
        return [replace(a, reprints=tuple(found.get(a.id, ()))) for a in articles]

    # --- stories -----------------------------------------------------------------------

    async def stories(self, scope: Scope, story_ids: Sequence[int]) -> list[Story]:
        if not story_ids:
            return []
        marks = ",".join("?" * len(story_ids))
        rows = await self._fetchall(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles a WHERE a.story_id IN ({marks}) "
            "AND EXISTS (SELECT 1 FROM article_feeds af WHERE af.article_id = a.id "
            f"AND af.feed_id IN ({_SCOPE_FEEDS})) ORDER BY a.published_at, a.id",
            (*story_ids, scope.platform, scope.workspace),
        )
        versions = {
            r["id"]: r["version"]
            for r in await self._fetchall(
                f"SELECT id, version FROM stories WHERE id IN ({marks})", list(story_ids)
            )
        }
        by_story: dict[int, list[Article]] = {}
        for article in await self._articles(rows):
            assert article.story_id is not None
            by_story.setdefault(article.story_id, []).append(article)
        return [
            Story(tuple(by_story[i]), id=i, version=versions.get(i, 1))
            for i in dict.fromkeys(story_ids)
            if i in by_story
        ]

    async def story_prints(self, since: datetime) -> list[StoredPrint]:
        rows = await self._fetchall(
            "SELECT a.id, a.story_id, a.published_at, p.data, p.shingles FROM article_prints p "
            "JOIN articles a ON a.id = p.article_id WHERE a.published_at >= ? "
            "ORDER BY a.published_at, a.id",
            (to_db(since),),
        )
        return [
            StoredPrint(
                story_id=r["story_id"],
                article_id=r["id"],
                published_at=from_db(r["published_at"]),
                print_=print_from_record(r["data"], r["shingles"]),
            )
            for r in rows
        ]

    async def story_versions(self, story_ids: Sequence[int]) -> dict[int, int]:
        if not story_ids:
            return {}
        marks = ",".join("?" * len(story_ids))
        rows = await self._fetchall(
            f"SELECT id, version FROM stories WHERE id IN ({marks})", list(story_ids)
        )
        return {r["id"]: r["version"] for r in rows}

    async def posted_stories(
        self, scope: Scope, channel: str, story_ids: Sequence[int]
    ) -> dict[int, PostedStory]:
        if not story_ids:
            return {}
        marks = ",".join("?" * len(story_ids))
        rows = await self._fetchall(
            "SELECT story_id, version, thread_key FROM story_posts WHERE platform = ? "
            f"AND workspace = ? AND channel = ? AND story_id IN ({marks})",
            (scope.platform, scope.workspace, channel, *story_ids),
        )
        return {
            r["story_id"]: PostedStory(r["story_id"], r["version"], r["thread_key"]) for r in rows
        }

    async def record_posted_stories(
        self, scope: Scope, channel: str, posted: Sequence[PostedStory]
    ) -> None:
        if not posted:
            return
        now = to_db(utcnow())
        async with self._transaction() as conn:
            await conn.executemany(
                "INSERT INTO story_posts (platform, workspace, channel, story_id, version, "
                "thread_key, posted_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (platform, workspace, channel, story_id) DO UPDATE SET "
                "version = max(version, excluded.version), thread_key = excluded.thread_key, "
                "posted_at = excluded.posted_at",
                [
                    (
                        scope.platform,
                        scope.workspace,
                        channel,
                        p.story_id,
                        p.version,
                        p.thread_key,
                        now,
                    )
                    for p in posted
                ],
            )

    async def forget_prints(self, before: datetime) -> int:
        async with self._transaction() as conn:
            cur = await conn.execute(
                "DELETE FROM article_prints WHERE article_id IN "
                "(SELECT id FROM articles WHERE published_at < ?)",
                (to_db(before),),
            )
            return cur.rowcount

    async def get_articles(self, ids: Sequence[int]) -> list[Article]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = await self._fetchall(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles a WHERE a.id IN ({marks})", list(ids)
        )
        by_id = {a.id: a for a in await self._articles(rows)}
        return [by_id[i] for i in ids if i in by_id]

    async def recent_articles(
        self, scope: Scope, *, since: datetime, limit: int, fetched_since: datetime | None = None
    ) -> list[Article]:
        rows = await self._fetchall(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles a WHERE a.published_at >= ? "
            "AND a.fetched_at >= ? AND EXISTS (SELECT 1 FROM article_feeds af "
            f"WHERE af.article_id = a.id AND af.feed_id IN ({_SCOPE_FEEDS})) "
            "ORDER BY a.published_at DESC, a.id DESC LIMIT ?",
            (
                to_db(since),
                to_db(fetched_since) if fetched_since else "",
                scope.platform,
                scope.workspace,
                limit,
            ),
        )
        return await self._articles(rows)

    async def search(
        self,
        scope: Scope,
        words: Sequence[str],
        *,
        mode: MatchMode,
        since: datetime | None,
        limit: int,
        fetched_since: datetime | None = None,
    ) -> list[SearchHit]:
        query = fts_query(words, mode)
        if query is None:
            return []
        # Title matches weigh more than body matches (bm25 column weights). Only ids and
        # ranks are sorted: sorting every match with its full text joined is what made a
        # common word slow. The top ones are read whole afterwards.
        rows = await self._fetchall(
            "SELECT a.id, bm25(articles_fts, 4.0, 1.0) AS rank "
            "FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid "
            "WHERE articles_fts MATCH ? AND a.published_at >= ? AND a.fetched_at >= ? "
            "AND EXISTS (SELECT 1 FROM article_feeds af WHERE af.article_id = a.id "
            f"AND af.feed_id IN ({_SCOPE_FEEDS})) ORDER BY rank LIMIT ?",
            (
                query,
                to_db(since) if since else "",
                to_db(fetched_since) if fetched_since else "",
                scope.platform,
                scope.workspace,
                limit,
            ),
        )
        articles = {a.id: a for a in await self.get_articles([r["id"] for r in rows])}
        return [
            SearchHit(article=articles[r["id"]], relevance=-float(r["rank"]))
            for r in rows
            if r["id"] in articles
        ]

    # --- subscriptions -----------------------------------------------------------------

    async def upsert_subscription(
        self,
        scope: Scope,
        channel: str,
        *,
        digest_time: str,
        timezone: str,
        topics: Sequence[str],
    ) -> Subscription:
        now = to_db(utcnow())
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO subscriptions (platform, workspace, channel, topics, digest_time, "
                "timezone, enabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?) "
                "ON CONFLICT(platform, workspace, channel) DO UPDATE SET topics = excluded.topics, "
                "digest_time = excluded.digest_time, timezone = excluded.timezone, enabled = 1, "
                "updated_at = excluded.updated_at",
                (
                    scope.platform,
                    scope.workspace,
                    channel,
                    json.dumps(list(topics)),
                    digest_time,
                    timezone,
                    now,
                    now,
                ),
            )
        sub = await self.get_subscription(scope, channel)
        assert sub is not None
        return sub

    async def get_subscription(self, scope: Scope, channel: str) -> Subscription | None:
        row = await self._fetchone(
            "SELECT * FROM subscriptions WHERE platform = ? AND workspace = ? AND channel = ?",
            (scope.platform, scope.workspace, channel),
        )
        return _subscription(row) if row else None

    async def disable_subscription(self, scope: Scope, channel: str) -> bool:
        async with self._transaction() as conn:
            cur = await conn.execute(
                "UPDATE subscriptions SET enabled = 0, updated_at = ? "
                "WHERE platform = ? AND workspace = ? AND channel = ? AND enabled = 1",
                (to_db(utcnow()), scope.platform, scope.workspace, channel),
            )
            return cur.rowcount > 0

    async def list_subscriptions(self) -> list[Subscription]:
        rows = await self._fetchall("SELECT * FROM subscriptions WHERE enabled = 1 ORDER BY id")
        return [_subscription(r) for r in rows]

    async def mark_digest_sent(self, subscription_id: int, at: datetime) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE subscriptions SET last_digest_at = ? WHERE id = ?",
                (to_db(at), subscription_id),
            )

    # --- deliveries ----------------------------------------------------------------------

    async def claim_delivery(self, key: str, scope: Scope, channel: str) -> bool:
        """Reserve a post; False if it was already made or is being made."""
        now = to_db(utcnow())
        async with self._transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO deliveries (key, platform, workspace, channel, status, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT(key) DO NOTHING",
                (key, scope.platform, scope.workspace, channel, now, now),
            )
            return cur.rowcount > 0

    async def complete_delivery(self, key: str, message_ref: str | None) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE deliveries SET status = 'posted', message_ref = ?, updated_at = ? "
                "WHERE key = ?",
                (message_ref, to_db(utcnow()), key),
            )

    async def release_delivery(self, key: str) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "DELETE FROM deliveries WHERE key = ? AND status = 'pending'", (key,)
            )

    # --- threads -----------------------------------------------------------------------------

    async def save_thread(
        self,
        scope: Scope,
        channel: str,
        thread_key: str,
        kind: ThreadKind,
        article_ids: Sequence[int],
    ) -> ThreadContext:
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO threads (platform, workspace, channel, thread_key, kind, article_ids, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(platform, workspace, channel, thread_key) DO UPDATE SET "
                "kind = excluded.kind, article_ids = excluded.article_ids",
                (
                    scope.platform,
                    scope.workspace,
                    channel,
                    thread_key,
                    kind.value,
                    json.dumps(list(article_ids)),
                    to_db(utcnow()),
                ),
            )
        thread = await self.get_thread(scope, channel, thread_key)
        assert thread is not None
        return thread

    async def get_thread(self, scope: Scope, channel: str, thread_key: str) -> ThreadContext | None:
        row = await self._fetchone(
            "SELECT * FROM threads WHERE platform = ? AND workspace = ? AND channel = ? "
            "AND thread_key = ?",
            (scope.platform, scope.workspace, channel, thread_key),
        )
        if row is None:
            return None
        return ThreadContext(
            id=row["id"],
            scope=Scope(row["platform"], row["workspace"]),
            channel=row["channel"],
            thread_key=row["thread_key"],
            kind=ThreadKind(row["kind"]),
            article_ids=tuple(json.loads(row["article_ids"])),
            created_at=from_db(row["created_at"]),
        )

    async def add_turn(
        self, thread: ThreadContext, question: str, answer: str, article_ids: Sequence[int]
    ) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO qa_turns (thread_id, question, answer, article_ids, asked_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (thread.id, question, answer, json.dumps(list(article_ids)), to_db(utcnow())),
            )

    async def recent_turns(self, thread: ThreadContext, limit: int) -> list[QATurn]:
        rows = await self._fetchall(
            "SELECT question, answer, asked_at FROM qa_turns WHERE thread_id = ? "
            "ORDER BY id DESC LIMIT ?",
            (thread.id, limit),
        )
        return [QATurn(r["question"], r["answer"], from_db(r["asked_at"])) for r in reversed(rows)]

    # --- model output cache and call ledger ----------------------------------------------

    async def cached_output(self, key: str) -> str | None:
        row = await self._fetchone("SELECT output FROM llm_cache WHERE key = ?", (key,))
        return str(row[0]) if row else None

    async def cache_output(
        self, key: str, *, kind: str, model: str, prompt_version: str, output: str
    ) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO llm_cache (key, kind, model, prompt_version, output, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET output = excluded.output",
                (key, kind, model, prompt_version, output, to_db(utcnow())),
            )

    async def record_call(self, call: LlmCall, at: datetime) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO llm_calls (at, kind, model, prompt_version, status, tokens_in, "
                "tokens_out, latency_ms, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    to_db(at),
                    call.kind,
                    call.model,
                    call.prompt_version,
                    call.status,
                    call.tokens_in,
                    call.tokens_out,
                    call.latency_ms,
                    (call.error or "")[:500] or None,
                ),
            )

    async def tokens_used_since(self, since: datetime) -> int:
        row = await self._fetchone(
            "SELECT COALESCE(SUM(tokens_in + tokens_out), 0) FROM llm_calls WHERE at >= ?",
            (to_db(since),),
        )
        return int(row[0]) if row else 0

    async def llm_stats(self, since: datetime | None) -> LlmStats:
        start = to_db(since) if since else ""
        row = await self._fetchone(
            "SELECT COUNT(*) FILTER (WHERE status IN ('ok', 'error')), "
            "COUNT(*) FILTER (WHERE status = 'ok'), "
            "COUNT(*) FILTER (WHERE status = 'error'), "
            "COUNT(*) FILTER (WHERE status = 'invalid'), "
            "COUNT(*) FILTER (WHERE status = 'fallback'), "
            "COUNT(*) FILTER (WHERE status = 'cache-hit'), "
            "COALESCE(SUM(tokens_in), 0), COALESCE(SUM(tokens_out), 0) "
            "FROM llm_calls WHERE at >= ?",
            (start,),
        )
        assert row is not None
        reasons = await self._fetchall(
            "SELECT error, COUNT(*) AS n FROM llm_calls WHERE status = 'fallback' AND at >= ? "
            "GROUP BY error ORDER BY n DESC, error LIMIT 5",
            (start,),
        )
        requests, ok, errors, invalid, fallbacks, hits, tokens_in, tokens_out = (
            int(v) for v in row
        )
        return LlmStats(
            requests,
            ok,
            errors,
            invalid,
            fallbacks,
            hits,
            tokens_in,
            tokens_out,
            fallback_reasons=tuple((str(r["error"]), int(r["n"])) for r in reasons),
        )

    # --- claim checks ------------------------------------------------------------------

    async def record_claims(self, tally: ClaimTally, at: datetime) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO claim_checks (at, kind, checked, recited, dropped, fallbacks) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    to_db(at),
                    tally.kind,
                    tally.checked,
                    tally.recited,
                    tally.dropped,
                    tally.fallbacks,
                ),
            )

    async def claims_by_day(self, since: datetime | None) -> list[DayClaims]:
        rows = await self._fetchall(
            "SELECT substr(at, 1, 10) AS day, SUM(checked) AS checked, SUM(recited) AS recited, "
            "SUM(dropped) AS dropped, SUM(fallbacks) AS fallbacks FROM claim_checks "
            "WHERE at >= ? GROUP BY day ORDER BY day",
            (to_db(since) if since else "",),
        )
        return [
            DayClaims(
                date.fromisoformat(r["day"]),
                int(r["checked"]),
                int(r["recited"]),
                int(r["dropped"]),
                int(r["fallbacks"]),
            )
            for r in rows
        ]


def _statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines():
        if line.strip().startswith("--") and not buffer.strip():
            continue
        buffer += line + "\n"
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def _feed(row: aiosqlite.Row) -> Feed:
    return Feed(
        id=row["id"],
        url=row["url"],
        title=row["title"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        next_poll_at=from_db_optional(row["next_poll_at"]),
        consecutive_failures=row["consecutive_failures"],
        last_error=row["last_error"],
        last_success_at=from_db_optional(row["last_success_at"]),
        last_attempt_at=from_db_optional(row["last_attempt_at"]),
        is_default=bool(row["is_default"]),
        blocked_by=row["blocked_by"],
    )


def _article(row: aiosqlite.Row) -> Article:
    return Article(
        id=row["id"],
        guid=row["guid"],
        url=row["url"],
        canonical_url=row["canonical_url"],
        title=row["title"],
        source=row["source"],
        published_at=from_db(row["published_at"]),
        fetched_at=from_db(row["fetched_at"]),
        text=row["text"],
        is_full_text=bool(row["is_full_text"]),
        content_hash=row["content_hash"],
        story_id=row["story_id"],
    )


def _subscription(row: aiosqlite.Row) -> Subscription:
    return Subscription(
        id=row["id"],
        scope=Scope(row["platform"], row["workspace"]),
        channel=row["channel"],
        topics=tuple(json.loads(row["topics"])),
        digest_time=row["digest_time"],
        timezone=row["timezone"],
        last_digest_at=from_db_optional(row["last_digest_at"]),
        enabled=bool(row["enabled"]),
    )

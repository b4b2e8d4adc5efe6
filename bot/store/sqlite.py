"""The Store port on SQLite (aiosqlite): WAL, forward migrations, FTS5 search."""

from __future__ import annotations

import asyncio
import itertools
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
    Delivery,
    LlmCall,
    LlmStats,
    MatchMode,
    OutboxCounts,
    OutboxPart,
    PlacedArticle,
    SearchHit,
    SentPart,
    StoredPrint,
    StoreHealth,
)
from bot.services.story_index import print_from_record
from bot.store.batch import Batch, BatchWriter, Outcome, check_batch_ids
from bot.store.codec import health_from_row, shows_from_json, shows_to_json
from bot.store.migrations import MIGRATIONS, SCHEMA_VERSION
from bot.timeutil import from_db, from_db_optional, to_db, utcnow

log = logging.getLogger(__name__)

_FTS_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)

# A feed `f` the scope sees: one of the operator's defaults or one of its own
# subscriptions. Takes two parameters: platform, workspace.
_FEED_IN_SCOPE = (
    "(f.is_default = 1 OR EXISTS (SELECT 1 FROM workspace_feeds w "
    "WHERE w.feed_id = f.id AND w.platform = ? AND w.workspace = ?))"
)
# An article `a` the scope sees: carried by a feed it sees. Probed per article through
# article_feeds' primary key, instead of listing the scope's feeds for every article.
_ARTICLE_IN_SCOPE = (
    "EXISTS (SELECT 1 FROM article_feeds af JOIN feeds f ON f.id = af.feed_id "
    f"WHERE af.article_id = a.id AND {_FEED_IN_SCOPE})"
)
# Matches ranked before the window and scope are applied (see `search`).
_RANKED_FIRST = 400
# A query with more matches than this is common: bm25 costs time for every match it
# ranks (some 50 ms for a word in 67,000 of 100,000 articles, 17 ms for 22,000), so
# only the newest of its matches the window and scope allow are ranked, this many at
# least (see `search`).
_COMMON_MATCHES = 25_000
_NEWEST_RANKED = 4_000
# A match's rank: title matches weigh more than body matches (bm25 column weights).
_RANK = "bm25(articles_fts, 4.0, 1.0)"
# An article `a` a search may return: in its window (since, fetched since) and its scope
# (platform, workspace), the four parameters in that order.
_IN_WINDOW_AND_SCOPE = f"a.published_at >= ? AND a.fetched_at >= ? AND {_ARTICLE_IN_SCOPE}"
_ARTICLE_COLUMNS = (
    "a.id, a.guid, a.url, a.canonical_url, a.title, a.source, a.published_at, a.fetched_at, "
    "a.text, a.is_full_text, a.content_hash, a.story_id"
)


# Lists are passed as one JSON parameter each: one statement text whatever their length,
# and no limit on the number of SQL variables.
def _in_json(name: str) -> str:
    return f"IN (SELECT value FROM json_each(:{name}))"


# Entries stored already: by guid in this feed (g), by URL as an article's (u) or as a
# reprint's (r).
_KNOWN_ENTRIES = (
    "SELECT 'g' AS kind, guid AS key, article_id AS id FROM article_feeds "
    f"WHERE feed_id = :feed AND guid {_in_json('guids')} "
    "UNION ALL SELECT 'u', canonical_url, id FROM articles "
    f"WHERE canonical_url {_in_json('urls')} "
    "UNION ALL SELECT 'r', canonical_url, article_id FROM reprints "
    f"WHERE canonical_url {_in_json('urls')}"
)


def _linked(article: str) -> str:
    """Whether the batch's feed carries the article already."""
    return (
        f"EXISTS (SELECT 1 FROM article_feeds l WHERE l.article_id = {article} "
        "AND l.feed_id = :feed)"
    )


def _story_of(article: str) -> str:
    """The article's story, if that story exists."""
    return (
        f"(SELECT s.id FROM articles x JOIN stories s ON s.id = x.story_id WHERE x.id = {article})"
    )


# All a batch of new entries needs to know, in one statement: the stored articles they
# may copy (as _KNOWN_ENTRIES, plus by text: h), the articles reprinted (a), the stories
# joined (s), and the highest article id (m). For each article: whether `feed` carries
# it already, and its story.
_BATCH_LOOKUP = (
    f"SELECT 'g' AS kind, af.guid AS key, af.article_id AS id, 1 AS linked, "
    f"{_story_of('af.article_id')} AS story FROM article_feeds af "
    f"WHERE af.feed_id = :feed AND af.guid {_in_json('guids')} "
    f"UNION ALL SELECT 'u', a.canonical_url, a.id, {_linked('a.id')}, {_story_of('a.id')} "
    f"FROM articles a WHERE a.canonical_url {_in_json('urls')} "
    f"UNION ALL SELECT 'r', r.canonical_url, r.article_id, {_linked('r.article_id')}, "
    f"{_story_of('r.article_id')} FROM reprints r WHERE r.canonical_url {_in_json('urls')} "
    f"UNION ALL SELECT 'h', a.content_hash, a.id, {_linked('a.id')}, {_story_of('a.id')} "
    f"FROM articles a WHERE a.content_hash {_in_json('hashes')} "
    f"UNION ALL SELECT 'a', NULL, a.id, {_linked('a.id')}, {_story_of('a.id')} "
    f"FROM articles a WHERE a.id {_in_json('articles')} "
    f"UNION ALL SELECT 's', NULL, s.id, 0, s.id FROM stories s WHERE s.id {_in_json('stories')} "
    "UNION ALL SELECT 'm', NULL, coalesce(max(id), 0), 0, NULL FROM articles"
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


# The writing connection copies its log into the database itself only past this many
# pages (32 MB of 4 KB pages): a backstop, should the checkpointer below fall behind.
_BACKSTOP_CHECKPOINT_PAGES = 8000
CHECKPOINT_EVERY_SECONDS = 0.5


class _Checkpointer:
    """Copies the write-ahead log into the database from a connection of its own.

    Left to the writing connection, the copy (and its fsync) runs inside whichever
    commit crosses 1,000 pages of log: 200-400 ms, at times over a second, during which
    every query of the bot (a /brief, a thread answer) waits in the queue behind it. A
    passive checkpoint on another connection runs beside the writer and blocks nobody.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._opening: asyncio.Task[aiosqlite.Connection] | None = None
        self._task: asyncio.Task[None] | None = None
        self._written = False  # committed since the last checkpoint began

    def wrote(self) -> None:
        """Note a commit; a checkpoint follows within CHECKPOINT_EVERY_SECONDS."""
        self._written = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._checkpoint_while_written())

    async def _checkpoint_while_written(self) -> None:
        while self._written:  # a commit during a checkpoint asks for another
            self._written = False
            await asyncio.sleep(CHECKPOINT_EVERY_SECONDS)
            try:
                conn = await self._connection()
                await conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:  # the writer's own checkpoint is the backstop
                log.warning("checkpointing the database log failed: %s", exc)

    async def _connection(self) -> aiosqlite.Connection:
        """Its connection, opened at the first checkpoint. The opening is shielded from
        the checkpoint's cancellation: a close meanwhile waits for it and closes what it
        opened, instead of leaving its thread to finish after the event loop is gone."""
        if self._opening is None:
            self._opening = asyncio.create_task(self._open())
        try:
            return await asyncio.shield(self._opening)
        except sqlite3.Error:
            self._opening = None  # tried again at the next checkpoint
            raise

    async def _open(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self._path, isolation_level=None)
        try:
            await conn.execute("PRAGMA busy_timeout=5000")
        except BaseException:
            await conn.close()
            raise
        return conn

    async def settled(self) -> None:
        """Wait for the checkpoint a commit asked for, if one is pending."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        opening, self._opening = self._opening, None
        if opening is not None:
            (conn,) = await asyncio.gather(opening, return_exceptions=True)
            if isinstance(conn, aiosqlite.Connection):
                await conn.close()


class SqliteStore(BatchWriter):
    embedded = True  # one bot process per database file

    def __init__(
        self, conn: aiosqlite.Connection, checkpointer: _Checkpointer | None = None
    ) -> None:
        self._conn = conn
        self._write_lock = asyncio.Lock()
        self._checkpointer = checkpointer

    @classmethod
    async def open(cls, path: Path | str) -> SqliteStore:
        on_disk = str(path) != ":memory:"
        if on_disk:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        store: SqliteStore | None = None
        try:
            conn.row_factory = aiosqlite.Row
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA busy_timeout=5000")
            await conn.execute("PRAGMA synchronous=NORMAL")
            if on_disk:
                await conn.execute(f"PRAGMA wal_autocheckpoint={_BACKSTOP_CHECKPOINT_PAGES}")
            store = cls(conn, _Checkpointer(str(path)) if on_disk else None)
            await store._migrate()
        except BaseException:
            # Its worker thread (the checkpointer's too) would otherwise keep the process alive.
            if store is not None:
                await store.close()
            else:
                await conn.close()
            raise
        return store

    async def close(self) -> None:
        if self._checkpointer is not None:
            await self._checkpointer.close()
        await self._conn.close()

    async def log_checkpointed(self) -> None:
        """Wait until the log written so far has been copied into the database."""
        if self._checkpointer is not None:
            await self._checkpointer.settled()

    def _committed(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.wrote()

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
                self._committed()

    async def _write(self, sql: str, params: Sequence[Any] = ()) -> None:
        """One statement, atomic on its own (autocommit): one round trip instead of a
        transaction's three. The write lock keeps it out of another's open transaction."""
        async with self._write_lock:
            await self._conn.execute(sql, params)
        self._committed()

    async def _fetchall(
        self, sql: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> list[aiosqlite.Row]:
        """One hop to SQLite's thread (a cursor's fetch and close would be two more)."""
        return list(await self._conn.execute_fetchall(sql, params))

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Row | None:
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

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
            f"SELECT * FROM feeds f WHERE {_FEED_IN_SCOPE} ORDER BY is_default DESC, id",
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

    async def lease_feeds(
        self, due: Sequence[Feed], owner: str, *, now: datetime, until: datetime
    ) -> list[Feed]:
        if not due:
            return []
        seen = json.dumps([[f.id, to_db(f.next_poll_at) if f.next_poll_at else None] for f in due])
        async with self._transaction() as conn:
            rows = await conn.execute_fetchall(
                "UPDATE feeds SET lease_owner = ?, lease_until = ? WHERE id IN ("
                "SELECT f.id FROM feeds f JOIN json_each(?) j ON f.id = j.value ->> 0 "
                "WHERE f.next_poll_at IS j.value ->> 1 "
                "AND (f.lease_owner IS NULL OR f.lease_owner = ? OR f.lease_until < ?)) "
                "RETURNING id",
                (owner, to_db(until), seen, owner, to_db(now)),
            )
        leased = {int(r[0]) for r in rows}
        return [f for f in due if f.id in leased]

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
        await self._write(
            "UPDATE feeds SET etag = ?, last_modified = ?, title = COALESCE(?, title), "
            "next_poll_at = ?, consecutive_failures = 0, last_error = NULL, blocked_by = NULL, "
            "last_success_at = ?, last_attempt_at = ?, lease_owner = NULL, lease_until = NULL "
            "WHERE id = ?",
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
        await self._write(
            "UPDATE feeds SET consecutive_failures = consecutive_failures + 1, "
            "last_error = ?, next_poll_at = ?, last_attempt_at = ?, blocked_by = ?, "
            "lease_owner = NULL, lease_until = NULL WHERE id = ?",
            (error[:500], to_db(next_poll_at), to_db(at), blocked_by, feed.id),
        )

    # --- articles --------------------------------------------------------------------

    async def known_articles(
        self, feed: Feed, entries: Sequence[tuple[str | None, str]]
    ) -> list[int | None]:
        if not entries:
            return []
        rows = await self._fetchall(
            _KNOWN_ENTRIES,
            {
                "feed": feed.id,
                "guids": json.dumps(sorted({g for g, _ in entries if g})),
                "urls": json.dumps(sorted({u for _, u in entries})),
            },
        )
        by_guid = {r["key"]: int(r["id"]) for r in rows if r["kind"] == "g"}
        by_url: dict[str, int] = {}
        for row in sorted(rows, key=lambda r: r["kind"] != "u"):  # an article's URL first
            if row["kind"] != "g":
                by_url.setdefault(row["key"], int(row["id"]))
        return [(by_guid.get(guid) if guid else None) or by_url.get(url) for guid, url in entries]

    async def link_articles(self, feed: Feed, links: Sequence[tuple[int, str | None]]) -> None:
        if not links:
            return
        async with self._transaction() as conn:
            await conn.executemany(
                "INSERT INTO article_feeds (article_id, feed_id, guid) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                [(article_id, feed.id, guid) for article_id, guid in links],
            )

    async def _add_batch(self, feed: Feed, placed: Sequence[PlacedArticle]) -> list[Outcome]:
        """add_articles, saying what became of each entry. A constant number of hops to
        SQLite's thread however long the batch: one statement reads all that the entries'
        placing depends on, the placing is worked out here in order, then each table is
        written with one executemany."""
        if not placed:
            return []
        check_batch_ids(placed)
        params = {
            "feed": feed.id,
            "guids": json.dumps(sorted({p.article.guid for p in placed if p.article.guid})),
            "urls": json.dumps(sorted({p.article.canonical_url for p in placed})),
            "hashes": json.dumps(sorted({p.article.content_hash for p in placed})),
            "articles": json.dumps(
                sorted({p.reprint_of for p in placed if p.reprint_of and p.reprint_of > 0})
            ),
            "stories": json.dumps(
                sorted({p.story_id for p in placed if p.story_id and p.story_id > 0})
            ),
        }
        async with self._transaction() as conn:
            # Under BEGIN IMMEDIATE nobody else writes: what is read here stays true, and
            # the ids after the highest are free (articles.id has no AUTOINCREMENT, so
            # these are the ids SQLite would give).
            lookup = list(await conn.execute_fetchall(_BATCH_LOOKUP, params))
            highest = next((int(r["id"]) for r in lookup if r["kind"] == "m"), 0)
            batch = Batch(
                feed.id,
                [r for r in lookup if r["kind"] != "m"],
                ids=itertools.count(highest + 1),
                moment=to_db,
                flag=int,
            )
            outcomes = [batch.place(entry) for entry in placed]
            for sql, rows in _batch_writes(batch):
                if rows:
                    await conn.executemany(sql, rows)
        return outcomes

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
            f"AND {_ARTICLE_IN_SCOPE} ORDER BY a.published_at, a.id",
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

    async def story_prints(self, since: datetime, *, after_id: int = 0) -> list[StoredPrint]:
        if after_id:  # the newest few: walked by id (`+` keeps the date index out of it)
            rows = await self._fetchall(
                "SELECT a.id, a.story_id, a.published_at, p.data, p.shingles "
                "FROM articles a JOIN article_prints p ON p.article_id = a.id "
                "WHERE a.id > ? AND +a.published_at >= ? ORDER BY a.id",
                (after_id, to_db(since)),
            )
        else:
            rows = await self._fetchall(
                "SELECT a.id, a.story_id, a.published_at, p.data, p.shingles "
                "FROM article_prints p JOIN articles a ON a.id = p.article_id "
                "WHERE a.published_at >= ? ORDER BY a.published_at, a.id",
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

    @asynccontextmanager
    async def placing(self) -> AsyncIterator[None]:
        """One process per database file: its own lock (the story desk's) suffices."""
        yield

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
        async with self._transaction() as conn:
            await _record_posted(conn, scope, channel, posted, at=utcnow())

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
            f"SELECT {_ARTICLE_COLUMNS} FROM articles a WHERE {_IN_WINDOW_AND_SCOPE} "
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
        params = (
            to_db(since) if since else "",
            to_db(fetched_since) if fetched_since else "",
            scope.platform,
            scope.workspace,
        )
        # A query matching more than _COMMON_MATCHES articles ranks only its newest
        # matches the window and scope allow: a word in that many articles tells little
        # about which of them is on the topic (in over half of them bm25 floors its idf
        # near zero), and a brief or an answer is about the news. When no more pass than
        # are ranked (_NEWEST_RANKED, or ten times `limit`), it is the same as ranking all.
        if await self._matches_more_than(query, _COMMON_MATCHES):
            rows = await self._rank_newest(query, params, max(_NEWEST_RANKED, 10 * limit), limit)
        else:
            rows = await self._rank_all(query, params, limit)
        articles = {a.id: a for a in await self.get_articles([r["id"] for r in rows])}
        return [
            SearchHit(article=articles[r["id"]], relevance=-float(r["rank"]))
            for r in rows
            if r["id"] in articles
        ]

    async def _matches_more_than(self, query: str, count: int) -> bool:
        """Whether the FTS query has more than `count` matches; walks `count` at most."""
        row = await self._fetchone(
            "SELECT count(*) AS n FROM "
            "(SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? LIMIT ?)",
            (query, count + 1),
        )
        return row is not None and row["n"] > count

    async def _rank_all(
        self, query: str, params: tuple[str, str, str, str], limit: int
    ) -> list[aiosqlite.Row]:
        """The `limit` best matches in the window and scope (params), by rank."""
        # First the best matches by rank alone, then the window and scope on those: if
        # enough of them pass, they are exactly the full query's top (whatever passes
        # below them ranks lower). Ranking alone skips a join and two lookups per match,
        # which is most of the time for a word in thousands of articles.
        enough = max(_RANKED_FIRST, 10 * limit)
        ranked = await self._fetchall(
            f"SELECT rowid AS id, {_RANK} AS rank FROM articles_fts "
            "WHERE articles_fts MATCH ? ORDER BY rank LIMIT ?",
            (query, enough),
        )
        passing = {
            r["id"]
            for r in await self._fetchall(
                "SELECT a.id FROM articles a WHERE a.id IN (SELECT value FROM json_each(?)) "
                f"AND {_IN_WINDOW_AND_SCOPE}",
                (json.dumps([r["id"] for r in ranked]), *params),
            )
        }
        rows = [r for r in ranked if r["id"] in passing][:limit]
        if len(rows) < limit and len(ranked) == enough:  # too few passed: rank them all
            rows = await self._fetchall(
                f"SELECT a.id, {_RANK} AS rank "
                "FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid "
                f"WHERE articles_fts MATCH ? AND {_IN_WINDOW_AND_SCOPE} ORDER BY rank LIMIT ?",
                (query, *params, limit),
            )
        return rows

    async def _rank_newest(
        self, query: str, params: tuple[str, str, str, str], newest: int, limit: int
    ) -> list[aiosqlite.Row]:
        """The `limit` best, by rank, of the `newest` newest matches in the window and
        scope (params): the same as `_rank_all` when no more than `newest` pass."""
        # Matches are walked newest first (article ids grow as articles are stored; FTS5
        # reads a match list backwards by rowid without sorting), the window and scope
        # checked on each, and bm25 computed only for the `newest` that pass. The window
        # is applied during the walk, not after it, so a narrow scope or an old backlog
        # among the newest matches walks further back instead of finding too few. The
        # CROSS JOIN keeps the match list the outer loop, in its rowid order.
        return await self._fetchall(
            f"SELECT id, rank FROM (SELECT a.id AS id, {_RANK} AS rank "
            "FROM articles_fts CROSS JOIN articles a ON a.id = articles_fts.rowid "
            f"WHERE articles_fts MATCH ? AND {_IN_WINDOW_AND_SCOPE} "
            "ORDER BY articles_fts.rowid DESC LIMIT ?) "
            "ORDER BY rank LIMIT ?",
            (query, *params, newest, limit),
        )

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

    async def health(self, *, now: datetime, overdue_before: datetime) -> StoreHealth:
        at, overdue = to_db(now), to_db(overdue_before)
        row = await self._fetchone(
            "SELECT (SELECT count(*) FROM feeds WHERE is_default = 1 OR id IN "
            "(SELECT feed_id FROM workspace_feeds)) AS feeds, "
            "(SELECT count(*) FROM feeds WHERE (is_default = 1 OR id IN "
            "(SELECT feed_id FROM workspace_feeds)) AND next_poll_at < ?) AS overdue, "
            "(SELECT count(*) FROM feeds WHERE lease_until >= ?) AS feeds_leased, "
            "(SELECT count(*) FROM deliveries WHERE status = 'pending') AS pending, "
            "(SELECT count(*) FROM deliveries WHERE status = 'pending' AND lease_until >= ?) "
            "AS deliveries_leased",
            (overdue, at, at),
        )
        assert row is not None
        return health_from_row("sqlite", await self.schema_version(), row)

    async def claim_delivery(self, key: str, scope: Scope, channel: str) -> bool:
        """Claim an event's key for good; False if it was claimed before."""
        now = to_db(utcnow())
        async with self._transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO deliveries (key, platform, workspace, channel, status, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, 'claimed', ?, ?) ON CONFLICT(key) DO NOTHING",
                (key, scope.platform, scope.workspace, channel, now, now),
            )
            return cur.rowcount > 0

    # --- the outbox ------------------------------------------------------------------------

    async def enqueue(self, deliveries: Sequence[Delivery]) -> list[bool]:
        stored: list[bool] = []
        async with self._transaction() as conn:
            for d in deliveries:
                cur = await conn.execute(
                    "INSERT INTO deliveries (key, platform, workspace, channel, status, "
                    "created_at, updated_at, thread_key, shows, due_at, late_after) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING",
                    (
                        d.key,
                        d.scope.platform,
                        d.scope.workspace,
                        d.channel,
                        "pending" if d.parts else "posted",
                        to_db(d.created_at),
                        to_db(d.created_at),
                        d.thread_key,
                        shows_to_json(d.shows),
                        to_db(d.due_at) if d.due_at else None,
                        to_db(d.late_after) if d.late_after else None,
                    ),
                )
                stored.append(cur.rowcount > 0)
                if cur.rowcount:
                    await conn.executemany(
                        "INSERT INTO delivery_parts (delivery_key, idx, payload, state) "
                        "VALUES (?, ?, ?, 'pending')",
                        [(d.key, p.index, p.payload) for p in d.parts],
                    )
        return stored

    async def get_delivery(self, key: str) -> Delivery | None:
        rows = await self._fetchall(
            "SELECT d.*, p.idx, p.payload, p.state, p.sending_since, p.message_id, "
            "p.thread_key AS part_thread FROM deliveries d "
            "LEFT JOIN delivery_parts p ON p.delivery_key = d.key WHERE d.key = ? ORDER BY p.idx",
            (key,),
        )
        return _delivery(rows) if rows else None

    async def lease_delivery(
        self, key: str, owner: str, *, now: datetime, until: datetime
    ) -> Delivery | None:
        async with self._transaction() as conn:
            cur = await conn.execute(
                "UPDATE deliveries SET lease_owner = ?, lease_until = ?, updated_at = ? "
                "WHERE key = ? AND status = 'pending' AND (lease_owner IS NULL "
                "OR lease_owner = ? OR lease_until < ?)",
                (owner, to_db(until), to_db(now), key, owner, to_db(now)),
            )
            if not cur.rowcount:
                return None
        return await self.get_delivery(key)

    async def due_deliveries(self, now: datetime) -> list[str]:
        at = to_db(now)
        rows = await self._fetchall(
            "SELECT key FROM deliveries WHERE status = 'pending' "
            "AND (retry_at IS NULL OR retry_at <= ?) "
            "AND (lease_owner IS NULL OR lease_until < ?) ORDER BY created_at",
            (at, at),
        )
        return [str(r["key"]) for r in rows]

    async def mark_part_sending(
        self, key: str, index: int, owner: str, *, at: datetime, lease_until: datetime
    ) -> bool:
        async with self._transaction() as conn:
            if not await _holds(conn, key, owner, lease_until=lease_until):
                return False
            await conn.execute(
                "UPDATE delivery_parts SET state = 'sending', "
                "sending_since = coalesce(sending_since, ?) WHERE delivery_key = ? AND idx = ?",
                (to_db(at), key, index),
            )
        return True

    async def mark_part_sent(
        self, key: str, index: int, owner: str, sent: SentPart, *, at: datetime
    ) -> bool:
        delivery = await self.get_delivery(key)
        if delivery is None:
            return False
        async with self._transaction() as conn:
            if not await _holds(conn, key, owner):
                return False
            await conn.execute(
                "UPDATE delivery_parts SET state = 'sent', message_id = ?, thread_key = ?, "
                "sent_at = ? WHERE delivery_key = ? AND idx = ?",
                (sent.message_id, sent.thread_key, to_db(at), key, index),
            )
            thread = delivery.thread_opened(index, sent)
            if thread is not None and delivery.shows is not None:
                shows = delivery.shows
                await _save_thread(
                    conn,
                    delivery.scope,
                    delivery.channel,
                    thread,
                    shows.kind,
                    shows.article_ids,
                    at=at,
                )
            posted = delivery.stories_posted(index, sent)
            if posted:
                await _record_posted(conn, delivery.scope, delivery.channel, posted, at=at)
            if all(p.state == "sent" or p.index == index for p in delivery.parts):
                first = next((p.message_id for p in delivery.parts if p.index == 0), None)
                await conn.execute(
                    "UPDATE deliveries SET status = 'posted', message_ref = ?, "
                    "lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE key = ?",
                    (first or sent.message_id, to_db(at), key),
                )
        return True

    async def release_delivery(
        self, key: str, owner: str, *, retry_at: datetime | None = None, error: str | None = None
    ) -> None:
        await self._write(
            "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL, retry_at = ?, "
            "attempts = attempts + ?, error = coalesce(?, error), updated_at = ? "
            "WHERE key = ? AND lease_owner = ?",
            (
                to_db(retry_at) if retry_at else None,
                1 if error else 0,
                error,
                to_db(utcnow()),
                key,
                owner,
            ),
        )

    async def mark_late_reported(self, key: str) -> None:
        await self._write("UPDATE deliveries SET late_reported = 1 WHERE key = ?", (key,))

    async def abandon_delivery(self, key: str, owner: str, *, error: str) -> None:
        await self._write(
            "UPDATE deliveries SET status = 'abandoned', error = ?, lease_owner = NULL, "
            "lease_until = NULL, updated_at = ? WHERE key = ? AND status = 'pending' "
            "AND (lease_owner IS NULL OR lease_owner = ?)",
            (error, to_db(utcnow()), key, owner),
        )

    async def release_all_leases(self) -> int:
        async with self._transaction() as conn:
            cur = await conn.execute(
                "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL "
                "WHERE status = 'pending' AND lease_owner IS NOT NULL"
            )
            feeds = await conn.execute(
                "UPDATE feeds SET lease_owner = NULL, lease_until = NULL "
                "WHERE lease_owner IS NOT NULL"
            )
            return cur.rowcount + feeds.rowcount

    async def outbox_counts(self, now: datetime) -> OutboxCounts:
        row = await self._fetchone(
            "SELECT count(*) FILTER (WHERE status = 'pending') AS pending, "
            "count(*) FILTER (WHERE late_reported OR (status = 'pending' AND late_after < ?)) "
            "AS late, count(*) FILTER (WHERE status = 'abandoned') AS abandoned "
            "FROM deliveries WHERE status IN ('pending', 'posted', 'abandoned')",
            (to_db(now),),
        )
        assert row is not None
        return OutboxCounts(int(row["pending"]), int(row["late"]), int(row["abandoned"]))

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
            await _save_thread(conn, scope, channel, thread_key, kind, article_ids, at=utcnow())
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


def _batch_writes(batch: Batch[str]) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """Each table's rows, in an order the foreign keys accept."""
    return [
        (
            "INSERT INTO stories (id, first_seen, last_seen, version) VALUES (?, ?, ?, ?)",
            [(i, s.first_seen, s.last_seen, s.version) for i, s in batch.new_stories.items()],
        ),
        (
            "UPDATE stories SET version = version + ?, last_seen = max(last_seen, ?) WHERE id = ?",
            [(joined, seen, i) for i, (joined, seen) in batch.bumps.items()],
        ),
        (
            "INSERT INTO articles (id, guid, url, canonical_url, title, source, "
            "published_at, fetched_at, text, is_full_text, content_hash, story_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            batch.article_rows,
        ),
        (
            "INSERT INTO reprints (article_id, canonical_url, url, source, published_at) "
            "VALUES (?, ?, ?, ?, ?)",
            batch.reprint_rows,
        ),
        (
            "INSERT INTO article_feeds (article_id, feed_id, guid) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            batch.link_rows,
        ),
        (
            "INSERT INTO article_prints (article_id, data, shingles) VALUES (?, ?, ?)",
            batch.print_rows,
        ),
    ]


# --- the outbox's rows -----------------------------------------------------------------


async def _holds(
    conn: aiosqlite.Connection, key: str, owner: str, *, lease_until: datetime | None = None
) -> bool:
    """Whether `owner` still holds the delivery's lease (extending it to `lease_until`)."""
    cur = await conn.execute(
        "UPDATE deliveries SET lease_until = coalesce(?, lease_until) "
        "WHERE key = ? AND lease_owner = ? AND status = 'pending'",
        (to_db(lease_until) if lease_until else None, key, owner),
    )
    return cur.rowcount > 0


async def _save_thread(
    conn: aiosqlite.Connection,
    scope: Scope,
    channel: str,
    thread_key: str,
    kind: ThreadKind,
    article_ids: Sequence[int],
    *,
    at: datetime,
) -> None:
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
            to_db(at),
        ),
    )


async def _record_posted(
    conn: aiosqlite.Connection,
    scope: Scope,
    channel: str,
    posted: Sequence[PostedStory],
    *,
    at: datetime,
) -> None:
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
                to_db(at),
            )
            for p in posted
        ],
    )


def _delivery(rows: Sequence[aiosqlite.Row]) -> Delivery:
    first = rows[0]
    parts = tuple(
        OutboxPart(
            index=int(r["idx"]),
            payload=str(r["payload"]),
            state=r["state"],
            sending_since=from_db_optional(r["sending_since"]),
            message_id=r["message_id"],
            thread_key=r["part_thread"],
        )
        for r in rows
        if r["idx"] is not None
    )
    return Delivery(
        key=str(first["key"]),
        scope=Scope(str(first["platform"]), str(first["workspace"])),
        channel=str(first["channel"]),
        parts=parts,
        created_at=from_db(first["created_at"]),
        thread_key=first["thread_key"],
        shows=shows_from_json(first["shows"]),
        due_at=from_db_optional(first["due_at"]),
        late_after=from_db_optional(first["late_after"]),
        status=first["status"],
        attempts=int(first["attempts"]),
        late_reported=bool(first["late_reported"]),
        error=first["error"],
    )


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

"""The store on PostgreSQL (asyncpg): one database that several bot processes share
(NEWSBRIEF_DATABASE_URL). SQLite stays the embedded default for one process.

Every role is the shared one (bot/store); what is PostgreSQL's own is here:
migrating under an advisory lock, new article ids from the identity sequence, bulk
writes over arrays, leasing due feeds with SKIP LOCKED, and search (search.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

import asyncpg

from bot.domain import Feed
from bot.store import SharedRecords
from bot.store.base import MIGRATION_LOCK, SchemaTooNewError
from bot.store.batch import Batch
from bot.store.pg.db import PgDatabase
from bot.store.pg.schema import MIGRATIONS, RANKED_INDEX, SCHEMA_VERSION
from bot.store.pg.search import PgSearch
from bot.store.sql import Queries

__all__ = ["PostgresStore", "SchemaTooNewError"]

log = logging.getLogger(__name__)

# A batch's writes, one statement per table over arrays, in an order the foreign keys
# accept.
_INSERT_STORIES = (
    "INSERT INTO stories (id, first_seen, last_seen, version) "
    "SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[], $4::integer[])"
)
_BUMP_STORIES = (
    "UPDATE stories s SET version = s.version + u.joined, "
    "last_seen = greatest(s.last_seen, u.seen) "
    "FROM unnest($1::bigint[], $2::integer[], $3::timestamptz[]) AS u(id, joined, seen) "
    "WHERE s.id = u.id"
)
_INSERT_ARTICLES = (
    "INSERT INTO articles (id, guid, url, canonical_url, title, source, published_at, "
    "fetched_at, text, is_full_text, content_hash, story_id) "
    "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], "
    "$6::text[], $7::timestamptz[], $8::timestamptz[], $9::text[], $10::boolean[], "
    "$11::text[], $12::bigint[])"
)
_INSERT_REPRINTS = (
    "INSERT INTO reprints (article_id, canonical_url, url, source, published_at) "
    "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], "
    "$5::timestamptz[])"
)
_INSERT_LINKS = (
    "INSERT INTO article_feeds (article_id, feed_id, guid) "
    "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[]) ON CONFLICT DO NOTHING"
)
_INSERT_PRINTS = (
    "INSERT INTO article_prints (article_id, data, shingles) "
    "SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[])"
)


CONNECT_SECONDS = 10.0


class PostgresStore(PgSearch, SharedRecords):
    """Every storage port on one PostgreSQL database, for several processes."""

    embedded = False  # shared by several bot processes
    db: PgDatabase

    @classmethod
    async def open(cls, url: str, *, max_connections: int = 10) -> PostgresStore:
        # No floor of open connections: with one, asyncpg logs a traceback each time it
        # fails to restore it while the server is away; connections open as needed.
        # A new connection gives up after CONNECT_SECONDS (asyncpg's default is 60): a
        # server that drops packets is then "unavailable" soon, like one that refuses.
        pool = await asyncpg.create_pool(
            url, min_size=0, max_size=max_connections, timeout=CONNECT_SECONDS
        )
        store = cls(PgDatabase(pool))
        try:
            await store._migrate()
            await store._find_ranked_index()
        except BaseException:
            await pool.close()
            raise
        return store

    async def claim_serving(self) -> None:
        """Several processes may serve one PostgreSQL database: nothing to claim."""

    async def close(self) -> None:
        await self.db.close()

    async def schema_version(self) -> int:
        async with self.db.pool.acquire() as conn:
            return await _version(conn)

    async def _migrate(self) -> None:
        async with self.db.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await conn.execute("CREATE TABLE IF NOT EXISTS newsbrief_schema (version INTEGER)")
            current = await _version(conn)
            if current > SCHEMA_VERSION:
                raise SchemaTooNewError(
                    f"the database is at schema {current}, newer than this build's "
                    f"{SCHEMA_VERSION}: upgrade newsbrief or point NEWSBRIEF_DATABASE_URL "
                    "elsewhere"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                log.info("migrating the PostgreSQL database to schema %d", version)
                await conn.execute(MIGRATIONS[version - 1])
                await conn.execute("DELETE FROM newsbrief_schema")
                await conn.execute("INSERT INTO newsbrief_schema VALUES ($1)", version)

    async def _find_ranked_index(self) -> None:
        self.ranked_index = bool(
            await self.db.fetchval("SELECT to_regclass($1) IS NOT NULL", RANKED_INDEX)
        )
        if not self.ranked_index:
            log.info(
                "PostgreSQL: no RUM index (extension rum); search ranks every match from "
                "the table, slower for common words"
            )

    # --- what PostgreSQL does its own way --------------------------------------------

    async def lease_feeds(
        self, due: Sequence[Feed], owner: str, *, now: datetime, until: datetime
    ) -> list[Feed]:
        """One statement: the due rows locked with SKIP LOCKED (a row another process is
        leasing right now is left to it, not waited for), then re-checked and leased."""
        if not due:
            return []
        rows = await self.db.fetch(
            "WITH wanted AS ("
            " SELECT f.id FROM feeds f"
            " JOIN unnest($1::bigint[], $2::timestamptz[]) AS d(id, seen) ON f.id = d.id"
            " WHERE f.next_poll_at IS NOT DISTINCT FROM d.seen"
            " AND (f.lease_owner IS NULL OR f.lease_owner = $3 OR f.lease_until < $4)"
            " FOR UPDATE OF f SKIP LOCKED)"
            " UPDATE feeds SET lease_owner = $3, lease_until = $5"
            " FROM wanted WHERE feeds.id = wanted.id RETURNING feeds.id",
            [f.id for f in due],
            [f.next_poll_at for f in due],
            owner,
            now,
            until,
        )
        leased = {int(r["id"]) for r in rows}
        return [f for f in due if f.id in leased]

    async def _new_article_ids(self, tx: Queries, count_new: Callable[[], int]) -> Iterator[int]:
        """As many ids as the batch has new articles, drawn from the table's sequence."""
        new = count_new()
        if not new:
            return iter(())
        rows = await tx.fetch(
            "SELECT nextval(pg_get_serial_sequence('articles', 'id')) AS id "
            "FROM generate_series(1, $1)",
            new,
        )
        return iter(sorted(int(r["id"]) for r in rows))

    async def _write_batch(self, tx: Queries, batch: Batch) -> None:
        """Each table's rows as columns of arrays, one statement per table (`unnest`)."""
        writes = (
            (
                _INSERT_STORIES,
                [(i, s.first_seen, s.last_seen, s.version) for i, s in batch.new_stories.items()],
            ),
            (_BUMP_STORIES, [(i, joined, seen) for i, (joined, seen) in batch.bumps.items()]),
            (_INSERT_ARTICLES, batch.article_rows),
            (_INSERT_REPRINTS, batch.reprint_rows),
            (_INSERT_LINKS, batch.link_rows),
            (_INSERT_PRINTS, batch.print_rows),
        )
        for sql, rows in writes:
            if rows:
                await tx.execute(sql, *(list(column) for column in zip(*rows, strict=True)))


async def _version(conn: asyncpg.pool.PoolConnectionProxy[asyncpg.Record]) -> int:
    exists = await conn.fetchval("SELECT to_regclass('newsbrief_schema') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM newsbrief_schema"))

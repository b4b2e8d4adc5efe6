"""The PostgreSQL store: every storage port on one database that several bot processes
share (NEWSBRIEF_DATABASE_URL). SQLite stays the embedded default for one process."""

from __future__ import annotations

import asyncpg

from bot.store.pg.articles import PgArticles
from bot.store.pg.base import SchemaTooNewError
from bot.store.pg.feeds import PgFeeds
from bot.store.pg.outbox import PgOutbox
from bot.store.pg.records import PgRecords

__all__ = ["PostgresStore", "SchemaTooNewError"]


class PostgresStore(PgFeeds, PgArticles, PgRecords, PgOutbox):
    """Feeds, articles and stories, subscriptions, the outbox, threads and the ledgers."""

    embedded = False  # shared by several bot processes

    @classmethod
    async def open(cls, url: str, *, max_connections: int = 10) -> PostgresStore:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=max_connections)
        store = cls(pool)
        try:
            await store._migrate()
            await store._find_ranked_index()
        except BaseException:
            await pool.close()
            raise
        return store

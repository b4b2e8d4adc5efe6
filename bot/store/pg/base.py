"""The PostgreSQL store's connection pool, transactions and migrations, shared by the
role modules (feeds, articles, outbox, records) that make up `PostgresStore`.

asyncpg, not psycopg 3: it speaks PostgreSQL's binary protocol natively on asyncio,
caches each statement's plan per connection, and decodes rows without a Python layer
in between; for a bot whose store calls are many small statements, that is the time
that counts.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeAlias

import asyncpg
import asyncpg.pool

from bot.store.pg.schema import MIGRATIONS, RANKED_INDEX, SCHEMA_VERSION

log = logging.getLogger(__name__)

# A connection of the pool (what `_tx` and `_pool.acquire()` give).
PgConn: TypeAlias = "asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"

# Advisory lock keys (one place, so no two uses share one by accident): migrations of
# processes starting at once; the operator's default feeds synced at start-up; batches
# of new articles, so two processes storing one article find each other's copy.
MIGRATION_LOCK = 7_311_950_225
DEFAULT_FEEDS_LOCK = 7_311_950_226
ARTICLES_LOCK = 7_311_950_227
# Held while a process places a batch in stories and stores it (see `placing`).
PLACING_LOCK = 7_311_950_228


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer build."""


class PgBase:
    """What every role module uses: the pool, and a transaction on one connection."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        # Search ranks from the RUM index (schema migration 3) when the server has it.
        self.ranked_index = False

    async def _find_ranked_index(self) -> None:
        self.ranked_index = bool(
            await self._pool.fetchval("SELECT to_regclass($1) IS NOT NULL", RANKED_INDEX)
        )
        if not self.ranked_index:
            log.info(
                "PostgreSQL: no RUM index (extension rum); search ranks every match from "
                "the table, slower for common words"
            )

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[PgConn]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield conn

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return list(await self._pool.fetch(sql, *args))

    async def _fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        return await self._pool.fetchrow(sql, *args)

    async def _execute(self, sql: str, *args: Any) -> str:
        return str(await self._pool.execute(sql, *args))

    async def schema_version(self) -> int:
        async with self._pool.acquire() as conn:
            return await _version(conn)

    async def _migrate(self) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
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

    async def close(self) -> None:
        await self._pool.close()


def to_pg(moment: datetime) -> datetime:
    """A moment as stored: aware (a naive one is refused, as SQLite's `to_db` does, where
    asyncpg would read it as local time), in UTC."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: the bot only stores timezone-aware moments")
    return moment.astimezone(UTC)


def from_pg(value: datetime | None) -> datetime | None:
    """A stored moment in UTC, as the domain compares them."""
    return None if value is None else value.astimezone(UTC)


def rowcount(status: str) -> int:
    """The rows a command changed, from its status ("INSERT 0 1", "DELETE 2")."""
    return int(status.rsplit(" ", 1)[-1])


async def _version(conn: PgConn) -> int:
    exists = await conn.fetchval("SELECT to_regclass('newsbrief_schema') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM newsbrief_schema"))

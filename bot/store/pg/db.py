"""The query layer on an asyncpg pool, for several bot processes on one database.

asyncpg, not psycopg 3: it speaks PostgreSQL's binary protocol natively on asyncio,
caches each statement's plan per connection, and decodes rows without a Python layer
in between; for a bot whose store calls are many small statements, that is the time
that counts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

import asyncpg
import asyncpg.pool

from bot.store.sql import Row, pg_value

# A connection of the pool.
PgConn: TypeAlias = (
    "asyncpg.pool.PoolConnectionProxy[asyncpg.Record] | asyncpg.Connection[asyncpg.Record]"
)


def rowcount(status: str) -> int:
    """The rows a command changed, from its status ("INSERT 0 1", "DELETE 2")."""
    return int(status.rsplit(" ", 1)[-1])


class _Statements:
    """Statements on a pool (each on whichever connection is free) or on one connection."""

    def __init__(self, on: asyncpg.Pool | PgConn) -> None:
        self._on = on

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return list(await self._on.fetch(sql, *_params(args)))

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        row: Row | None = await self._on.fetchrow(sql, *_params(args))
        return row

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._on.fetchval(sql, *_params(args))

    async def execute(self, sql: str, *args: Any) -> int:
        return rowcount(await self._on.execute(sql, *_params(args)))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._on.executemany(sql, [_params(r) for r in rows])


class PgDatabase(_Statements):
    engine = "postgresql"

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self.pool = pool

    @asynccontextmanager
    async def transaction(self, *, lock: int | None = None) -> AsyncIterator[_Statements]:
        """A transaction on one connection; `lock`, a transaction-level advisory lock."""
        async with self.pool.acquire() as conn, conn.transaction():
            if lock is not None:
                await conn.execute("SELECT pg_advisory_xact_lock($1)", lock)
            yield _Statements(conn)

    @asynccontextmanager
    async def held(self, lock: int) -> AsyncIterator[None]:
        """A session advisory lock on a connection of its own; a process that dies
        releases it with its connection."""
        async with self.pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", lock)
            try:
                yield
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", lock)

    async def close(self) -> None:
        await self.pool.close()


def _params(args: Sequence[Any]) -> list[Any]:
    return [pg_value(a) for a in args]

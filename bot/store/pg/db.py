"""The query layer on an asyncpg pool, for several bot processes on one database.

asyncpg, not psycopg 3: it speaks PostgreSQL's binary protocol natively on asyncio,
caches each statement's plan per connection, and decodes rows without a Python layer
in between; for a bot whose store calls are many small statements, that is the time
that counts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeAlias

import asyncpg
import asyncpg.pool
from asyncpg import exceptions as pg_errors

from bot.domain import StoreUnavailable
from bot.store.sql import Row, pg_value

# A connection of the pool.
PgConn: TypeAlias = (
    "asyncpg.pool.PoolConnectionProxy[asyncpg.Record] | asyncpg.Connection[asyncpg.Record]"
)


# The server cannot be reached, is going down or starting up, or is out of disk or
# connections: not this statement's fault, and gone once the server is back.
_UNREACHABLE = (
    OSError,  # refused, reset, timed out
    pg_errors.PostgresConnectionError,
    pg_errors.AdminShutdownError,
    pg_errors.CrashShutdownError,
    pg_errors.CannotConnectNowError,
    pg_errors.InsufficientResourcesError,
)


@contextmanager
def reachable() -> Iterator[None]:
    """Driver errors that mean "the database is away" raised as StoreUnavailable."""
    try:
        yield
    except _UNREACHABLE as exc:
        raise StoreUnavailable(f"PostgreSQL: {_describe(exc)}") from exc
    except asyncpg.InterfaceError as exc:
        if "connection" in str(exc) and "closed" in str(exc):  # its socket went away
            raise StoreUnavailable(f"PostgreSQL: {_describe(exc)}") from exc
        raise


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def rowcount(status: str) -> int:
    """The rows a command changed, from its status ("INSERT 0 1", "DELETE 2")."""
    return int(status.rsplit(" ", 1)[-1])


class _Statements:
    """Statements on a pool (each on whichever connection is free) or on one connection."""

    def __init__(self, on: asyncpg.Pool | PgConn) -> None:
        self._on = on

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        with reachable():
            return list(await self._on.fetch(sql, *_params(args)))

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        with reachable():
            row: Row | None = await self._on.fetchrow(sql, *_params(args))
        return row

    async def fetchval(self, sql: str, *args: Any) -> Any:
        with reachable():
            return await self._on.fetchval(sql, *_params(args))

    async def execute(self, sql: str, *args: Any) -> int:
        with reachable():
            return rowcount(await self._on.execute(sql, *_params(args)))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with reachable():
            await self._on.executemany(sql, [_params(r) for r in rows])


class PgDatabase(_Statements):
    engine = "postgresql"

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self.pool = pool

    @asynccontextmanager
    async def transaction(self, *, lock: int | None = None) -> AsyncIterator[_Statements]:
        """A transaction on one connection; `lock`, a transaction-level advisory lock."""
        with reachable():
            async with self.pool.acquire() as conn, conn.transaction():
                if lock is not None:
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", lock)
                yield _Statements(conn)

    @asynccontextmanager
    async def held(self, lock: int) -> AsyncIterator[None]:
        """A session advisory lock on a connection of its own; a process that dies
        releases it with its connection."""
        with reachable():
            conn = await self.pool.acquire()
        try:
            with reachable():
                await conn.execute("SELECT pg_advisory_lock($1)", lock)
            try:
                yield  # the holder's own errors are its own, not the database's
            finally:
                with reachable():
                    await conn.execute("SELECT pg_advisory_unlock($1)", lock)
        finally:
            await self.pool.release(conn)

    async def close(self) -> None:
        await self.pool.close()


def _params(args: Sequence[Any]) -> list[Any]:
    return [pg_value(a) for a in args]

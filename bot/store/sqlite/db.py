"""The query layer on one aiosqlite connection: reads run as they come, writes one at a
time under a lock (a statement on its own, or a transaction begun IMMEDIATE), and the
write-ahead log is copied into the database from a connection of its own."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import aiosqlite

from bot.domain import StoreUnavailable
from bot.store.sql import Row, for_sqlite, is_read, sqlite_value

log = logging.getLogger(__name__)

CHECKPOINT_EVERY_SECONDS = 0.5


# SQLite's primary result codes for a database that cannot be written or read now, not
# a fault of the statement: locked past the busy timeout, an I/O error, a full disk, a
# file that cannot be opened, a read-only file.
_UNAVAILABLE_CODES = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_READONLY,
}


@contextmanager
def reachable() -> Iterator[None]:
    """SQLite's errors that mean "the database cannot be used now" as StoreUnavailable."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and code & 0xFF in _UNAVAILABLE_CODES:
            raise StoreUnavailable(f"SQLite: {exc}") from exc
        raise


class Checkpointer:
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


class _Statements:
    """Statements on the connection as they are: one hop to SQLite's thread each (a
    cursor's fetch and close would be two more)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        with reachable():
            return list(await self._conn.execute_fetchall(for_sqlite(sql), _params(args)))

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else row[0]

    async def execute(self, sql: str, *args: Any) -> int:
        with reachable():
            cursor = await self._conn.execute(for_sqlite(sql), _params(args))
            return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with reachable():
            await self._conn.executemany(for_sqlite(sql), [_params(r) for r in rows])


class SqliteDatabase(_Statements):
    """One connection shared by the whole process (one bot process per database file)."""

    engine = "sqlite"

    def __init__(self, conn: aiosqlite.Connection, checkpointer: Checkpointer | None) -> None:
        super().__init__(conn)
        self.conn = conn
        self._in_transaction = _Statements(conn)
        self._write_lock = asyncio.Lock()
        self._checkpointer = checkpointer

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        if is_read(sql):
            return await super().fetch(sql, *args)
        async with self._write_lock:
            rows = await super().fetch(sql, *args)
        self._committed()
        return rows

    async def execute(self, sql: str, *args: Any) -> int:
        """One statement, atomic on its own (autocommit): one hop instead of a
        transaction's three. The lock keeps it out of another's open transaction."""
        async with self._write_lock:
            changed = await super().execute(sql, *args)
        self._committed()
        return changed

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)

    @asynccontextmanager
    async def transaction(self, *, lock: int | None = None) -> AsyncIterator[_Statements]:
        """BEGIN IMMEDIATE under the write lock: nobody else writes until it ends, so
        what it reads stays true (`lock` adds nothing to that)."""
        async with self._write_lock:
            with reachable():
                await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._in_transaction
            except BaseException:
                await self._roll_back()
                raise
            else:
                try:
                    with reachable():
                        await self.conn.execute("COMMIT")
                except BaseException:  # a full disk: left open, the next BEGIN would fail
                    await self._roll_back()
                    raise
                self._committed()

    async def _roll_back(self) -> None:
        """After a failed statement: a full disk or an I/O error may have ended the
        transaction already, and a rollback then has nothing to undo."""
        try:
            await self.conn.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            if self.conn.in_transaction:
                raise
            log.debug("rollback after a failed statement: %s", exc)

    @asynccontextmanager
    async def held(self, lock: int) -> AsyncIterator[None]:
        """One process per database file: the caller's own lock suffices."""
        yield

    def _committed(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.wrote()

    async def log_checkpointed(self) -> None:
        """Wait until the log written so far has been copied into the database."""
        if self._checkpointer is not None:
            await self._checkpointer.settled()

    async def close(self) -> None:
        if self._checkpointer is not None:
            await self._checkpointer.close()
        await self.conn.close()


def _params(args: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(sqlite_value(a) for a in args)

"""The store on SQLite (aiosqlite): the embedded default, one bot process per file.

WAL, forward migrations numbered by `user_version`, FTS5 search. Every role is the
shared one (bot/store); what is SQLite's own is here: opening and migrating, new
article ids, bulk writes, leasing due feeds, and search (search.py).
"""

from __future__ import annotations

import fcntl
import itertools
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

import aiosqlite

from bot.domain import Feed, StoreInUse
from bot.store import SharedRecords
from bot.store.base import SchemaTooNewError
from bot.store.batch import Batch
from bot.store.sql import Queries
from bot.store.sqlite.db import Checkpointer, SqliteDatabase
from bot.store.sqlite.migrations import MIGRATIONS, SCHEMA_VERSION
from bot.store.sqlite.search import SqliteSearch, fts_query
from bot.timeutil import to_db

__all__ = ["SchemaTooNewError", "SqliteStore", "fts_query"]

log = logging.getLogger(__name__)

# The writing connection copies its log into the database itself only past this many
# pages (32 MB of 4 KB pages): a backstop, should the checkpointer fall behind.
_BACKSTOP_CHECKPOINT_PAGES = 8000


class SqliteStore(SqliteSearch, SharedRecords):
    """Every storage port on one SQLite file."""

    embedded = True  # one bot process per database file
    db: SqliteDatabase

    @classmethod
    async def open(cls, path: Path | str) -> SqliteStore:
        on_disk = str(path) != ":memory:"
        if on_disk:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        db: SqliteDatabase | None = None
        try:
            conn.row_factory = aiosqlite.Row
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA busy_timeout=5000")
            await conn.execute("PRAGMA synchronous=NORMAL")
            if on_disk:
                await conn.execute(f"PRAGMA wal_autocheckpoint={_BACKSTOP_CHECKPOINT_PAGES}")
            db = SqliteDatabase(conn, Checkpointer(str(path)) if on_disk else None)
            store = cls(db)
            store._path = _absolute(path) if on_disk else None
            await store._migrate()
        except BaseException:
            # Its worker thread (the checkpointer's too) would otherwise keep the process alive.
            if db is not None:
                await db.close()
            else:
                await conn.close()
            raise
        return store

    _path: Path | None = None
    _serving: int | None = None  # the lock file's descriptor, while this process serves

    async def claim_serving(self) -> None:
        """A lock on a file beside the database, held while serving: two processes on one
        SQLite file would free each other's live leases at start-up and post twice. The
        lock goes with the process, however it ends (kill -9 included)."""
        if self._path is None or self._serving is not None:
            return
        lock = f"{self._path}.lock"
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise StoreInUse(
                f"another bot process{f' (pid {holder})' if holder.isdigit() else ''} is "
                f"serving {self._path}. SQLite is for one process; stop the other one, or "
                "use PostgreSQL (NEWSBRIEF_DATABASE_URL) for several."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._serving = fd

    async def close(self) -> None:
        try:
            await self.db.close()
        finally:
            if self._serving is not None:
                os.close(self._serving)
                self._serving = None

    async def log_checkpointed(self) -> None:
        """Wait until the log written so far has been copied into the database."""
        await self.db.log_checkpointed()

    async def schema_version(self) -> int:
        return int(await self.db.fetchval("PRAGMA user_version") or 0)

    async def _migrate(self) -> None:
        current = await self.schema_version()
        if current > SCHEMA_VERSION:
            raise SchemaTooNewError(
                f"the database is at schema {current}, newer than this build's "
                f"{SCHEMA_VERSION}: upgrade newsbrief or point NEWSBRIEF_DB elsewhere"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            log.info("migrating database to schema %d", version)
            async with self.db.transaction():  # run as written, not as shared statements
                for statement in _statements(MIGRATIONS[version - 1]):
                    await self.db.conn.execute(statement)
                await self.db.conn.execute(f"PRAGMA user_version = {version}")

    # --- what SQLite does its own way ------------------------------------------------

    async def lease_feeds(
        self, due: Sequence[Feed], owner: str, *, now: datetime, until: datetime
    ) -> list[Feed]:
        """Of `due`, those whose next poll is still the one read, not leased to another
        live owner: leased to `owner` until `until`, in one statement."""
        if not due:
            return []
        seen = json.dumps([[f.id, _text(f.next_poll_at)] for f in due])
        async with self.db.transaction() as tx:
            rows = await tx.fetch(
                "UPDATE feeds SET lease_owner = $1, lease_until = $2 WHERE id IN ("
                "SELECT f.id FROM feeds f JOIN json_each($3) j ON f.id = j.value ->> 0 "
                "WHERE f.next_poll_at IS j.value ->> 1 "
                "AND (f.lease_owner IS NULL OR f.lease_owner = $1 OR f.lease_until < $4)) "
                "RETURNING id",
                owner,
                until,
                seen,
                now,
            )
        leased = {int(r["id"]) for r in rows}
        return [f for f in due if f.id in leased]

    async def _new_article_ids(self, tx: Queries, count_new: Callable[[], int]) -> Iterator[int]:
        """The ids after the highest: under BEGIN IMMEDIATE nobody else writes, and
        articles.id has no AUTOINCREMENT, so these are the ids SQLite would give."""
        highest = int(await tx.fetchval("SELECT coalesce(max(id), 0) FROM articles"))
        return itertools.count(highest + 1)

    async def _write_batch(self, tx: Queries, batch: Batch) -> None:
        for sql, rows in _batch_writes(batch):
            if rows:
                await tx.executemany(sql, rows)


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else to_db(moment)


def _batch_writes(batch: Batch) -> list[tuple[str, list[tuple[object, ...]]]]:
    """Each table's rows, in an order the foreign keys accept."""
    return [
        (
            "INSERT INTO stories (id, first_seen, last_seen, version) VALUES ($1, $2, $3, $4)",
            [(i, s.first_seen, s.last_seen, s.version) for i, s in batch.new_stories.items()],
        ),
        (
            "UPDATE stories SET version = version + $1, last_seen = greatest(last_seen, $2) "
            "WHERE id = $3",
            [(joined, seen, i) for i, (joined, seen) in batch.bumps.items()],
        ),
        (
            "INSERT INTO articles (id, guid, url, canonical_url, title, source, "
            "published_at, fetched_at, text, is_full_text, content_hash, story_id) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            batch.article_rows,
        ),
        (
            "INSERT INTO reprints (article_id, canonical_url, url, source, published_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            batch.reprint_rows,
        ),
        (
            "INSERT INTO article_feeds (article_id, feed_id, guid) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING",
            batch.link_rows,
        ),
        (
            "INSERT INTO article_prints (article_id, data, shingles) VALUES ($1, $2, $3)",
            batch.print_rows,
        ),
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


def _absolute(path: Path | str) -> Path:
    """The database file's full path, for a lock beside it and a message naming it."""
    return Path(os.path.abspath(path))

"""The query layer both engines run on, so that a statement is written once.

Statements are written in PostgreSQL's dialect, restricted to what SQLite speaks too,
and rendered for SQLite by a few fixed rules (`for_sqlite`):

- `$1`, `$2` … become `?1`, `?2` … (SQLite numbers parameters the same way);
- `= ANY($n)` (a list parameter) becomes `IN (SELECT value FROM json_each(?n))`, and
  the list is passed as JSON: one statement text whatever the list's length;
- casts (`$1::text`, `$2::bigint[]`) are dropped: SQLite has no need of them;
- `greatest(` and `least(` become SQLite's many-argument `max(` and `min(`;
- `COLLATE "C"` is dropped: SQLite compares text bytewise already.

What truly differs stays with each engine: full-text search (FTS5, tsvector/RUM),
how a set of due rows is leased (FOR UPDATE SKIP LOCKED), bulk writes (executemany,
arrays through unnest), ids for new articles, and locks between processes.

Values are converted at the edge: SQLite keeps moments as fixed-width UTC text
(bot/timeutil.py) and flags as 0/1; PostgreSQL takes aware datetimes and booleans.
Rows come back as `sqlite3.Row` or `asyncpg.Record`, both read by column name;
`moment` and `day` read a stored moment or date from either.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, Protocol

from bot.text import storable
from bot.timeutil import from_db, to_db


class Row(Protocol):
    """A result row by column name or position: sqlite3.Row and asyncpg.Record alike."""

    def __getitem__(self, key: str | int) -> Any: ...


class Queries(Protocol):
    """Statements on one engine: on the database itself, or inside one transaction."""

    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...
    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...
    async def fetchval(self, sql: str, *args: Any) -> Any: ...

    async def execute(self, sql: str, *args: Any) -> int:
        """Run one statement; the rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...


class Database(Queries, Protocol):
    """One engine's connection(s): statements outside a transaction are atomic on their own."""

    engine: str  # "sqlite" or "postgresql"

    def transaction(self, *, lock: int | None = None) -> AbstractAsyncContextManager[Queries]:
        """Statements that commit together. `lock`: held to the end of the transaction,
        one holder at a time among every process sharing the database (a no-op where one
        process has the database to itself and writes one transaction at a time)."""
        ...

    def held(self, lock: int) -> AbstractAsyncContextManager[None]:
        """`lock` held across several transactions (see `transaction`)."""
        ...

    async def close(self) -> None: ...


# --- rendering for SQLite --------------------------------------------------------------

_ANY = re.compile(r"=\s*ANY\(\$(\d+)(?:::\w+\[\])?\)")
_CAST = re.compile(r"::\w+(?:\[\])?")
_PLACEHOLDER = re.compile(r"\$(\d+)")
_RENAMED = re.compile(r"\b(greatest|least)\(", re.IGNORECASE)
_BYTEWISE = re.compile(r'\s+COLLATE\s+"C"')


@lru_cache(maxsize=512)
def for_sqlite(sql: str) -> str:
    """A statement in the shared dialect, as SQLite reads it (see the module docstring)."""
    sql = _ANY.sub(r"IN (SELECT value FROM json_each(?\1))", sql)
    sql = _CAST.sub("", sql)
    sql = _RENAMED.sub(lambda m: "max(" if m.group(1).lower() == "greatest" else "min(", sql)
    sql = _BYTEWISE.sub("", sql)
    return _PLACEHOLDER.sub(r"?\1", sql)


def sqlite_value(value: Any) -> Any:
    """A parameter as SQLite stores it: text storable (the last guard: inputs are cleaned
    where they come in), moments as text, flags as 0/1, lists as JSON.
    Called for every parameter of every statement, so the common kinds leave first; a
    list (ids, URLs: a search passes hundreds) is encoded in one call, not item by item."""
    kind = type(value)
    if kind is str:
        return storable(value)
    if kind is int or value is None or kind is bytes or kind is float:
        return value
    if kind is bool:
        return int(value)
    if isinstance(value, datetime):
        return to_db(value)
    if isinstance(value, list | tuple):
        return json.dumps(value, default=_json_moment)
    return value


def _json_moment(value: Any) -> str:
    if isinstance(value, datetime):
        return to_db(value)
    raise TypeError(f"{type(value).__name__} in a list parameter")


def pg_value(value: Any) -> Any:
    """A parameter as asyncpg sends it: text storable (no NUL: PostgreSQL refuses it),
    moments aware (a naive one is refused, as SQLite's
    `to_db` refuses it, where asyncpg would read it as local time), lists as arrays."""
    kind = type(value)
    if kind is str:
        return storable(value)
    if kind is int or value is None or kind is bool:
        return value
    if kind is list or kind is tuple:
        if value and type(value[0]) is str:  # words, URLs; a list of ids passes as it is
            return [storable(v) if type(v) is str else v for v in value]
        return value if kind is list else list(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: the bot only stores timezone-aware moments")
        return value
    return value


# --- reading values back -----------------------------------------------------------------


def moment(value: str | datetime) -> datetime:
    """A stored moment, in UTC, from either engine."""
    if isinstance(value, str):
        return from_db(value)
    return value.astimezone(UTC)


def maybe_moment(value: str | datetime | None) -> datetime | None:
    return None if value is None else moment(value)


def day(value: str | date) -> date:
    """A date as `utc_day` gives it: SQLite's text, PostgreSQL's date."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def utc_day(engine: str, column: str) -> str:
    """The UTC calendar day of a stored moment, as an expression of the engine."""
    if engine == "sqlite":
        return f"substr({column}, 1, 10)"
    return f"({column} AT TIME ZONE 'UTC')::date"


def is_read(sql: str) -> bool:
    """Whether a statement only reads (SQLite runs it beside the writer, unlocked). A
    shared statement that opens with WITH only reads: a write in a WITH is PostgreSQL's."""
    return sql.lstrip().split(None, 1)[0].upper() in ("SELECT", "WITH")

"""The FeedStore port on PostgreSQL: feeds, the workspaces that read them, and how their
last fetch went, with the same answers as SQLite's (bot/store/sqlite.py).

A new feed's row is inserted only when its URL is not stored yet: PostgreSQL takes an
identity value even for an insert that ends in ON CONFLICT, and the ids of new feeds
would then skip numbers where SQLite's run 1, 2, 3…
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from bot.domain import Feed, Scope
from bot.store.pg.base import DEFAULT_FEEDS_LOCK, PgBase, from_pg, rowcount, to_pg
from bot.timeutil import utcnow

# A feed `f` the scope sees: one of the operator's defaults or one of its own
# subscriptions. Its parameters are the scope's platform ($1) and workspace ($2).
_FEED_IN_SCOPE = (
    "(f.is_default OR EXISTS (SELECT 1 FROM workspace_feeds w "
    "WHERE w.feed_id = f.id AND w.platform = $1 AND w.workspace = $2))"
)
# Serialises syncs of the defaults between processes starting at once, as SQLite's
# write lock does: the last sync's list wins whole, never a mix of two lists.
# Stores a URL not stored yet: $1 the URL, $2 its creation time, $3 whether a default.
_INSERT_NEW_FEED = (
    "INSERT INTO feeds (url, is_default, created_at) "
    "SELECT $1::text, $3::boolean, $2::timestamptz "
    "WHERE NOT EXISTS (SELECT 1 FROM feeds WHERE url = $1::text) "
    "ON CONFLICT (url) DO UPDATE SET is_default = feeds.is_default OR excluded.is_default"
)


class PgFeeds(PgBase):
    """Feeds, who reads them, and how their fetches went."""

    async def sync_default_feeds(self, urls: Sequence[str]) -> list[Feed]:
        """Make exactly `urls` the defaults (adding the new ones, in order); the defaults."""
        now = utcnow()
        wanted = list(dict.fromkeys(urls))
        async with self._tx() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", DEFAULT_FEEDS_LOCK)
            # Only rows whose flag changes are written (and so locked): another process
            # polling meanwhile skips locked feeds, and would skip them all.
            await conn.execute(
                "UPDATE feeds SET is_default = (url = ANY($1::text[])) "
                "WHERE is_default <> (url = ANY($1::text[]))",
                wanted,
            )
            known = {
                r["url"]
                for r in await conn.fetch(
                    "SELECT url FROM feeds WHERE url = ANY($1::text[])", wanted
                )
            }
            await conn.executemany(
                _INSERT_NEW_FEED, [(url, now, True) for url in wanted if url not in known]
            )
            rows = await conn.fetch("SELECT * FROM feeds WHERE is_default ORDER BY id")
        return [_feed(r) for r in rows]

    async def add_feed(self, url: str) -> Feed:
        await self._execute(_INSERT_NEW_FEED, url, utcnow(), False)
        feed = await self.get_feed(url)
        assert feed is not None
        return feed

    async def get_feed(self, url: str) -> Feed | None:
        row = await self._fetchrow("SELECT * FROM feeds WHERE url = $1", url)
        return _feed(row) if row else None

    async def polled_feeds(self) -> list[Feed]:
        """Feeds someone reads: fetched once each, however many channels follow them."""
        rows = await self._fetch(
            "SELECT * FROM feeds WHERE is_default "
            "OR id IN (SELECT feed_id FROM workspace_feeds) ORDER BY id"
        )
        return [_feed(r) for r in rows]

    async def feeds_for_scope(self, scope: Scope) -> list[Feed]:
        """The defaults first, then the workspace's own feeds, each by id."""
        rows = await self._fetch(
            f"SELECT * FROM feeds f WHERE {_FEED_IN_SCOPE} ORDER BY is_default DESC, id",
            scope.platform,
            scope.workspace,
        )
        return [_feed(r) for r in rows]

    async def subscribe_feed(
        self, scope: Scope, feed: Feed, *, channel: str, added_by: str | None
    ) -> bool:
        """False when the workspace reads the feed already (from whichever channel)."""
        status = await self._execute(
            "INSERT INTO workspace_feeds (platform, workspace, feed_id, channel, added_by, "
            "added_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            scope.platform,
            scope.workspace,
            feed.id,
            channel,
            added_by,
            utcnow(),
        )
        return rowcount(status) > 0

    async def unsubscribe_feed(self, scope: Scope, feed: Feed) -> bool:
        status = await self._execute(
            "DELETE FROM workspace_feeds WHERE platform = $1 AND workspace = $2 AND feed_id = $3",
            scope.platform,
            scope.workspace,
            feed.id,
        )
        return rowcount(status) > 0

    async def lease_feeds(
        self, due: Sequence[Feed], owner: str, *, now: datetime, until: datetime
    ) -> list[Feed]:
        """One statement: the due rows locked with SKIP LOCKED (a row another process is
        leasing right now is left to it, not waited for), then re-checked and leased."""
        if not due:
            return []
        rows = await self._fetch(
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
            to_pg(now),
            to_pg(until),
        )
        leased = {int(r["id"]) for r in rows}
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
        """Healthy again: new validators, the title kept when none came."""
        await self._execute(
            "UPDATE feeds SET etag = $1, last_modified = $2, title = COALESCE($3, title), "
            "next_poll_at = $4, consecutive_failures = 0, last_error = NULL, "
            "blocked_by = NULL, last_success_at = $5, last_attempt_at = $5, "
            "lease_owner = NULL, lease_until = NULL WHERE id = $6",
            etag,
            last_modified,
            title,
            to_pg(next_poll_at),
            to_pg(at),
            feed.id,
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
        """One more failure, with its error (500 characters) and the setting that caused it."""
        await self._execute(
            "UPDATE feeds SET consecutive_failures = consecutive_failures + 1, "
            "last_error = $1, next_poll_at = $2, last_attempt_at = $3, blocked_by = $4, "
            "lease_owner = NULL, lease_until = NULL WHERE id = $5",
            error[:500],
            to_pg(next_poll_at),
            to_pg(at),
            blocked_by,
            feed.id,
        )


def _feed(row: asyncpg.Record) -> Feed:
    return Feed(
        id=row["id"],
        url=row["url"],
        title=row["title"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        next_poll_at=from_pg(row["next_poll_at"]),
        consecutive_failures=row["consecutive_failures"],
        last_error=row["last_error"],
        last_success_at=from_pg(row["last_success_at"]),
        last_attempt_at=from_pg(row["last_attempt_at"]),
        is_default=row["is_default"],
        blocked_by=row["blocked_by"],
    )

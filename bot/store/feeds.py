"""Feeds, the workspaces that read them, and how their last fetch went (the FeedStore
port), on either engine. Leasing a set of due feeds differs per engine (each engine's
`lease_feeds`); the rest is written once here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain import Feed, FeedFollower, Scope
from bot.store.base import DEFAULT_FEEDS_LOCK, StoreBase, feed_in_scope
from bot.store.sql import Row, maybe_moment
from bot.timeutil import utcnow

# Stores a URL not stored yet: $1 the URL, $2 its creation time, $3 whether a default.
# Inserted only when the URL is not stored yet: PostgreSQL takes an identity value even
# for an insert that ends in ON CONFLICT, and new feeds' ids would skip numbers.
_INSERT_NEW_FEED = (
    "INSERT INTO feeds (url, is_default, created_at) "
    "SELECT $1::text, $3::boolean, $2::timestamptz "
    "WHERE NOT EXISTS (SELECT 1 FROM feeds WHERE url = $1::text) "
    "ON CONFLICT (url) DO UPDATE SET is_default = feeds.is_default OR excluded.is_default"
)
# Feeds someone reads: a default, or subscribed to by a workspace.
_READ = "(is_default OR id IN (SELECT feed_id FROM workspace_feeds))"
# ... and are polled: not paused.
_POLLED = f"({_READ} AND paused IS NULL)"


class FeedRecords(StoreBase):
    async def sync_default_feeds(self, urls: Sequence[str]) -> list[Feed]:
        """Make exactly `urls` the defaults (adding the new ones, in order); the defaults.
        Processes starting at once sync one at a time: the last list wins whole."""
        now = utcnow()
        wanted = list(dict.fromkeys(urls))
        async with self.db.transaction(lock=DEFAULT_FEEDS_LOCK) as tx:
            # Only rows whose flag changes are written (and so locked): another process
            # polling meanwhile skips locked feeds, and would skip them all.
            await tx.execute(
                "UPDATE feeds SET is_default = (url = ANY($1::text[])) "
                "WHERE is_default <> (url = ANY($1::text[]))",
                wanted,
            )
            known = {
                r["url"]
                for r in await tx.fetch("SELECT url FROM feeds WHERE url = ANY($1::text[])", wanted)
            }
            await tx.executemany(
                _INSERT_NEW_FEED, [(url, now, True) for url in wanted if url not in known]
            )
            rows = await tx.fetch("SELECT * FROM feeds WHERE is_default ORDER BY id")
        return [feed_of(r) for r in rows]

    async def add_feed(self, url: str) -> Feed:
        await self.db.execute(_INSERT_NEW_FEED, url, utcnow(), False)
        feed = await self.get_feed(url)
        assert feed is not None
        return feed

    async def get_feed(self, url: str) -> Feed | None:
        row = await self.db.fetchrow("SELECT * FROM feeds WHERE url = $1", url)
        return feed_of(row) if row else None

    async def polled_feeds(self) -> list[Feed]:
        """Feeds someone reads and not paused: fetched once each, however many channels
        follow them."""
        rows = await self.db.fetch(f"SELECT * FROM feeds WHERE {_POLLED} ORDER BY id")
        return [feed_of(r) for r in rows]

    async def read_feeds(self) -> list[Feed]:
        """Feeds someone reads, paused ones too (the status page lists them all)."""
        rows = await self.db.fetch(f"SELECT * FROM feeds WHERE {_READ} ORDER BY id")
        return [feed_of(r) for r in rows]

    async def feeds_for_scope(self, scope: Scope) -> list[Feed]:
        """The defaults first, then the workspace's own feeds, each by id."""
        rows = await self.db.fetch(
            f"SELECT * FROM feeds f WHERE {feed_in_scope('$1', '$2')} ORDER BY is_default DESC, id",
            scope.platform,
            scope.workspace,
        )
        return [feed_of(r) for r in rows]

    async def subscribe_feed(
        self, scope: Scope, feed: Feed, *, channel: str, added_by: str | None
    ) -> bool:
        """False when the workspace reads the feed already (from whichever channel)."""
        added = await self.db.execute(
            "INSERT INTO workspace_feeds (platform, workspace, feed_id, channel, added_by, "
            "added_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            scope.platform,
            scope.workspace,
            feed.id,
            channel,
            added_by,
            utcnow(),
        )
        return added > 0

    async def unsubscribe_feed(self, scope: Scope, feed: Feed) -> bool:
        removed = await self.db.execute(
            "DELETE FROM workspace_feeds WHERE platform = $1 AND workspace = $2 AND feed_id = $3",
            scope.platform,
            scope.workspace,
            feed.id,
        )
        return removed > 0

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
        """Healthy again: new validators, the title kept when none came; the lease ends."""
        await self.db.execute(
            "UPDATE feeds SET etag = $1, last_modified = $2, title = COALESCE($3, title), "
            "next_poll_at = $4, consecutive_failures = 0, last_error = NULL, "
            "blocked_by = NULL, failing_since = NULL, last_success_at = $5, last_attempt_at = $5, "
            "lease_owner = NULL, lease_until = NULL WHERE id = $6",
            etag,
            last_modified,
            title,
            next_poll_at,
            at,
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
        """One more failure, with its error (500 characters) and the setting that caused
        it; the lease ends."""
        await self.db.execute(
            "UPDATE feeds SET consecutive_failures = consecutive_failures + 1, "
            "last_error = $1, next_poll_at = $2, last_attempt_at = $3, blocked_by = $4, "
            "failing_since = coalesce(failing_since, $3), "
            "lease_owner = NULL, lease_until = NULL WHERE id = $5",
            error[:500],
            next_poll_at,
            at,
            blocked_by,
            feed.id,
        )

    async def feed_followers(self) -> list[FeedFollower]:
        rows = await self.db.fetch(
            "SELECT f.*, w.platform AS w_platform, w.workspace AS w_workspace, "
            "w.channel AS w_channel, w.alerted AS w_alerted FROM workspace_feeds w "
            "JOIN feeds f ON f.id = w.feed_id WHERE w.channel <> '' ORDER BY f.id, w.added_at"
        )
        return [
            FeedFollower(
                feed_of(r),
                Scope(str(r["w_platform"]), str(r["w_workspace"])),
                str(r["w_channel"]),
                r["w_alerted"],
            )
            for r in rows
        ]

    async def set_alerted(self, follower: FeedFollower, state: str | None) -> None:
        await self.db.execute(
            "UPDATE workspace_feeds SET alerted = $4 WHERE platform = $1 AND workspace = $2 "
            "AND feed_id = $3",
            follower.scope.platform,
            follower.scope.workspace,
            follower.feed.id,
            state,
        )

    async def failing_feeds(self, since_before: datetime) -> list[Feed]:
        rows = await self.db.fetch(
            f"SELECT * FROM feeds WHERE {_POLLED} AND consecutive_failures > 0 "
            "AND failing_since < $1 ORDER BY id",
            since_before,
        )
        return [feed_of(r) for r in rows]

    async def pause_feed(self, feed: Feed, reason: str, *, at: datetime) -> bool:
        paused = await self.db.execute(
            "UPDATE feeds SET paused = $2, paused_at = $3, lease_owner = NULL, "
            "lease_until = NULL WHERE id = $1 AND paused IS NULL AND failing_since IS NOT NULL",
            feed.id,
            reason,
            at,
        )
        return paused > 0

    async def resume_feed(self, feed: Feed, *, at: datetime) -> bool:
        resumed = await self.db.execute(
            "UPDATE feeds SET paused = NULL, paused_at = NULL, consecutive_failures = 0, "
            "failing_since = $2, next_poll_at = NULL WHERE id = $1 AND paused IS NOT NULL",
            feed.id,
            at,
        )
        return resumed > 0


def feed_of(row: Row) -> Feed:
    return Feed(
        id=row["id"],
        url=row["url"],
        title=row["title"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        next_poll_at=maybe_moment(row["next_poll_at"]),
        consecutive_failures=row["consecutive_failures"],
        last_error=row["last_error"],
        last_success_at=maybe_moment(row["last_success_at"]),
        last_attempt_at=maybe_moment(row["last_attempt_at"]),
        is_default=bool(row["is_default"]),
        blocked_by=row["blocked_by"],
        failing_since=maybe_moment(row["failing_since"]),
        paused=row["paused"],
    )

"""Channels' digest subscriptions (SubscriptionStore), and the threads under our posts
with the questions asked in them (ThreadStore), on either engine.

An upsert updates the stored row first and inserts only when there is none:
PostgreSQL takes an identity value even for an insert that ends in ON CONFLICT, and
ids would then skip numbers where SQLite's run 1, 2, 3…
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from bot.domain import QATurn, Scope, Subscription, ThreadContext, ThreadKind
from bot.store.base import StoreBase
from bot.store.sql import Queries, Row, maybe_moment, moment
from bot.timeutil import utcnow

# recent_turns' "all of them" (a negative limit): LIMIT takes no NULL on SQLite.
_ALL = 2**62


class SubscriptionRecords(StoreBase):
    async def upsert_subscription(
        self,
        scope: Scope,
        channel: str,
        *,
        digest_time: str,
        timezone: str,
        topics: Sequence[str],
    ) -> Subscription:
        """Set a channel's digest, enabled; its id and last send are kept."""
        values = (
            scope.platform,
            scope.workspace,
            channel,
            json.dumps(list(topics)),
            digest_time,
            timezone,
            utcnow(),
        )
        async with self.db.transaction() as tx:
            row = await tx.fetchrow(
                "UPDATE subscriptions SET topics = $4, digest_time = $5, timezone = $6, "
                "enabled = TRUE, updated_at = $7 "
                "WHERE platform = $1 AND workspace = $2 AND channel = $3 RETURNING *",
                *values,
            )
            if row is None:
                row = await tx.fetchrow(
                    "INSERT INTO subscriptions (platform, workspace, channel, topics, "
                    "digest_time, timezone, enabled, created_at, updated_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7, $7) "
                    "ON CONFLICT (platform, workspace, channel) DO UPDATE SET "
                    "topics = excluded.topics, digest_time = excluded.digest_time, "
                    "timezone = excluded.timezone, enabled = TRUE, "
                    "updated_at = excluded.updated_at RETURNING *",
                    *values,
                )
        assert row is not None
        return _subscription(row)

    async def get_subscription(self, scope: Scope, channel: str) -> Subscription | None:
        row = await self.db.fetchrow(
            "SELECT * FROM subscriptions WHERE platform = $1 AND workspace = $2 AND channel = $3",
            scope.platform,
            scope.workspace,
            channel,
        )
        return _subscription(row) if row else None

    async def disable_subscription(self, scope: Scope, channel: str) -> bool:
        """False when the channel has no enabled digest."""
        changed = await self.db.execute(
            "UPDATE subscriptions SET enabled = FALSE, updated_at = $1 "
            "WHERE platform = $2 AND workspace = $3 AND channel = $4 AND enabled",
            utcnow(),
            scope.platform,
            scope.workspace,
            channel,
        )
        return changed > 0

    async def list_subscriptions(self) -> list[Subscription]:
        """Every enabled digest, oldest first."""
        rows = await self.db.fetch("SELECT * FROM subscriptions WHERE enabled ORDER BY id")
        return [_subscription(r) for r in rows]

    async def mark_digest_sent(self, subscription_id: int, at: datetime) -> None:
        await self.db.execute(
            "UPDATE subscriptions SET last_digest_at = $1 WHERE id = $2", at, subscription_id
        )


class ThreadRecords(StoreBase):
    async def save_thread(
        self,
        scope: Scope,
        channel: str,
        thread_key: str,
        kind: ThreadKind,
        article_ids: Sequence[int],
    ) -> ThreadContext:
        """Record a thread, or replace a known one's kind and articles (id and age kept)."""
        async with self.db.transaction() as tx:
            return await save_thread(tx, scope, channel, thread_key, kind, article_ids, at=utcnow())

    async def get_thread(self, scope: Scope, channel: str, thread_key: str) -> ThreadContext | None:
        row = await self.db.fetchrow(
            "SELECT * FROM threads WHERE platform = $1 AND workspace = $2 AND channel = $3 "
            "AND thread_key = $4",
            scope.platform,
            scope.workspace,
            channel,
            thread_key,
        )
        return _thread(row) if row else None

    async def add_turn(
        self, thread: ThreadContext, question: str, answer: str, article_ids: Sequence[int]
    ) -> None:
        await self.db.execute(
            "INSERT INTO qa_turns (thread_id, question, answer, article_ids, asked_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            thread.id,
            question,
            answer,
            json.dumps(list(article_ids)),
            utcnow(),
        )

    async def recent_turns(self, thread: ThreadContext, limit: int) -> list[QATurn]:
        """The newest `limit` turns, oldest first (all of them for a negative limit)."""
        rows = await self.db.fetch(
            "SELECT question, answer, asked_at FROM qa_turns WHERE thread_id = $1 "
            "ORDER BY id DESC LIMIT $2",
            thread.id,
            limit if limit >= 0 else _ALL,
        )
        return [QATurn(r["question"], r["answer"], moment(r["asked_at"])) for r in reversed(rows)]


async def save_thread(
    tx: Queries,
    scope: Scope,
    channel: str,
    thread_key: str,
    kind: ThreadKind,
    article_ids: Sequence[int],
    *,
    at: datetime,
) -> ThreadContext:
    """`ThreadRecords.save_thread` inside a transaction (the outbox's too)."""
    values = (
        scope.platform,
        scope.workspace,
        channel,
        thread_key,
        kind.value,
        json.dumps(list(article_ids)),
        at,
    )
    row = await tx.fetchrow(
        "UPDATE threads SET kind = $5, article_ids = $6 WHERE platform = $1 "
        "AND workspace = $2 AND channel = $3 AND thread_key = $4 RETURNING *",
        *values[:-1],
    )
    if row is None:
        row = await tx.fetchrow(
            "INSERT INTO threads (platform, workspace, channel, thread_key, kind, article_ids, "
            "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
            "ON CONFLICT (platform, workspace, channel, thread_key) DO UPDATE SET "
            "kind = excluded.kind, article_ids = excluded.article_ids RETURNING *",
            *values,
        )
    assert row is not None
    return _thread(row)


def _subscription(row: Row) -> Subscription:
    return Subscription(
        id=row["id"],
        scope=Scope(row["platform"], row["workspace"]),
        channel=row["channel"],
        topics=tuple(json.loads(row["topics"])),
        digest_time=row["digest_time"],
        timezone=row["timezone"],
        last_digest_at=maybe_moment(row["last_digest_at"]),
        enabled=bool(row["enabled"]),
    )


def _thread(row: Row) -> ThreadContext:
    return ThreadContext(
        id=row["id"],
        scope=Scope(row["platform"], row["workspace"]),
        channel=row["channel"],
        thread_key=row["thread_key"],
        kind=ThreadKind(row["kind"]),
        article_ids=tuple(json.loads(row["article_ids"])),
        created_at=moment(row["created_at"]),
    )

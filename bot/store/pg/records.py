"""The small record-keeping ports on PostgreSQL: channels' digest subscriptions, claimed
event keys, the threads under our posts and their questions, and the ledgers of model
calls and claim checks. Each answers as SQLite's does (bot/store/sqlite.py).

An upsert updates the stored row first and inserts only when there is none: PostgreSQL
takes an identity value even for an insert that ends in ON CONFLICT, and ids would then
skip numbers where SQLite's run 1, 2, 3…
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bot.domain import QATurn, Scope, Subscription, ThreadContext, ThreadKind
from bot.services.ports import ClaimTally, DayClaims, LlmCall, LlmStats
from bot.store.pg.base import PgBase, rowcount, to_pg
from bot.timeutil import utcnow

# Updates a channel's digest ($1-$3) in place, else inserts it; the row either way.
_UPSERT_SUBSCRIPTION = """
WITH updated AS (
    UPDATE subscriptions SET topics = $4::text, digest_time = $5::text, timezone = $6::text,
        enabled = TRUE, updated_at = $7::timestamptz
    WHERE platform = $1::text AND workspace = $2::text AND channel = $3::text
    RETURNING *
), inserted AS (
    INSERT INTO subscriptions (platform, workspace, channel, topics, digest_time, timezone,
        enabled, created_at, updated_at)
    SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, TRUE,
        $7::timestamptz, $7::timestamptz
    WHERE NOT EXISTS (SELECT 1 FROM updated)
    ON CONFLICT (platform, workspace, channel) DO UPDATE SET topics = excluded.topics,
        digest_time = excluded.digest_time, timezone = excluded.timezone, enabled = TRUE,
        updated_at = excluded.updated_at
    RETURNING *
)
SELECT * FROM updated UNION ALL SELECT * FROM inserted
"""

# Replaces a thread's kind and articles ($5, $6), else records it; the row either way.
SAVE_THREAD = """
WITH updated AS (
    UPDATE threads SET kind = $5::text, article_ids = $6::text
    WHERE platform = $1::text AND workspace = $2::text AND channel = $3::text
        AND thread_key = $4::text
    RETURNING *
), inserted AS (
    INSERT INTO threads (platform, workspace, channel, thread_key, kind, article_ids,
        created_at)
    SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::timestamptz
    WHERE NOT EXISTS (SELECT 1 FROM updated)
    ON CONFLICT (platform, workspace, channel, thread_key) DO UPDATE SET
        kind = excluded.kind, article_ids = excluded.article_ids
    RETURNING *
)
SELECT * FROM updated UNION ALL SELECT * FROM inserted
"""


class PgRecords(PgBase):
    """Subscriptions, claimed deliveries, threads, and the model and claim ledgers."""

    # --- subscriptions -----------------------------------------------------------------

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
        row = await self._fetchrow(
            _UPSERT_SUBSCRIPTION,
            scope.platform,
            scope.workspace,
            channel,
            json.dumps(list(topics)),
            digest_time,
            timezone,
            utcnow(),
        )
        assert row is not None
        return _subscription(row)

    async def get_subscription(self, scope: Scope, channel: str) -> Subscription | None:
        row = await self._fetchrow(
            "SELECT * FROM subscriptions WHERE platform = $1 AND workspace = $2 AND channel = $3",
            scope.platform,
            scope.workspace,
            channel,
        )
        return _subscription(row) if row else None

    async def disable_subscription(self, scope: Scope, channel: str) -> bool:
        """False when the channel has no enabled digest."""
        status = await self._execute(
            "UPDATE subscriptions SET enabled = FALSE, updated_at = $1 "
            "WHERE platform = $2 AND workspace = $3 AND channel = $4 AND enabled",
            utcnow(),
            scope.platform,
            scope.workspace,
            channel,
        )
        return rowcount(status) > 0

    async def list_subscriptions(self) -> list[Subscription]:
        """Every enabled digest, oldest first."""
        rows = await self._fetch("SELECT * FROM subscriptions WHERE enabled ORDER BY id")
        return [_subscription(r) for r in rows]

    async def mark_digest_sent(self, subscription_id: int, at: datetime) -> None:
        await self._execute(
            "UPDATE subscriptions SET last_digest_at = $1 WHERE id = $2",
            to_pg(at),
            subscription_id,
        )

    # --- deliveries ----------------------------------------------------------------------

    async def claim_delivery(self, key: str, scope: Scope, channel: str) -> bool:
        """Claim an event's key for good; False if it was claimed before."""
        now = utcnow()
        claimed = await self._pool.fetchval(
            "INSERT INTO deliveries (key, platform, workspace, channel, status, created_at, "
            "updated_at) VALUES ($1, $2, $3, $4, 'claimed', $5, $5) "
            "ON CONFLICT (key) DO NOTHING RETURNING TRUE",
            key,
            scope.platform,
            scope.workspace,
            channel,
            now,
        )
        return claimed is True

    # --- threads -----------------------------------------------------------------------

    async def save_thread(
        self,
        scope: Scope,
        channel: str,
        thread_key: str,
        kind: ThreadKind,
        article_ids: Sequence[int],
    ) -> ThreadContext:
        """Record a thread, or replace a known one's kind and articles (id and age kept)."""
        row = await self._fetchrow(
            SAVE_THREAD,
            scope.platform,
            scope.workspace,
            channel,
            thread_key,
            kind.value,
            json.dumps(list(article_ids)),
            utcnow(),
        )
        assert row is not None
        return _thread(row)

    async def get_thread(self, scope: Scope, channel: str, thread_key: str) -> ThreadContext | None:
        row = await self._fetchrow(
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
        await self._execute(
            "INSERT INTO qa_turns (thread_id, question, answer, article_ids, asked_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            thread.id,
            question,
            answer,
            json.dumps(list(article_ids)),
            utcnow(),
        )

    async def recent_turns(self, thread: ThreadContext, limit: int) -> list[QATurn]:
        """The newest `limit` turns, oldest first (all of them for a negative limit,
        as SQLite's LIMIT -1)."""
        rows = await self._fetch(
            "SELECT question, answer, asked_at FROM qa_turns WHERE thread_id = $1 "
            "ORDER BY id DESC LIMIT $2",
            thread.id,
            limit if limit >= 0 else None,
        )
        return [
            QATurn(r["question"], r["answer"], r["asked_at"].astimezone(UTC))
            for r in reversed(rows)
        ]

    # --- model output cache and call ledger ----------------------------------------------

    async def cached_output(self, key: str) -> str | None:
        row = await self._fetchrow("SELECT output FROM llm_cache WHERE key = $1", key)
        return str(row[0]) if row else None

    async def cache_output(
        self, key: str, *, kind: str, model: str, prompt_version: str, output: str
    ) -> None:
        """Cache an output under `key`, replacing the output stored there before."""
        await self._execute(
            "INSERT INTO llm_cache (key, kind, model, prompt_version, output, created_at) "
            "VALUES ($1, $2, $3, $4, $5, $6) "
            "ON CONFLICT (key) DO UPDATE SET output = excluded.output",
            key,
            kind,
            model,
            prompt_version,
            output,
            utcnow(),
        )

    async def record_call(self, call: LlmCall, at: datetime) -> None:
        """Count a model call; its error is kept to 500 characters."""
        await self._execute(
            "INSERT INTO llm_calls (at, kind, model, prompt_version, status, tokens_in, "
            "tokens_out, latency_ms, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            to_pg(at),
            call.kind,
            call.model,
            call.prompt_version,
            call.status,
            call.tokens_in,
            call.tokens_out,
            call.latency_ms,
            (call.error or "")[:500] or None,
        )

    async def tokens_used_since(self, since: datetime) -> int:
        """Input plus output tokens of the calls at or after `since`."""
        row = await self._fetchrow(
            "SELECT COALESCE(SUM(tokens_in::bigint + tokens_out), 0) FROM llm_calls WHERE at >= $1",
            to_pg(since),
        )
        return int(row[0]) if row else 0

    async def llm_stats(self, since: datetime | None) -> LlmStats:
        """The calls at or after `since` (None: all) by status, with the top five
        fallback reasons by count, ties in SQLite's order (bytewise, none first)."""
        where, args = _since(since)
        row = await self._fetchrow(
            "SELECT COUNT(*) FILTER (WHERE status IN ('ok', 'error')), "
            "COUNT(*) FILTER (WHERE status = 'ok'), "
            "COUNT(*) FILTER (WHERE status = 'error'), "
            "COUNT(*) FILTER (WHERE status = 'invalid'), "
            "COUNT(*) FILTER (WHERE status = 'fallback'), "
            "COUNT(*) FILTER (WHERE status = 'cache-hit'), "
            "COALESCE(SUM(tokens_in), 0), COALESCE(SUM(tokens_out), 0) "
            f"FROM llm_calls WHERE {where}",
            *args,
        )
        assert row is not None
        reasons = await self._fetch(
            "SELECT error, COUNT(*) AS n FROM llm_calls "
            f"WHERE status = 'fallback' AND {where} "
            'GROUP BY error ORDER BY n DESC, error COLLATE "C" NULLS FIRST LIMIT 5',
            *args,
        )
        requests, ok, errors, invalid, fallbacks, hits, tokens_in, tokens_out = (
            int(v) for v in row
        )
        return LlmStats(
            requests,
            ok,
            errors,
            invalid,
            fallbacks,
            hits,
            tokens_in,
            tokens_out,
            fallback_reasons=tuple((str(r["error"]), int(r["n"])) for r in reasons),
        )

    # --- claim checks ------------------------------------------------------------------

    async def record_claims(self, tally: ClaimTally, at: datetime) -> None:
        await self._execute(
            "INSERT INTO claim_checks (at, kind, checked, recited, dropped, fallbacks) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            to_pg(at),
            tally.kind,
            tally.checked,
            tally.recited,
            tally.dropped,
            tally.fallbacks,
        )

    async def claims_by_day(self, since: datetime | None) -> list[DayClaims]:
        """The checks at or after `since` (None: all), summed per UTC day, oldest first."""
        where, args = _since(since)
        rows = await self._fetch(
            "SELECT (at AT TIME ZONE 'UTC')::date AS day, SUM(checked) AS checked, "
            "SUM(recited) AS recited, SUM(dropped) AS dropped, SUM(fallbacks) AS fallbacks "
            f"FROM claim_checks WHERE {where} GROUP BY day ORDER BY day",
            *args,
        )
        return [
            DayClaims(
                r["day"],
                int(r["checked"]),
                int(r["recited"]),
                int(r["dropped"]),
                int(r["fallbacks"]),
            )
            for r in rows
        ]


def _since(since: datetime | None) -> tuple[str, tuple[Any, ...]]:
    """A condition on `at` from `since` on, and its parameters; None: every row."""
    if since is None:
        return "TRUE", ()
    return "at >= $1", (to_pg(since),)


def _subscription(row: asyncpg.Record) -> Subscription:
    last = row["last_digest_at"]
    return Subscription(
        id=row["id"],
        scope=Scope(row["platform"], row["workspace"]),
        channel=row["channel"],
        topics=tuple(json.loads(row["topics"])),
        digest_time=row["digest_time"],
        timezone=row["timezone"],
        last_digest_at=None if last is None else last.astimezone(UTC),
        enabled=row["enabled"],
    )


def _thread(row: asyncpg.Record) -> ThreadContext:
    return ThreadContext(
        id=row["id"],
        scope=Scope(row["platform"], row["workspace"]),
        channel=row["channel"],
        thread_key=row["thread_key"],
        kind=ThreadKind(row["kind"]),
        article_ids=tuple(json.loads(row["article_ids"])),
        created_at=row["created_at"].astimezone(UTC),
    )

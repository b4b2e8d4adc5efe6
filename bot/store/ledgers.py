"""The model's output cache and call ledger (LlmLedger), the claim checks (ClaimLedger),
and what `python -m bot health` reads of the database (HealthStore), on either engine."""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime

from bot.services.ledgers import (
    ClaimTally,
    DayClaims,
    DayTokens,
    LlmCall,
    LlmStats,
    RecentDelivery,
    StoreHealth,
    StoreTotals,
)
from bot.store.base import StoreBase
from bot.store.sql import day, moment, utc_day
from bot.timeutil import utcnow

# A condition on `at` from $1 on; a NULL $1 is every row.
_SINCE = "($1::timestamptz IS NULL OR at >= $1)"


class LlmRecords(StoreBase):
    async def cached_output(self, key: str) -> str | None:
        output = await self.db.fetchval("SELECT output FROM llm_cache WHERE key = $1", key)
        return None if output is None else str(output)

    async def cache_output(
        self, key: str, *, kind: str, model: str, prompt_version: str, output: str
    ) -> None:
        """Cache an output under `key`, replacing the output stored there before."""
        await self.db.execute(
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
        await self.db.execute(
            "INSERT INTO llm_calls (at, kind, model, prompt_version, status, tokens_in, "
            "tokens_out, latency_ms, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            at,
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
        used = await self.db.fetchval(
            "SELECT COALESCE(SUM(tokens_in::bigint + tokens_out), 0) FROM llm_calls WHERE at >= $1",
            since,
        )
        return int(used or 0)

    async def llm_stats(self, since: datetime | None) -> LlmStats:
        """The calls at or after `since` (None: all) by status, with the top five
        fallback reasons by count, ties bytewise (none first)."""
        row = await self.db.fetchrow(
            "SELECT COUNT(*) FILTER (WHERE status IN ('ok', 'error')), "
            "COUNT(*) FILTER (WHERE status = 'ok'), "
            "COUNT(*) FILTER (WHERE status = 'error'), "
            "COUNT(*) FILTER (WHERE status = 'invalid'), "
            "COUNT(*) FILTER (WHERE status = 'fallback'), "
            "COUNT(*) FILTER (WHERE status = 'cache-hit'), "
            "COALESCE(SUM(tokens_in), 0), COALESCE(SUM(tokens_out), 0) "
            f"FROM llm_calls WHERE {_SINCE}",
            since,
        )
        assert row is not None
        reasons = await self.db.fetch(
            f"SELECT error, COUNT(*) AS n FROM llm_calls WHERE status = 'fallback' AND {_SINCE} "
            'GROUP BY error ORDER BY n DESC, error COLLATE "C" NULLS FIRST LIMIT 5',
            since,
        )
        requests, ok, errors, invalid, fallbacks, hits, tokens_in, tokens_out = (
            int(row[i]) for i in range(8)
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

    async def tokens_by_day(self, since: datetime) -> list[DayTokens]:
        rows = await self.db.fetch(
            f"SELECT {utc_day(self.db.engine, 'at')} AS day, SUM(tokens_in) AS tokens_in, "
            f"SUM(tokens_out) AS tokens_out FROM llm_calls WHERE {_SINCE} "
            "GROUP BY day ORDER BY day",
            since,
        )
        return [
            DayTokens(day(r["day"]), int(r["tokens_in"] or 0), int(r["tokens_out"] or 0))
            for r in rows
        ]


class ClaimRecords(StoreBase):
    async def record_claims(self, tally: ClaimTally, at: datetime) -> None:
        await self.db.execute(
            "INSERT INTO claim_checks (at, kind, checked, recited, dropped, fallbacks) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            at,
            tally.kind,
            tally.checked,
            tally.recited,
            tally.dropped,
            tally.fallbacks,
        )

    async def claims_by_day(self, since: datetime | None) -> list[DayClaims]:
        """The checks at or after `since` (None: all), summed per UTC day, oldest first."""
        rows = await self.db.fetch(
            f"SELECT {utc_day(self.db.engine, 'at')} AS day, SUM(checked) AS checked, "
            "SUM(recited) AS recited, SUM(dropped) AS dropped, SUM(fallbacks) AS fallbacks "
            f"FROM claim_checks WHERE {_SINCE} GROUP BY day ORDER BY day",
            since,
        )
        return [
            DayClaims(
                day(r["day"]),
                int(r["checked"]),
                int(r["recited"]),
                int(r["dropped"]),
                int(r["fallbacks"]),
            )
            for r in rows
        ]


class HealthRecords(StoreBase):
    @abstractmethod
    async def schema_version(self) -> int: ...

    async def health(self, *, now: datetime, overdue_before: datetime) -> StoreHealth:
        """The feeds read, overdue and being polled; the posts unfinished and being posted."""
        row = await self.db.fetchrow(
            "WITH polled AS (SELECT * FROM feeds WHERE is_default OR id IN "
            "(SELECT feed_id FROM workspace_feeds)) "
            "SELECT (SELECT count(*) FROM polled) AS feeds, "
            "(SELECT count(*) FROM polled WHERE next_poll_at < $2) AS overdue, "
            "(SELECT count(*) FROM feeds WHERE lease_until >= $1) AS feeds_leased, "
            "(SELECT count(*) FROM deliveries WHERE status = 'pending') AS pending, "
            "(SELECT count(*) FROM deliveries WHERE status = 'pending' AND lease_until >= $1) "
            "AS deliveries_leased",
            now,
            overdue_before,
        )
        assert row is not None
        return StoreHealth(
            self.db.engine,
            await self.schema_version(),
            int(row["feeds"]),
            int(row["overdue"]),
            int(row["feeds_leased"]),
            int(row["pending"]),
            int(row["deliveries_leased"]),
        )

    async def totals(self) -> StoreTotals:
        row = await self.db.fetchrow(
            "SELECT (SELECT count(*) FROM feeds WHERE is_default OR id IN "
            "(SELECT feed_id FROM workspace_feeds)) AS feeds, "
            "(SELECT count(*) FROM feeds WHERE consecutive_failures > 0 AND (is_default OR id "
            "IN (SELECT feed_id FROM workspace_feeds))) AS feeds_failing, "
            "(SELECT count(*) FROM articles) AS articles, "
            "(SELECT count(*) FROM stories) AS stories, "
            "(SELECT count(*) FROM deliveries WHERE status = 'posted' AND key LIKE 'digest:%' "
            "AND key NOT LIKE '%:update:%' AND key NOT LIKE '%:late') AS digests_posted, "
            "(SELECT count(*) FROM deliveries WHERE status = 'posted') AS posted, "
            "(SELECT count(*) FROM deliveries WHERE status = 'pending') AS pending, "
            "(SELECT count(*) FROM deliveries WHERE late_reported) AS late, "
            "(SELECT count(*) FROM deliveries WHERE status = 'abandoned') AS abandoned, "
            "(SELECT count(*) FROM delivery_parts WHERE state = 'sent') AS parts_sent"
        )
        assert row is not None
        return StoreTotals(*(int(row[i]) for i in range(10)))

    async def recent_deliveries(self, limit: int) -> list[RecentDelivery]:
        rows = await self.db.fetch(
            "SELECT key, platform, channel, status, created_at, updated_at, attempts, "
            "late_reported, error FROM deliveries WHERE status IN ('pending', 'posted', "
            "'abandoned') ORDER BY created_at DESC, key LIMIT $1",
            limit,
        )
        return [
            RecentDelivery(
                str(r["key"]),
                str(r["platform"]),
                str(r["channel"]),
                str(r["status"]),
                moment(r["created_at"]),
                moment(r["updated_at"]),
                int(r["attempts"]),
                bool(r["late_reported"]),
                r["error"],
            )
            for r in rows
        ]

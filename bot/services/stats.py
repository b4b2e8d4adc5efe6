"""`stats`: what the model cost, how its claims fared, and what is left to post."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.services.delivery import OutboxCounts
from bot.services.ledgers import DayClaims, LlmStats
from bot.services.ports import ClaimLedger, LlmLedger, OutboxStore
from bot.timeutil import utcnow


@dataclass(frozen=True)
class UsageReport:
    today: LlmStats  # since midnight UTC, when the daily token budget starts again
    all_time: LlmStats
    claim_days: list[DayClaims]  # the last `days`, oldest first; days with no checks left out
    tokens_today: int
    deliveries: OutboxCounts  # unfinished, late and abandoned posts


class StatsService:
    def __init__(
        self,
        calls: LlmLedger,
        claims: ClaimLedger,
        outbox: OutboxStore,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._calls = calls
        self._claims = claims
        self._outbox = outbox
        self._clock = clock

    async def report(self, days: int) -> UsageReport:
        now = self._clock()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return UsageReport(
            today=await self._calls.llm_stats(midnight),
            all_time=await self._calls.llm_stats(None),
            claim_days=await self._claims.claims_by_day(now - timedelta(days=days)),
            tokens_today=await self._calls.tokens_used_since(midnight),
            deliveries=await self._outbox.outbox_counts(now),
        )

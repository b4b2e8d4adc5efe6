"""`stats`: what the model cost and how its claims fared, read from the ledgers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.services.ports import ClaimLedger, DayClaims, LlmLedger, LlmStats
from bot.timeutil import utcnow


@dataclass(frozen=True)
class UsageReport:
    today: LlmStats  # since midnight UTC, when the daily token budget starts again
    all_time: LlmStats
    claim_days: list[DayClaims]  # the last `days`, oldest first; days with no checks left out
    tokens_today: int


class StatsService:
    def __init__(
        self,
        calls: LlmLedger,
        claims: ClaimLedger,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._calls = calls
        self._claims = claims
        self._clock = clock

    async def report(self, days: int) -> UsageReport:
        now = self._clock()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return UsageReport(
            today=await self._calls.llm_stats(midnight),
            all_time=await self._calls.llm_stats(None),
            claim_days=await self._claims.claims_by_day(now - timedelta(days=days)),
            tokens_today=await self._calls.tokens_used_since(midnight),
        )

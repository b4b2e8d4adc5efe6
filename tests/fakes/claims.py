"""In-memory claim ledger: the ClaimLedger port for core tests, no SQLite."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime

from bot.services.ledgers import ClaimTally, DayClaims


class InMemoryClaimLedger:
    def __init__(self) -> None:
        self.tallies: list[tuple[ClaimTally, datetime]] = []

    async def record_claims(self, tally: ClaimTally, at: datetime) -> None:
        self.tallies.append((tally, at))

    async def claims_by_day(self, since: datetime | None) -> list[DayClaims]:
        days: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for tally, at in self.tallies:
            if since is None or at >= since:
                row = days[at.astimezone(UTC).date()]
                row[0] += tally.checked
                row[1] += tally.recited
                row[2] += tally.dropped
                row[3] += tally.fallbacks
        return [DayClaims(day, *counts) for day, counts in sorted(days.items())]

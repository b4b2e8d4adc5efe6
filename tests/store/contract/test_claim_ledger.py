"""The claim ledger's contract: checks summed per UTC day, on every engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.services.ledgers import ClaimTally
from bot.services.ports import ClaimLedger

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


async def test_claim_counts_add_up_per_utc_day(engine: ClaimLedger) -> None:
    """Checks are summed per UTC day, and days before `since` are left out."""
    ledger = engine
    await ledger.record_claims(ClaimTally("digest_item", 4, 1, 2, 0), NOW - timedelta(days=2))
    await ledger.record_claims(ClaimTally("digest_item", 3, 0, 1, 1), NOW)
    await ledger.record_claims(ClaimTally("thread_answer", 1, 0, 1, 1), NOW + timedelta(hours=1))
    days = await ledger.claims_by_day(None)
    assert [(d.day.isoformat(), d.checked, d.recited, d.dropped, d.fallbacks) for d in days] == [
        ("2026-11-28", 4, 1, 2, 0),
        ("2026-11-30", 4, 0, 2, 2),
    ]
    assert len(await ledger.claims_by_day(NOW - timedelta(hours=1))) == 1

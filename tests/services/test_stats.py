from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain import Scope
from bot.services.delivery import Delivery, OutboxCounts, OutboxPart
from bot.services.ledgers import ClaimTally, LlmCall
from bot.services.stats import StatsService
from tests.fakes.store import InMemoryStore

NOW = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)


async def test_report_splits_today_from_all_time_and_keeps_the_asked_days(
    store: InMemoryStore,
) -> None:
    """Today counts from midnight UTC; claim checks older than the asked days are left out."""
    yesterday, long_ago = NOW - timedelta(days=1), NOW - timedelta(days=30)
    await store.record_call(LlmCall("summary", "m", "v1", "ok", tokens_in=100), yesterday)
    await store.record_call(LlmCall("summary", "m", "v1", "ok", tokens_in=40), NOW)
    await store.record_claims(ClaimTally("digest_item", 5, 1, 2), NOW)
    await store.record_claims(ClaimTally("digest_item", 9, 0, 9), long_ago)
    report = await StatsService(store, store, store, clock=lambda: NOW).report(days=7)
    assert (report.today.requests, report.all_time.requests) == (1, 2)
    assert report.tokens_today == 40
    assert [(d.checked, d.recited, d.dropped) for d in report.claim_days] == [(5, 1, 2)]


async def test_report_counts_unfinished_late_and_abandoned_posts(store: InMemoryStore) -> None:
    """What the outbox still holds is in the report: a digest past its grace is late."""
    late = Delivery(
        "digest:1:2026-12-01",
        Scope("slack", "T1"),
        "C1",
        (OutboxPart(0, "{}"),),
        created_at=NOW - timedelta(hours=5),
        due_at=NOW - timedelta(hours=5),
        late_after=NOW - timedelta(hours=2),
    )
    await store.enqueue([late])
    report = await StatsService(store, store, store, clock=lambda: NOW).report(days=7)
    assert report.deliveries == OutboxCounts(pending=1, late=1, abandoned=0)

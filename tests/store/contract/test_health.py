"""The HealthStore contract: what `python -m bot health` reports of the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain import Scope
from bot.services.delivery import Delivery, OutboxPart, SentPart
from bot.services.ledgers import LlmCall
from bot.services.ports import FeedStore, HealthStore, OutboxStore

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def test_health_counts_feeds_overdue_and_leased_and_posts_unfinished(
    engine: HealthStore, feeds: FeedStore, outbox: OutboxStore
) -> None:
    """Overdue: due before the moment asked about; leased: live leases only."""
    await feeds.sync_default_feeds([f"https://{n}.example/feed" for n in "abc"])
    a, b, c = await feeds.polled_feeds()
    for feed, due in ((a, T0 - timedelta(hours=2)), (b, T0 + timedelta(minutes=5))):
        await feeds.record_fetch_success(
            feed, at=T0, next_poll_at=due, etag=None, last_modified=None, title=None
        )
    (c,) = [f for f in await feeds.polled_feeds() if f.id == c.id]
    await feeds.lease_feeds([c], "w1", now=T0, until=T0 + timedelta(minutes=30))
    parts = (OutboxPart(0, "{}"),)
    await outbox.enqueue(
        [Delivery(k, Scope("slack", "T"), "C", parts, created_at=T0) for k in ("k1", "k2")]
    )
    await outbox.lease_delivery("k1", "w1", now=T0, until=T0 + timedelta(seconds=60))
    health = await engine.health(now=T0, overdue_before=T0 - timedelta(minutes=30))
    assert (health.feeds, health.feeds_overdue, health.feeds_leased) == (3, 1, 1)
    assert (health.deliveries_pending, health.deliveries_leased) == (2, 1)
    later = await engine.health(
        now=T0 + timedelta(hours=1), overdue_before=T0 + timedelta(minutes=30)
    )
    assert (later.feeds_overdue, later.feeds_leased, later.deliveries_leased) == (2, 0, 0)


async def test_totals_count_feeds_failing_and_posts_by_state(
    engine: HealthStore, feeds: FeedStore, outbox: OutboxStore
) -> None:
    """Feeds read and failing; digests posted (not their updates), parts sent, pending."""
    await feeds.sync_default_feeds([f"https://{n}.example/feed" for n in "ab"])
    a, _ = await feeds.polled_feeds()
    await feeds.record_fetch_failure(
        a, at=T0, error="HTTP 500", next_poll_at=T0 + timedelta(hours=1)
    )
    scope = Scope("slack", "T")
    keys = ("digest:1:2026-12-01", "digest:1:2026-12-01:update:7", "command:x", "answer:y")
    await outbox.enqueue([Delivery(k, scope, "C", (OutboxPart(0, "{}"),), T0) for k in keys])
    for key in keys[:3]:
        assert await outbox.lease_delivery(key, "w", now=T0, until=T0 + timedelta(minutes=1))
        await outbox.mark_part_sending(key, 0, "w", at=T0, lease_until=T0 + timedelta(minutes=1))
        await outbox.mark_part_sent(key, 0, "w", SentPart(f"m-{key}"), at=T0)
    totals = await engine.totals()
    assert (totals.feeds, totals.feeds_failing) == (2, 1)
    assert (totals.digests_posted, totals.deliveries_posted, totals.parts_sent) == (1, 3, 3)
    assert (totals.deliveries_pending, totals.deliveries_abandoned) == (1, 0)


async def test_recent_deliveries_newest_first_with_their_state(
    engine: HealthStore, outbox: OutboxStore
) -> None:
    """The status page's list: newest first, claimed keys left out, limit kept."""
    scope = Scope("slack", "T")
    for n in range(3):
        at = T0 + timedelta(minutes=n)
        await outbox.enqueue([Delivery(f"k{n}", scope, "C", (OutboxPart(0, "{}"),), at)])
    await outbox.claim_delivery("event-1", scope, "C")  # type: ignore[attr-defined]
    recent = await engine.recent_deliveries(2)
    assert [(d.key, d.status, d.platform, d.channel) for d in recent] == [
        ("k2", "pending", "slack", "C"),
        ("k1", "pending", "slack", "C"),
    ]


async def test_tokens_by_day_sum_each_utc_day(engine: HealthStore) -> None:
    """Tokens read and written, summed per UTC day, oldest first, from `since` on."""
    ledger: Any = engine
    for hours, tokens in ((0, 100), (1, 50), (24, 7), (-48, 999)):
        call = LlmCall("digest_item", "m", "v1", "ok", tokens, 1)
        await ledger.record_call(call, T0 + timedelta(hours=hours))
    days = await ledger.tokens_by_day(T0 - timedelta(hours=1))
    assert [(d.day.isoformat(), d.tokens_in, d.tokens_out) for d in days] == [
        ("2026-12-01", 150, 2),
        ("2026-12-02", 7, 1),
    ]

"""The HealthStore contract: what `python -m bot health` reports of the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain import Scope
from bot.services.delivery import Delivery, OutboxPart
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

"""The SubscriptionStore contract: one daily digest per channel, switched on and off."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain import Scope
from bot.services.ports import SubscriptionStore

A = Scope("slack", "TA")
B = Scope("discord", "GB")
T0 = datetime(2025, 3, 1, 7, 0, tzinfo=UTC)


async def test_a_new_subscription_is_enabled_and_never_sent(
    subscriptions: SubscriptionStore,
) -> None:
    """Upsert creates the digest with its time, zone and topics, enabled."""
    sub = await subscriptions.upsert_subscription(
        A, "C1", digest_time="08:00", timezone="Europe/Kyiv", topics=["energy", "rail"]
    )
    assert (sub.id, sub.scope, sub.channel) == (1, A, "C1")
    assert (sub.digest_time, sub.timezone, sub.topics) == (
        "08:00",
        "Europe/Kyiv",
        ("energy", "rail"),
    )
    assert sub.enabled and sub.last_digest_at is None
    assert await subscriptions.get_subscription(A, "C1") == sub
    assert await subscriptions.get_subscription(A, "C2") is None
    assert await subscriptions.get_subscription(B, "C1") is None


async def test_upserting_again_updates_the_same_subscription(
    subscriptions: SubscriptionStore,
) -> None:
    """A channel has one digest: setting it again changes it in place, keeping its id."""
    first = await subscriptions.upsert_subscription(
        A, "C1", digest_time="08:00", timezone="UTC", topics=["x"]
    )
    second = await subscriptions.upsert_subscription(
        A, "C1", digest_time="09:30", timezone="Europe/Kyiv", topics=[]
    )
    assert second.id == first.id
    assert (second.digest_time, second.timezone, second.topics) == ("09:30", "Europe/Kyiv", ())
    assert await subscriptions.list_subscriptions() == [second]


async def test_disable_reports_whether_it_changed_anything(
    subscriptions: SubscriptionStore,
) -> None:
    """Disabling is True once; the digest stays readable but leaves the schedule."""
    await subscriptions.upsert_subscription(A, "C1", digest_time="08:00", timezone="UTC", topics=[])
    assert await subscriptions.disable_subscription(A, "C1")
    assert not await subscriptions.disable_subscription(A, "C1")
    assert not await subscriptions.disable_subscription(A, "unknown")
    off = await subscriptions.get_subscription(A, "C1")
    assert off is not None and not off.enabled
    assert await subscriptions.list_subscriptions() == []


async def test_upserting_a_disabled_subscription_enables_it_again(
    subscriptions: SubscriptionStore,
) -> None:
    """Setting a digest that was turned off turns it back on, same id, last send kept."""
    sub = await subscriptions.upsert_subscription(
        A, "C1", digest_time="08:00", timezone="UTC", topics=[]
    )
    await subscriptions.mark_digest_sent(sub.id, T0)
    await subscriptions.disable_subscription(A, "C1")
    again = await subscriptions.upsert_subscription(
        A, "C1", digest_time="10:00", timezone="UTC", topics=["ai"]
    )
    assert (again.id, again.enabled, again.last_digest_at) == (sub.id, True, T0)
    assert await subscriptions.list_subscriptions() == [again]


async def test_list_is_every_enabled_subscription_by_id(
    subscriptions: SubscriptionStore,
) -> None:
    """All workspaces' enabled digests, oldest first; a channel name is per workspace."""
    for scope, channel in [(B, "C1"), (A, "C1"), (A, "C2")]:
        await subscriptions.upsert_subscription(
            scope, channel, digest_time="08:00", timezone="UTC", topics=[]
        )
    await subscriptions.disable_subscription(A, "C1")
    listed = await subscriptions.list_subscriptions()
    assert [(s.id, s.scope, s.channel) for s in listed] == [(1, B, "C1"), (3, A, "C2")]


async def test_mark_digest_sent_records_the_moment(subscriptions: SubscriptionStore) -> None:
    """The last send is stored on that subscription only, and survives an update."""
    one = await subscriptions.upsert_subscription(
        A, "C1", digest_time="08:00", timezone="UTC", topics=[]
    )
    two = await subscriptions.upsert_subscription(
        A, "C2", digest_time="08:00", timezone="UTC", topics=[]
    )
    await subscriptions.mark_digest_sent(one.id, T0)
    sent = await subscriptions.get_subscription(A, "C1")
    assert sent is not None and sent.last_digest_at == T0
    assert sent.last_digest_at.utcoffset() is not None
    other = await subscriptions.get_subscription(A, "C2")
    assert other == two
    updated = await subscriptions.upsert_subscription(
        A, "C1", digest_time="07:00", timezone="UTC", topics=[]
    )
    assert updated.last_digest_at == T0

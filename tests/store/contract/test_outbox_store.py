"""The OutboxStore contract: deliveries stored whole, parts recorded one by one, leases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import NewArticle, Scope, StoryVersion, ThreadKind
from bot.services.delivery import Delivery, OutboxCounts, OutboxPart, PostShows, SentPart
from bot.services.ports import ArticleStore, FeedStore, OutboxStore, StoryStore, ThreadStore
from tests.helpers import store_article

A = Scope("slack", "TA")
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


def _delivery(key: str = "digest:1:2026-11-30", parts: int = 3, **kw: object) -> Delivery:
    return Delivery(
        key=key,
        scope=A,
        channel="C1",
        parts=tuple(OutboxPart(i, f'{{"n": {i}}}') for i in range(parts)),
        created_at=T0,
        **kw,  # type: ignore[arg-type]
    )


async def _leased(outbox: OutboxStore, delivery: Delivery, owner: str = "w1") -> Delivery:
    assert await outbox.enqueue([delivery]) == [True]
    leased = await outbox.lease_delivery(delivery.key, owner, now=T0, until=T0 + LEASE)
    assert leased is not None
    return leased


async def _send(outbox: OutboxStore, key: str, index: int, owner: str = "w1", **kw: str) -> bool:
    assert await outbox.mark_part_sending(key, index, owner, at=T0, lease_until=T0 + LEASE)
    return await outbox.mark_part_sent(key, index, owner, SentPart(f"m{index}", **kw), at=T0)


async def test_a_delivery_is_stored_once_with_every_part_pending(outbox: OutboxStore) -> None:
    """Enqueueing a key again changes nothing; parts come back in order, pending."""
    first = _delivery(due_at=T0, late_after=T0 + timedelta(hours=3))
    assert await outbox.enqueue([first, _delivery("other", parts=1)]) == [True, True]
    assert await outbox.enqueue([_delivery(parts=5)]) == [False]
    stored = await outbox.get_delivery(first.key)
    assert stored is not None
    assert [(p.index, p.payload, p.state) for p in stored.parts] == [
        (0, '{"n": 0}', "pending"),
        (1, '{"n": 1}', "pending"),
        (2, '{"n": 2}', "pending"),
    ]
    assert (stored.status, stored.due_at, stored.late_after) == (
        "pending",
        T0,
        T0 + timedelta(hours=3),
    )
    assert await outbox.get_delivery("nothing") is None


async def test_a_delivery_without_parts_is_posted_at_once(outbox: OutboxStore) -> None:
    """An empty digest is recorded as done: it is neither due nor leasable."""
    await outbox.enqueue([_delivery(parts=0)])
    stored = await outbox.get_delivery("digest:1:2026-11-30")
    assert stored is not None and stored.status == "posted"
    assert await outbox.due_deliveries(T0) == []
    assert await outbox.lease_delivery(stored.key, "w1", now=T0, until=T0 + LEASE) is None


async def test_a_lease_excludes_others_until_it_expires(outbox: OutboxStore) -> None:
    """A held lease refuses another worker, not its holder; expired, anyone may take it."""
    delivery = await _leased(outbox, _delivery())
    later = T0 + timedelta(seconds=30)
    assert await outbox.lease_delivery(delivery.key, "w2", now=later, until=later + LEASE) is None
    assert await outbox.lease_delivery(delivery.key, "w1", now=later, until=later + LEASE)
    expired = later + LEASE + timedelta(seconds=1)
    assert await outbox.lease_delivery(delivery.key, "w2", now=expired, until=expired + LEASE)
    assert not await outbox.mark_part_sending(
        delivery.key, 0, "w1", at=expired, lease_until=expired + LEASE
    )


async def test_parts_are_recorded_one_by_one_until_the_delivery_is_posted(
    outbox: OutboxStore,
) -> None:
    """Sending, then sent with the message id; the last part sent posts the delivery."""
    delivery = await _leased(outbox, _delivery())
    assert await _send(outbox, delivery.key, 0)
    assert await outbox.mark_part_sending(
        delivery.key, 1, "w1", at=T0 + timedelta(seconds=5), lease_until=T0 + LEASE
    )
    stored = await outbox.get_delivery(delivery.key)
    assert stored is not None
    assert [(p.state, p.message_id) for p in stored.parts] == [
        ("sent", "m0"),
        ("sending", None),
        ("pending", None),
    ]
    assert stored.parts[1].sending_since == T0 + timedelta(seconds=5)
    assert [p.index for p in stored.unsent] == [1, 2]
    # A second try at the same part keeps when the first began: the platform is searched
    # from there.
    assert await outbox.mark_part_sending(
        delivery.key, 1, "w1", at=T0 + timedelta(seconds=90), lease_until=T0 + LEASE
    )
    stored = await outbox.get_delivery(delivery.key)
    assert stored is not None and stored.parts[1].sending_since == T0 + timedelta(seconds=5)
    assert await outbox.mark_part_sent(delivery.key, 1, "w1", SentPart("m1"), at=T0)
    assert await _send(outbox, delivery.key, 2)
    stored = await outbox.get_delivery(delivery.key)
    assert stored is not None and stored.status == "posted"
    assert not await _send_refused(outbox, delivery.key)


async def _send_refused(outbox: OutboxStore, key: str) -> bool:
    return await outbox.mark_part_sending(key, 0, "w1", at=T0, lease_until=T0 + LEASE)


async def test_only_the_lease_holder_records_parts(outbox: OutboxStore) -> None:
    """A worker without the lease can neither start nor finish a part."""
    delivery = await _leased(outbox, _delivery())
    assert not await outbox.mark_part_sending(delivery.key, 0, "w2", at=T0, lease_until=T0 + LEASE)
    assert not await outbox.mark_part_sent(delivery.key, 0, "w2", SentPart("x"), at=T0)
    stored = await outbox.get_delivery(delivery.key)
    assert stored is not None and stored.parts[0].state == "pending"


async def test_due_deliveries_leave_out_the_held_the_waiting_and_the_done(
    outbox: OutboxStore,
) -> None:
    """Due: pending, not held (or held past expiry), and past any retry time."""
    await outbox.enqueue([_delivery("free"), _delivery("done", parts=0)])
    await _leased(outbox, _delivery("held"))
    waiting = await _leased(outbox, _delivery("waiting"))
    await outbox.release_delivery(
        waiting.key, "w1", retry_at=T0 + timedelta(minutes=5), error="ConnectionError: down"
    )
    assert sorted(await outbox.due_deliveries(T0)) == ["free"]
    later = T0 + timedelta(minutes=6)
    assert sorted(await outbox.due_deliveries(later)) == ["free", "held", "waiting"]
    stored = await outbox.get_delivery("waiting")
    assert stored is not None
    assert (stored.attempts, stored.error) == (1, "ConnectionError: down")


async def test_a_released_lease_is_free_at_once(outbox: OutboxStore) -> None:
    """Released without an error (shutting down), or all at start-up, it is due now."""
    await _leased(outbox, _delivery("a"))
    await _leased(outbox, _delivery("b"))
    await outbox.release_delivery("a", "w1")
    assert await outbox.due_deliveries(T0) == ["a"]
    assert await outbox.release_all_leases() == 1
    assert sorted(await outbox.due_deliveries(T0)) == ["a", "b"]


async def test_abandoned_and_late_deliveries_are_counted(outbox: OutboxStore) -> None:
    """Counts: pending, late (past `late_after` unfinished, or reported late), abandoned."""
    await outbox.enqueue(
        [
            _delivery("late", late_after=T0 + timedelta(hours=1)),
            _delivery("told", parts=1, late_after=T0),
            _delivery("on-time", late_after=T0 + timedelta(hours=9)),
            _delivery("gone"),
        ]
    )
    await outbox.mark_late_reported("told")
    await outbox.abandon_delivery("gone", "w1", error="too old")
    counts = await outbox.outbox_counts(T0 + timedelta(hours=2))
    assert counts == OutboxCounts(pending=3, late=2, abandoned=1)
    gone = await outbox.get_delivery("gone")
    assert gone is not None and (gone.status, gone.error) == ("abandoned", "too old")
    assert "gone" not in await outbox.due_deliveries(T0 + timedelta(hours=2))


@pytest.fixture
async def posted_story(feeds: FeedStore, articles: ArticleStore) -> tuple[int, int]:
    feed = await feeds.add_feed("https://example.com/feed.xml")
    article_id = await store_article(articles, feed, _article())
    assert article_id is not None
    return article_id, article_id  # a story is named after its first article


def _article() -> NewArticle:
    return NewArticle(
        guid="g1",
        url="https://example.com/a",
        canonical_url="https://example.com/a",
        title="Port strike ends",
        source="Example",
        published_at=T0,
        fetched_at=T0,
        text="Dock workers ended the strike.",
        is_full_text=False,
        content_hash="h1",
    )


async def test_the_part_that_opens_a_thread_records_it_with_its_stories(
    outbox: OutboxStore,
    threads: ThreadStore,
    stories: StoryStore,
    posted_story: tuple[int, int],
) -> None:
    """The thread a part opened answers from the post's articles; stories go under the first."""
    article_id, story_id = posted_story
    shows = PostShows(ThreadKind.DIGEST, (article_id,), (StoryVersion(story_id, 1),))
    delivery = await _leased(outbox, _delivery(parts=2, shows=shows))
    assert await _send(outbox, delivery.key, 0, thread_key="t0")
    assert await _send(outbox, delivery.key, 1, thread_key="t1")
    for key in ("t0", "t1"):
        thread = await threads.get_thread(A, "C1", key)
        assert thread is not None
        assert (thread.kind, thread.article_ids) == (ThreadKind.DIGEST, (article_id,))
    shown = await stories.posted_stories(A, "C1", [story_id])
    assert shown[story_id].thread_key == "t0"


async def test_a_post_into_a_thread_records_its_stories_under_that_thread(
    outbox: OutboxStore, stories: StoryStore, posted_story: tuple[int, int]
) -> None:
    """An update's first part records the story's new version under the earlier thread."""
    _, story_id = posted_story
    shows = PostShows(ThreadKind.UPDATE, (), (StoryVersion(story_id, 3),))
    delivery = await _leased(outbox, _delivery(parts=2, shows=shows, thread_key="t0"))
    assert await _send(outbox, delivery.key, 0)
    shown = await stories.posted_stories(A, "C1", [story_id])
    assert (shown[story_id].version, shown[story_id].thread_key) == (3, "t0")


async def test_releasing_all_leases_frees_feeds_too(outbox: OutboxStore, feeds: FeedStore) -> None:
    """At start-up on an embedded database, a killed process's feed leases go as well."""
    await feeds.sync_default_feeds(["https://a.example/feed"])
    due = await feeds.polled_feeds()
    assert await feeds.lease_feeds(due, "dead", now=T0, until=T0 + timedelta(hours=1)) == due
    assert await outbox.release_all_leases() == 1
    assert await feeds.lease_feeds(due, "w2", now=T0, until=T0 + timedelta(hours=1)) == due

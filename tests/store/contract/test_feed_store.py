"""The FeedStore contract: feeds, who reads them, and how their fetches went."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from bot.domain import Scope
from bot.services.ports import FeedStore

A = Scope("slack", "TA")
B = Scope("discord", "GB")
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


async def test_add_feed_is_idempotent_by_url(feeds: FeedStore) -> None:
    """Adding a URL twice gives the same feed; new URLs get ids 1, 2, 3…"""
    first = await feeds.add_feed("https://a.example/feed")
    second = await feeds.add_feed("https://b.example/feed")
    again = await feeds.add_feed("https://a.example/feed")
    assert (first.id, second.id, again.id) == (1, 2, 1)
    assert await feeds.get_feed("https://a.example/feed") == first
    assert await feeds.get_feed("https://nowhere.example/feed") is None


async def test_a_new_feed_is_healthy_untitled_and_not_polled(feeds: FeedStore) -> None:
    """A feed nobody reads yet has no history and is not fetched."""
    feed = await feeds.add_feed("https://a.example/feed")
    assert feed.healthy and not feed.is_default
    assert (feed.title, feed.etag, feed.last_error, feed.blocked_by) == (None, None, None, None)
    assert (feed.next_poll_at, feed.last_success_at, feed.last_attempt_at) == (None, None, None)
    assert await feeds.polled_feeds() == []


async def test_sync_default_feeds_turns_defaults_on_and_off(feeds: FeedStore) -> None:
    """Listed URLs become the defaults; one dropped from the list stays stored, not default."""
    own = await feeds.add_feed("https://own.example/feed")
    synced = await feeds.sync_default_feeds(["https://d1.example/feed", own.url])
    assert [(f.url, f.is_default) for f in synced] == [
        (own.url, True),
        ("https://d1.example/feed", True),
    ]
    assert [f.id for f in synced] == sorted(f.id for f in synced)
    synced = await feeds.sync_default_feeds(["https://d2.example/feed"])
    assert [f.url for f in synced] == ["https://d2.example/feed"]
    dropped = await feeds.get_feed("https://d1.example/feed")
    assert dropped is not None and not dropped.is_default
    assert [f.url for f in await feeds.polled_feeds()] == ["https://d2.example/feed"]


async def test_sync_default_feeds_keeps_ids_of_known_feeds(feeds: FeedStore) -> None:
    """Syncing the same list again changes nothing."""
    first = await feeds.sync_default_feeds(["https://d1.example/feed", "https://d2.example/feed"])
    again = await feeds.sync_default_feeds(["https://d1.example/feed", "https://d2.example/feed"])
    assert again == first


async def test_polled_feeds_are_defaults_and_subscribed_feeds_once_each(
    feeds: FeedStore,
) -> None:
    """A feed two workspaces read is fetched once; unread feeds are not fetched."""
    await feeds.add_feed("https://unread.example/feed")
    shared = await feeds.add_feed("https://shared.example/feed")
    (default,) = await feeds.sync_default_feeds(["https://d.example/feed"])
    await feeds.subscribe_feed(A, shared, channel="C1", added_by="U1")
    await feeds.subscribe_feed(B, shared, channel="C2", added_by=None)
    assert [f.url for f in await feeds.polled_feeds()] == [shared.url, default.url]


async def test_feeds_for_scope_are_defaults_first_then_its_own(feeds: FeedStore) -> None:
    """A workspace sees the defaults and its own feeds, never another workspace's."""
    mine = await feeds.add_feed("https://mine.example/feed")
    theirs = await feeds.add_feed("https://theirs.example/feed")
    (default,) = await feeds.sync_default_feeds(["https://d.example/feed"])
    await feeds.subscribe_feed(A, mine, channel="C", added_by="U")
    await feeds.subscribe_feed(B, theirs, channel="C", added_by="U")
    assert [f.url for f in await feeds.feeds_for_scope(A)] == [default.url, mine.url]
    assert [f.url for f in await feeds.feeds_for_scope(B)] == [default.url, theirs.url]
    assert [f.url for f in await feeds.feeds_for_scope(Scope("slack", "TC"))] == [default.url]


async def test_subscribe_and_unsubscribe_report_whether_anything_changed(
    feeds: FeedStore,
) -> None:
    """A workspace subscribes to a feed once, whatever the channel; unsubscribing twice is a no."""
    feed = await feeds.add_feed("https://a.example/feed")
    assert await feeds.subscribe_feed(A, feed, channel="C1", added_by="U")
    assert not await feeds.subscribe_feed(A, feed, channel="C2", added_by="U")
    assert await feeds.unsubscribe_feed(A, feed)
    assert not await feeds.unsubscribe_feed(A, feed)
    assert not await feeds.unsubscribe_feed(B, feed)
    assert await feeds.feeds_for_scope(A) == []
    assert await feeds.polled_feeds() == []


async def test_fetch_failures_are_counted_with_the_last_error(feeds: FeedStore) -> None:
    """Each failure adds one, keeps the newest error (500 characters) and its blocking setting."""
    feed = await feeds.add_feed("https://a.example/feed")
    await feeds.record_fetch_failure(
        feed, at=T0, next_poll_at=T0 + timedelta(minutes=5), error="timeout", blocked_by="X=1"
    )
    later = T0 + timedelta(minutes=5)
    await feeds.record_fetch_failure(
        feed, at=later, next_poll_at=later + timedelta(minutes=10), error="e" * 600
    )
    failed = await feeds.get_feed(feed.url)
    assert failed is not None and not failed.healthy
    assert failed.consecutive_failures == 2
    assert failed.last_error == "e" * 500
    assert failed.blocked_by is None  # each failure states its own cause
    assert (failed.last_attempt_at, failed.next_poll_at) == (later, later + timedelta(minutes=10))
    assert failed.last_success_at is None


async def test_a_success_clears_the_failures(feeds: FeedStore) -> None:
    """After a success the feed is healthy again: no error, no blocking setting, new validators."""
    feed = await feeds.add_feed("https://a.example/feed")
    for _ in range(3):
        await feeds.record_fetch_failure(
            feed, at=T0, next_poll_at=T0, error="refused", blocked_by="NEWSBRIEF_ALLOW_LOCAL=0"
        )
    at = T0 + timedelta(hours=1)
    await feeds.record_fetch_success(
        feed,
        at=at,
        next_poll_at=at + timedelta(minutes=15),
        etag='"v1"',
        last_modified="Sat, 01 Mar 2025 12:00:00 GMT",
        title="A News",
    )
    ok = await feeds.get_feed(feed.url)
    assert ok is not None and ok.healthy
    assert (ok.last_error, ok.blocked_by) == (None, None)
    assert (ok.etag, ok.last_modified, ok.title) == (
        '"v1"',
        "Sat, 01 Mar 2025 12:00:00 GMT",
        "A News",
    )
    assert (ok.last_success_at, ok.last_attempt_at) == (at, at)
    assert ok.next_poll_at == at + timedelta(minutes=15)


async def test_a_success_without_a_title_keeps_the_old_one(feeds: FeedStore) -> None:
    """A not-modified fetch reports no title: the known one stays; validators are replaced."""
    feed = await feeds.add_feed("https://a.example/feed")
    await feeds.record_fetch_success(
        feed, at=T0, next_poll_at=T0, etag="e1", last_modified="m1", title="A News"
    )
    await feeds.record_fetch_success(
        feed, at=T0, next_poll_at=T0, etag=None, last_modified=None, title=None
    )
    ok = await feeds.get_feed(feed.url)
    assert ok is not None
    assert (ok.title, ok.etag, ok.last_modified) == ("A News", None, None)


async def test_fetch_times_come_back_as_the_same_utc_moments(feeds: FeedStore) -> None:
    """Moments given in any zone are stored as the same instant, timezone-aware."""
    kyiv = timezone(timedelta(hours=2))
    feed = await feeds.add_feed("https://a.example/feed")
    at = datetime(2025, 3, 1, 14, 0, 0, 123456, tzinfo=kyiv)
    await feeds.record_fetch_failure(feed, at=at, next_poll_at=at, error="x")
    failed = await feeds.get_feed(feed.url)
    assert failed is not None and failed.last_attempt_at == at
    assert failed.last_attempt_at.utcoffset() == timedelta(0)


async def test_feeds_handed_out_are_snapshots(feeds: FeedStore) -> None:
    """Recording a fetch changes the stored feed, not a Feed the caller already holds."""
    feed = await feeds.add_feed("https://a.example/feed")
    await feeds.record_fetch_failure(feed, at=T0, next_poll_at=T0, error="x")
    assert feed.consecutive_failures == 0
    feed.title = "changed by the caller"
    stored = await feeds.get_feed(feed.url)
    assert stored is not None and stored.title is None


async def _due(feeds: FeedStore) -> list:  # type: ignore[type-arg]
    await feeds.sync_default_feeds(["https://a.example/feed", "https://b.example/feed"])
    return await feeds.polled_feeds()


async def test_a_leased_feed_is_polled_by_its_holder_only_until_the_lease_ends(
    feeds: FeedStore,
) -> None:
    """Another worker gets none of a live lease's feeds; expired, they are its to take."""
    due = await _due(feeds)
    until = T0 + timedelta(minutes=30)
    assert await feeds.lease_feeds(due, "w1", now=T0, until=until) == due
    assert await feeds.lease_feeds(due, "w2", now=T0 + timedelta(minutes=5), until=until) == []
    assert await feeds.lease_feeds(due, "w1", now=T0, until=until) == due  # its own
    later = until + timedelta(seconds=1)
    taken = await feeds.lease_feeds(due, "w2", now=later, until=later + timedelta(minutes=30))
    assert taken == due


async def test_a_feed_polled_since_it_was_read_is_not_leased_again(feeds: FeedStore) -> None:
    """Recording a poll ends the lease and moves the next poll time: a worker that read
    the feed before that cannot lease it (it would fetch it twice in one interval)."""
    stale = await _due(feeds)
    first, second = stale
    (held,) = await feeds.lease_feeds([first], "w1", now=T0, until=T0 + timedelta(minutes=30))
    await feeds.record_fetch_success(
        held,
        at=T0,
        next_poll_at=T0 + timedelta(minutes=30),
        etag=None,
        last_modified=None,
        title=None,
    )
    assert await feeds.lease_feeds(stale, "w2", now=T0, until=T0 + timedelta(minutes=30)) == [
        second
    ]
    fresh = [f for f in await feeds.polled_feeds() if f.id == first.id]
    half_hour = T0 + timedelta(minutes=30)
    assert await feeds.lease_feeds(fresh, "w2", now=half_hour, until=half_hour) == fresh


async def test_failing_since_pausing_resuming_and_followers(feeds: FeedStore) -> None:
    """A failing feed keeps when it began failing; paused, it is not polled; resumed, it
    is, its failing time starting again; followers carry what their channel was told."""
    scope = Scope("slack", "T1")
    feed = await feeds.add_feed("https://a.example/feed.xml")
    await feeds.subscribe_feed(scope, feed, channel="C1", added_by="U1")
    at = T0
    for hours in (0, 5):
        await feeds.record_fetch_failure(
            feed, at=at + timedelta(hours=hours), next_poll_at=at, error="HTTP 500"
        )
    (stored,) = await feeds.polled_feeds()
    assert stored.failing_since == at and stored.consecutive_failures == 2
    assert [f.id for f in await feeds.failing_feeds(at + timedelta(hours=1))] == [feed.id]
    assert await feeds.failing_feeds(at) == []

    assert await feeds.pause_feed(stored, "server-errors", at=at + timedelta(days=7))
    assert not await feeds.pause_feed(stored, "server-errors", at=at + timedelta(days=7))
    assert await feeds.polled_feeds() == []
    (listed,) = await feeds.feeds_for_scope(scope)
    assert listed.paused == "server-errors"

    (follower,) = await feeds.feed_followers()
    assert (follower.scope, follower.channel, follower.alerted) == (scope, "C1", None)
    await feeds.set_alerted(follower, "paused")
    assert [f.alerted for f in await feeds.feed_followers()] == ["paused"]

    later = at + timedelta(days=8)
    assert await feeds.resume_feed(listed, at=later)
    (resumed,) = await feeds.polled_feeds()
    assert resumed.paused is None and resumed.consecutive_failures == 0
    assert resumed.failing_since == later and resumed.next_poll_at is None
    await feeds.record_fetch_success(
        resumed, at=later, next_poll_at=later, etag=None, last_modified=None, title=None
    )
    (ok,) = await feeds.polled_feeds()
    assert ok.failing_since is None

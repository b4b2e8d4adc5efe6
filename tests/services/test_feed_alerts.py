"""Feed-down alerts: told once per change of a feed's state, to each channel following it;
paused after a longer threshold with a reason code; told again when it works."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import Feed, Scope
from bot.services.feed_alerts import (
    DOWN,
    PAUSE_REASONS,
    PAUSED,
    FeedAlerts,
    alert_message,
    pause_reason,
)
from bot.services.outbox import Outbox
from tests.fakes.publisher import RecordingPublisher
from tests.fakes.store import InMemoryStore

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SLACK = Scope("slack", "T1")
OTHER = Scope("slack", "T2")
URL = "https://harbour.example/feed.xml"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def _rig() -> tuple[InMemoryStore, FeedAlerts, RecordingPublisher, Clock, Feed]:
    store, clock, publisher = InMemoryStore(), Clock(), RecordingPublisher(platform="slack")
    alerts = FeedAlerts(
        store,
        Outbox(store, clock=clock),
        {"slack": publisher},
        down_after=timedelta(hours=24),
        pause_after=timedelta(days=7),
        clock=clock,
    )
    feed = await store.add_feed(URL)
    await store.subscribe_feed(SLACK, feed, channel="C1", added_by="U1")
    await store.subscribe_feed(OTHER, feed, channel="C9", added_by="U2")
    return store, alerts, publisher, clock, feed


async def _fail(store: InMemoryStore, feed: Feed, at: datetime, error: str) -> None:
    await store.record_fetch_failure(feed, at=at, next_poll_at=at + timedelta(hours=1), error=error)


def _titles(publisher: RecordingPublisher) -> list[tuple[str, str]]:
    return [(channel, message.title.split(":")[0]) for channel, message in publisher.posts]


async def test_a_feed_down_a_day_is_told_once_to_each_channel_then_paused_then_back() -> None:
    """Down after 24 h (each channel once), paused after 7 days (once), back (once)."""
    store, alerts, publisher, clock, feed = await _rig()
    await _fail(store, feed, T0, "HTTP 503 Service Unavailable")
    clock.now = T0 + timedelta(hours=23)
    assert await alerts.check() == []  # failing, but not for a day yet

    clock.now = T0 + timedelta(hours=25)
    await _fail(store, feed, clock.now, "HTTP 503 Service Unavailable")
    await alerts.check()
    await alerts.check()  # no storm: nothing changed since
    assert _titles(publisher) == [("C1", "Feed down"), ("C9", "Feed down")]
    down = publisher.posts[0][1]
    assert URL in str(down) and PAUSE_REASONS["server-errors"] in str(down)

    clock.now = T0 + timedelta(days=7, hours=1)
    await _fail(store, feed, clock.now, "HTTP 503 Service Unavailable")
    await alerts.check()
    await alerts.check()
    assert _titles(publisher)[2:] == [("C1", "Feed paused"), ("C9", "Feed paused")]
    assert "(server-errors)" in str(publisher.posts[2][1])
    assert await store.polled_feeds() == []  # paused: not fetched

    assert await store.resume_feed(feed, at=clock.now)
    await alerts.check()
    assert len(publisher.posts) == 4  # resumed, not fetched yet: nothing to tell
    await store.record_fetch_success(
        feed, at=clock.now, next_poll_at=clock.now, etag=None, last_modified=None, title=None
    )
    await alerts.check()
    await alerts.check()
    assert _titles(publisher)[4:] == [("C1", "Feed works again"), ("C9", "Feed works again")]


async def test_a_feed_that_recovers_within_the_day_is_never_mentioned() -> None:
    """A few failed hours, then a success: no message at all."""
    store, alerts, publisher, clock, feed = await _rig()
    await _fail(store, feed, T0, "connection failed: ClientConnectorError: refused")
    clock.now = T0 + timedelta(hours=5)
    await store.record_fetch_success(
        feed, at=clock.now, next_poll_at=clock.now, etag=None, last_modified=None, title=None
    )
    clock.now = T0 + timedelta(days=2)
    assert await alerts.check() == []
    assert publisher.posts == []


async def test_a_resumed_feed_failing_again_is_not_paused_again_at_once() -> None:
    """Resuming starts the failing time again: a week more before the next pause."""
    store, alerts, _, clock, feed = await _rig()
    await _fail(store, feed, T0, "HTTP 410 Gone")
    clock.now = T0 + timedelta(days=8)
    await _fail(store, feed, clock.now, "HTTP 410 Gone")
    await alerts.check()
    (paused,) = [f for f in store.feeds.values() if f.paused]
    assert paused.paused == "gone"
    assert await store.resume_feed(feed, at=clock.now)
    clock.now += timedelta(hours=1)
    await _fail(store, feed, clock.now, "HTTP 410 Gone")
    await alerts.check()
    assert [f.paused for f in store.feeds.values()] == [None]


@pytest.mark.parametrize(
    ("error", "blocked_by", "code"),
    [
        ("HTTP 404 Not Found", None, "not-found"),
        ("HTTP 410 Gone", None, "gone"),
        ("HTTP 403 Forbidden", None, "forbidden"),
        ("HTTP 429 Too Many Requests", None, "rate-limited"),
        ("HTTP 502 Bad Gateway", None, "server-errors"),
        ("timed out after 20 s", "NEWSBRIEF_FETCH_TIMEOUT=20", "blocked-by-setting"),
        ("body is over the 5,000,000 byte cap", "NEWSBRIEF_MAX_FEED_BYTES=5000000", "too-large"),
        ("not an RSS or Atom feed (no feed elements found)", None, "not-a-feed"),
        ("unexpected content type 'image/png': not a feed or a web page", None, "not-a-feed"),
        ("connection failed: ClientConnectorError: refused", None, "failed-requests"),
        ("cannot resolve host 'x.example': no address", None, "failed-requests"),
    ],
)
def test_pause_reasons_come_from_the_last_error(
    error: str, blocked_by: str | None, code: str
) -> None:
    """Each kind of failure has its reason code, and words for the channel."""
    feed = Feed(1, URL, last_error=error, blocked_by=blocked_by, consecutive_failures=9)
    assert pause_reason(feed) == code
    assert code in PAUSE_REASONS


def test_alert_messages_say_what_happened_and_point_to_the_fix() -> None:
    """Down and paused carry the reason, the last error and the fix hint."""
    feed = Feed(
        1, URL, last_error="HTTP 404 Not Found", consecutive_failures=30, failing_since=T0,
        paused="not-found",
    )  # fmt: skip
    for state in (DOWN, PAUSED):
        message = alert_message(feed, state)
        assert URL in str(message) and "HTTP 404 Not Found" in str(message)
        assert message.hints
    assert not alert_message(feed, None).hints

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.app import App
from bot.domain import CONSOLE_SCOPE, Scope, Subscription, ThreadKind
from bot.llm.extractive import EXTRACTIVE_LABEL, ExtractiveSummarizer
from bot.services.digest import DigestService, digest_key
from bot.services.outbox import Outbox
from bot.timeutil import utcnow
from tests.fakes.publisher import RecordingPublisher

SLACK = Scope("slack", "T1")


async def test_digest_covers_the_last_day_with_merged_stories_first(app: App) -> None:
    """The on-demand digest has the last 24 hours, stories told by several outlets first."""
    message = await app.chat.digests.digest(CONSOLE_SCOPE)
    assert message.found and message.kind is ThreadKind.DIGEST
    articles = await app.store.get_articles(message.article_ids)
    cutoff = utcnow() - timedelta(hours=24)
    assert all(a.published_at >= cutoff for a in articles)
    counts = [len(s.citations) for s in message.sections]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] >= 2
    assert len(message.sections) == app.settings.digest_max_stories
    assert EXTRACTIVE_LABEL in message.notes


async def test_digest_on_topics_keeps_to_them(app: App) -> None:
    """A digest with topics holds only stories that mention one of them."""
    message = await app.chat.digests.digest(CONSOLE_SCOPE, ["moon", "measles"])
    assert message.found
    for article in await app.store.get_articles(message.article_ids):
        text = (article.title + article.text).lower()
        assert "moon" in text or "measles" in text
    assert "moon, measles" in message.title


async def _subscribe(app: App, channel: str = "C1") -> Subscription:
    return await app.store.upsert_subscription(
        SLACK, channel, digest_time="08:00", timezone="Europe/Kyiv", topics=()
    )


async def test_delivery_posts_once_even_after_a_restart(app: App) -> None:
    """The same day's digest is posted once, however often the job or the bot restarts."""
    subscription = await _subscribe(app)
    publisher = RecordingPublisher(platform="slack")
    due = utcnow()
    assert await app.chat.digests.deliver(subscription, publisher, due=due) == "posted"
    assert await app.chat.digests.deliver(subscription, publisher, due=due) == "already-posted"
    restarted = DigestService(app.store, ExtractiveSummarizer(), Outbox(app.store), max_stories=8)
    again = (await app.store.list_subscriptions())[0]
    assert await restarted.deliver(again, publisher, due=due) == "already-posted"
    assert len(publisher.posts) == 1


async def test_a_posted_digest_opens_a_thread_on_its_articles(app: App) -> None:
    """Replies under a posted digest can be answered from the digest's articles."""
    subscription = await _subscribe(app)
    publisher = RecordingPublisher(platform="slack")
    await app.chat.digests.deliver(subscription, publisher, due=utcnow())
    _, message = publisher.posts[0]
    thread = await app.store.get_thread(SLACK, "C1", "C1-post-1")
    assert thread is not None
    assert thread.kind is ThreadKind.DIGEST
    assert set(thread.article_ids) == set(message.article_ids)


@pytest.mark.slow(10)  # the retry waits out the outbox's 10 s for a send in flight to land
async def test_failed_post_is_kept_for_a_retry(app: App) -> None:
    """A post the platform refused stays in the outbox with its error; a retry posts it."""
    subscription = await _subscribe(app)
    publisher = RecordingPublisher(platform="slack", fail_next=1)
    due = utcnow()
    assert await app.chat.digests.deliver(subscription, publisher, due=due) == "pending"
    stored = await app.store.get_delivery(digest_key(subscription, due))
    assert stored is not None
    assert (stored.status, stored.attempts) == ("pending", 1)
    assert stored.error == "ConnectionError: platform unavailable"
    assert publisher.posts == []
    assert await app.chat.digests.deliver(subscription, publisher, due=due) == "posted"
    assert len(publisher.posts) == 1


async def test_next_days_digest_has_only_articles_fetched_since(app: App) -> None:
    """After a digest, the next one holds only stories that arrived after it."""
    subscription = await _subscribe(app)
    publisher = RecordingPublisher(platform="slack")
    await app.chat.digests.deliver(subscription, publisher, due=utcnow())
    later = utcnow() + timedelta(days=1)
    tomorrow = DigestService(
        app.store, ExtractiveSummarizer(), Outbox(app.store), max_stories=8, clock=lambda: later
    )
    subscription = (await app.store.list_subscriptions())[0]
    assert await tomorrow.deliver(subscription, publisher, due=later) == "empty"
    assert len(publisher.posts) == 1


def test_digest_key_is_the_local_calendar_day() -> None:
    """The delivery key follows the subscription's own timezone, not UTC."""
    sub = Subscription(7, SLACK, "C1", (), "08:00", "Pacific/Auckland")
    late_utc = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)  # already the 26th in Auckland
    assert digest_key(sub, late_utc) == "digest:7:2026-11-26"


async def test_digest_now_uses_the_channels_topics(app: App) -> None:
    """`digest now` in a subscribed channel is the digest on that channel's topics."""
    await app.store.upsert_subscription(
        CONSOLE_SCOPE, "news", digest_time="08:00", timezone="Europe/Kyiv", topics=["measles"]
    )
    on_topic = await app.chat.digests.digest_now(CONSOLE_SCOPE, "news")
    assert on_topic.title.startswith("Daily digest on measles")
    everything = await app.chat.digests.digest_now(CONSOLE_SCOPE, "elsewhere")
    assert everything.title.startswith("Daily digest — ")

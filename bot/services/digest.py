"""The daily digest: the new stories on a channel's topics, posted once a day."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain import Article, Message, Scope, Subscription, ThreadKind
from bot.services.ports import Publisher, Store, Summarizer
from bot.services.render import plural, render_stories
from bot.services.stories import by_story
from bot.services.threads import record_thread
from bot.text import query_terms
from bot.timeutil import utcnow

log = logging.getLogger(__name__)

# A digest covers at most this far back, however long the bot was away.
MAX_WINDOW = timedelta(days=2)
ON_DEMAND_WINDOW = timedelta(hours=24)
CANDIDATES = 200


def digest_key(subscription: Subscription, due: datetime) -> str:
    """One delivery per subscription per local calendar day it fell due."""
    local_day = due.astimezone(ZoneInfo(subscription.timezone)).date()
    return f"digest:{subscription.id}:{local_day.isoformat()}"


class DigestService:
    def __init__(
        self,
        store: Store,
        summarizer: Summarizer,
        *,
        max_stories: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._summarizer = summarizer
        self._max_stories = max_stories
        self._clock = clock

    async def digest(
        self,
        scope: Scope,
        topics: Sequence[str] = (),
        *,
        since: datetime | None = None,
        fetched_since: datetime | None = None,
        timezone: str = "UTC",
    ) -> Message:
        """The digest of stories published since `since` (default: the last 24 hours)."""
        now = self._clock()
        since = since or now - ON_DEMAND_WINDOW
        articles = await self._candidates(scope, topics, since, fetched_since)
        # Stories told by more outlets first, then the most recent.
        stories = by_story(articles)
        stories.sort(key=lambda s: (len(s.articles), s.latest), reverse=True)
        stories = stories[: self._max_stories]
        local = now.astimezone(ZoneInfo(timezone))
        day = f"{local:%A} {local.day} {local:%B %Y}"
        topic_text = f" on {', '.join(topics)}" if topics else ""
        if not stories:
            return render_stories(
                ThreadKind.DIGEST,
                f"Daily digest{topic_text} — {day}",
                [],
                label=None,
                notes=(f"No new stories{topic_text} in this period.",),
            )
        summaries = await asyncio.gather(*(self._summarizer.summarize(s) for s in stories))
        return render_stories(
            ThreadKind.DIGEST,
            f"Daily digest{topic_text} — {day} — {plural(len(stories), 'story', 'stories')}",
            list(zip(stories, summaries, strict=True)),
            label=self._summarizer.label,
        )

    async def _candidates(
        self,
        scope: Scope,
        topics: Sequence[str],
        since: datetime,
        fetched_since: datetime | None,
    ) -> list[Article]:
        if not topics:
            return await self._store.recent_articles(
                scope, since=since, limit=CANDIDATES, fetched_since=fetched_since
            )
        found: dict[int, Article] = {}
        for topic in topics:
            hits = await self._store.search(
                scope,
                query_terms(topic),
                mode="all",
                since=since,
                limit=CANDIDATES,
                fetched_since=fetched_since,
            )
            for hit in hits:
                found.setdefault(hit.article.id, hit.article)
        return sorted(found.values(), key=lambda a: a.published_at, reverse=True)

    async def digest_now(self, scope: Scope, channel: str) -> Message:
        """`digest now` in a channel: the last day's stories on its digest's topics."""
        subscription = await self._store.get_subscription(scope, channel)
        if subscription is None:
            return await self.digest(scope)
        return await self.digest(scope, subscription.topics, timezone=subscription.timezone)

    async def deliver(
        self, subscription: Subscription, publisher: Publisher, *, due: datetime
    ) -> str:
        """Post the digest that fell due at `due`, at most once; say what happened."""
        now = self._clock()
        key = digest_key(subscription, due)
        if not await self._store.claim_delivery(key, subscription.scope, subscription.channel):
            log.info("digest %s already posted or in progress; not posting again", key)
            return "already-posted"
        try:
            since = max(subscription.last_digest_at or now - ON_DEMAND_WINDOW, now - MAX_WINDOW)
            message = await self.digest(
                subscription.scope,
                subscription.topics,
                since=now - MAX_WINDOW,
                fetched_since=since,
                timezone=subscription.timezone,
            )
            keys: tuple[str, ...] = ()
            if not message.found:
                log.info("digest %s: no new stories, nothing posted", key)
            else:
                keys = await publisher.publish(subscription.channel, message)
        except BaseException:
            await self._store.release_delivery(key)
            raise
        await self._store.complete_delivery(key, keys[0] if keys else None)
        await self._store.mark_digest_sent(subscription.id, now)
        await record_thread(self._store, subscription.scope, subscription.channel, keys, message)
        return "posted" if message.found else "empty"

"""The daily digest: the new stories on a channel's topics, posted once a day."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.domain import Article, Message, PostedStory, Scope, Story, Subscription, ThreadKind
from bot.services.delivery import Delivery
from bot.services.outbox import Outbox
from bot.services.ports import (
    ArticleSearch,
    PartSender,
    StoryStore,
    SubscriptionStore,
    Summarizer,
)
from bot.services.render import plural, render_stories
from bot.services.stories import stored_stories
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


class DigestStore(SubscriptionStore, ArticleSearch, StoryStore, Protocol):
    """What a digest needs: the channel's subscription, its new articles by topic, and
    the story versions the channel was shown."""


class DigestService:
    def __init__(
        self,
        store: DigestStore,
        summarizer: Summarizer,
        outbox: Outbox,
        *,
        max_stories: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._outbox = outbox
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
        edition = await self._edition(scope, topics, since, fetched_since)
        return await self._render(edition, topics, timezone, {})

    async def _edition(
        self,
        scope: Scope,
        topics: Sequence[str],
        since: datetime | None,
        fetched_since: datetime | None,
    ) -> list[Story]:
        """The stories to show: told by more outlets first, then the most recent."""
        since = since or self._clock() - ON_DEMAND_WINDOW
        articles = await self._candidates(scope, topics, since, fetched_since)
        stories = await stored_stories(self._store, articles)
        stories.sort(key=lambda s: (len(s.articles), s.latest), reverse=True)
        return stories[: self._max_stories]

    async def _render(
        self,
        stories: Sequence[Story],
        topics: Sequence[str],
        timezone: str,
        shown: Mapping[int, PostedStory],
    ) -> Message:
        """The digest message; a story the channel was shown before (`shown`) is marked
        as updated, and its new articles go as an update into that post's thread."""
        local = self._clock().astimezone(ZoneInfo(timezone))
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
            updated=shown.keys(),
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
        self,
        subscription: Subscription,
        sender: PartSender,
        *,
        due: datetime,
        late_after: datetime | None = None,
    ) -> str:
        """Post the digest that fell due at `due`, once; say what happened: "posted",
        "empty", "already-posted", or "pending" (stored, and posted when the platform
        lets it: see `Outbox`).

        The digest and the updates to stories the channel was shown before (as replies
        in their threads) are rendered and stored together before anything is posted,
        so a bot stopped midway finishes them, from where it stopped, when it is back.
        A story the channel was shown appears again only if it has grown: listed as
        updated, with its new articles posted as an update in its earlier thread.
        """
        key = digest_key(subscription, due)
        stored = await self._outbox.get(key)
        keys = [key]
        if stored is None:
            keys = await self._store_edition(subscription, sender, key, due, late_after)
            if not keys:
                return "empty"
        elif stored.status != "pending":
            log.info("digest %s already posted; not posting again", key)
            return "already-posted"
        # Updates left unfinished by an earlier run are resumed with the outbox's others.
        results = [await self._outbox.post(k, sender) for k in keys]
        return "posted" if all(r == "posted" for r in results) else "pending"

    async def _store_edition(
        self,
        subscription: Subscription,
        sender: PartSender,
        key: str,
        due: datetime,
        late_after: datetime | None,
    ) -> list[str]:
        """The digest and its stories' updates, rendered and stored: their keys, none when
        there was nothing new (recorded too: an empty day is not made again)."""
        now = self._clock()
        scope, channel = subscription.scope, subscription.channel
        since = max(subscription.last_digest_at or now - ON_DEMAND_WINDOW, now - MAX_WINDOW)
        stories = await self._edition(scope, subscription.topics, now - MAX_WINDOW, since)
        shown = await self._store.posted_stories(
            scope, channel, [s.id for s in stories if s.id is not None]
        )
        stories = [s for s in stories if s.id not in shown or s.version > shown[s.id].version]
        shown = {i: p for i, p in shown.items() if any(s.id == i for s in stories)}
        message = await self._render(stories, subscription.topics, subscription.timezone, shown)
        if not message.found:  # stored with no parts: an empty day is not made again
            log.info("digest %s: no new stories, nothing posted", key)
            await self._outbox.enqueue([Delivery(key, scope, channel, (), now, due_at=due)])
            await self._store.mark_digest_sent(subscription.id, now)
            return []
        deliveries = [
            self._outbox.delivery(
                sender, key, scope, channel, message, due_at=due, late_after=late_after
            )
        ]
        for story in stories:
            earlier = shown.get(story.id) if story.id is not None else None
            if earlier is None or story.id is None:
                continue
            summary = await self._summarizer.summarize(story)
            update = render_stories(
                ThreadKind.UPDATE,
                f"Update: {summary.headline}",
                [(story, summary)],
                label=self._summarizer.label,
            )
            deliveries.append(
                self._outbox.delivery(
                    sender,
                    update_key(key, story.id),
                    scope,
                    channel,
                    update,
                    thread_key=earlier.thread_key,
                    due_at=due,
                    late_after=late_after,
                )
            )
        await self._outbox.enqueue(deliveries)
        await self._store.mark_digest_sent(subscription.id, now)
        return [d.key for d in deliveries]


def update_key(digest: str, story_id: int) -> str:
    """The update to one story that a digest posts into the story's earlier thread."""
    return f"{digest}:update:{story_id}"

"""Which feeds a workspace reads: list with health, add, remove."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.domain import FeedError, FeedReport, Hint, Message, Scope
from bot.services.ingest import IngestService
from bot.services.ports import FeedSource, FeedStore
from bot.services.render import render_feeds
from bot.services.typed import typed_url, url_problem
from bot.timeutil import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedChange:
    ok: bool
    text: str
    report: FeedReport | None = None
    hint: Hint | None = None  # a command to point to, worded by the adapter


class FeedService:
    def __init__(
        self,
        store: FeedStore,
        source: FeedSource,
        ingest: IngestService,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._source = source
        self._ingest = ingest
        self._clock = clock

    async def list(self, scope: Scope) -> Message:
        return render_feeds(await self._store.feeds_for_scope(scope), self._clock())

    async def add(
        self,
        scope: Scope,
        url: str,
        *,
        channel: str,
        added_by: str | None = None,
        allow_local: bool = False,
    ) -> FeedChange:
        """Follow a feed for a workspace and fetch it now, so a broken URL shows at once."""
        url = typed_url(url)
        problem = url_problem(url)
        if problem is not None:
            return FeedChange(False, f"Cannot add that: {problem}")
        try:
            checked = await self._source.check_url(url, allow_local=allow_local)
        except FeedError as exc:
            return FeedChange(False, f"Cannot add {url or 'that'}: {exc}")
        existing = await self._store.get_feed(checked)
        if existing and existing.is_default:
            return FeedChange(True, f"{checked} is already followed (an operator default).")
        feed = existing or await self._store.add_feed(checked)
        if not await self._store.subscribe_feed(scope, feed, channel=channel, added_by=added_by):
            return FeedChange(True, f"{checked} is already followed here.")
        report = await self._ingest.poll_feed(feed)
        if report.status == "error":
            return FeedChange(
                True,
                f"Added {checked}, but fetching it failed: {report.error}. "
                "It will be retried with backoff.",
                report,
                hint=Hint.LIST_FEEDS,
            )
        return FeedChange(True, f"Added {checked}: {report.new_articles} new articles.", report)

    async def resume(self, scope: Scope, url: str) -> FeedChange:
        """Fetch a paused feed again, now: its channels hear when it works."""
        url = typed_url(url)
        problem = url_problem(url)
        if problem is not None:
            return FeedChange(False, f"Cannot resume that: {problem}", hint=Hint.LIST_FEEDS)
        feed = next((f for f in await self._store.feeds_for_scope(scope) if f.url == url), None)
        if feed is None:
            return FeedChange(False, f"{url} is not a feed read here.", hint=Hint.LIST_FEEDS)
        if not await self._store.resume_feed(feed, at=self._clock()):
            return FeedChange(False, f"{feed.url} is not paused.", hint=Hint.LIST_FEEDS)
        report = await self._ingest.poll_feed(await self._store.get_feed(feed.url) or feed)
        if report.status == "error":
            return FeedChange(
                True,
                f"Resumed {feed.url}, but fetching it failed again: {report.error}. It is "
                "retried with backoff, and paused again if it keeps failing.",
                report,
                hint=Hint.LIST_FEEDS,
            )
        return FeedChange(True, f"Resumed {feed.url}: {report.new_articles} new articles.", report)

    async def remove(self, scope: Scope, url: str) -> FeedChange:
        url = typed_url(url)
        problem = url_problem(url)
        if problem is not None:
            return FeedChange(False, f"Cannot remove that: {problem}", hint=Hint.LIST_FEEDS)
        feed = await self._store.get_feed(url)
        if feed is None:
            try:
                feed = await self._store.get_feed(
                    await self._source.check_url(url, allow_local=True)
                )
            except FeedError:
                feed = None
        if feed is None:
            return FeedChange(False, f"{url} is not a followed feed.", hint=Hint.LIST_FEEDS)
        if await self._store.unsubscribe_feed(scope, feed):
            return FeedChange(True, f"Removed {feed.url}.")
        if feed.is_default:
            return FeedChange(
                False,
                f"{feed.url} is an operator default; change NEWSBRIEF_FEEDS to remove it.",
            )
        return FeedChange(False, f"{feed.url} is not followed here.")

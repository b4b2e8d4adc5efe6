"""Polling feeds into the store: when to fetch, what is new, and backing off."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from bot.domain import Feed, FeedError, FeedReport, NewArticle, ParsedEntry, StoreUnavailable
from bot.services.dedupe import canonical_url, content_hash
from bot.services.ports import ArticleStore, FeedSource, FeedStore
from bot.services.retry import Backoff
from bot.services.stories import StoryDesk
from bot.timeutil import utcnow

log = logging.getLogger(__name__)

# Feeds leased at a time by one of a poll's workers (see `_poll_leased`).
LEASE_CHUNK = 8


class IngestStore(FeedStore, ArticleStore, Protocol):
    """What polling needs: the feeds due and how each went, and which entries are known."""


class IngestService:
    def __init__(
        self,
        store: IngestStore,
        source: FeedSource,
        stories: StoryDesk,
        *,
        poll_interval: timedelta,
        max_backoff: timedelta,
        concurrency: int = 8,
        settings_in_force: frozenset[str] = frozenset(),
        owner: str = "ingest",
        shared: bool = False,
        clock: Callable[[], datetime] = utcnow,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._source = source
        self._stories = stories
        self._poll_interval = poll_interval
        self._max_backoff = max_backoff
        self._concurrency = asyncio.Semaphore(concurrency)
        # Enough chunks in hand to keep `concurrency` feeds in flight while some wait.
        self._workers = max(1, 2 * concurrency // LEASE_CHUNK)
        self._clock = clock
        self._jitter = jitter
        self._running: set[int] = set()
        # The operator's settings now, as "NAME=value" (see FeedError.blocked_by).
        self._settings_in_force = settings_in_force
        # This process, as the holder of the feed leases it takes (see FeedStore.lease_feeds)
        # when other processes share the database (`shared`); on one of its own, it polls
        # what is due without them.
        self._owner = owner
        self._shared = shared

    def backoff(self, failures: int, retry_after_seconds: float | None = None) -> timedelta:
        """Exponential in the number of failures, capped, with +-25% jitter.

        The first failure waits about one poll interval: one failed request is
        often a blip, and the feed was due that often anyway.
        """
        policy = Backoff(
            first=self._poll_interval.total_seconds(), cap=self._max_backoff.total_seconds()
        )
        delay = timedelta(seconds=policy.delay(failures, self._jitter))
        if retry_after_seconds is not None:
            delay = max(delay, timedelta(seconds=min(retry_after_seconds, 7 * 86400)))
        return delay

    def _unblocked(self, feed: Feed) -> bool:
        """Failed because of a setting that has changed since: worth a try at once."""
        return feed.blocked_by is not None and feed.blocked_by not in self._settings_in_force

    async def poll_due(self) -> list[FeedReport]:
        """Fetch every feed whose next poll time has come."""
        now = self._clock()
        feeds = [
            f
            for f in await self._store.polled_feeds()
            if f.next_poll_at is None or f.next_poll_at <= now or self._unblocked(f)
        ]
        return await self._poll_leased(feeds)

    async def poll_all(self, *, force: bool = False) -> list[FeedReport]:
        """Fetch every healthy feed now (start-up); `force` fetches failing ones too.

        Without `force`, a failing feed keeps its backoff unless the setting that
        made it fail has changed; `python -m bot ingest` forces, since an operator
        who asks for a fetch wants one.
        """
        now = self._clock()
        feeds = [
            f
            for f in await self._store.polled_feeds()
            if force
            or f.consecutive_failures == 0
            or f.next_poll_at is None
            or f.next_poll_at <= now
            or self._unblocked(f)
        ]
        return await self._poll_leased(feeds)

    async def _poll_leased(self, feeds: Sequence[Feed]) -> list[FeedReport]:
        """Poll `feeds`, leasing a few at a time as workers get to them: processes sharing
        the database split a poll between them instead of the first one taking it all."""
        chunks = [feeds[i : i + LEASE_CHUNK] for i in range(0, len(feeds), LEASE_CHUNK)]
        chunks.reverse()
        reports: list[FeedReport] = []
        lost: list[StoreUnavailable] = []

        async def worker() -> None:
            while chunks and not lost:  # no database, no point fetching the rest
                try:
                    leased = await self._leased(chunks.pop())
                except StoreUnavailable as exc:
                    lost.append(exc)
                    return
                reports.extend(await asyncio.gather(*(self._guarded(f, lost) for f in leased)))

        await asyncio.gather(*(worker() for _ in range(self._workers)))
        return await self._finished(feeds, reports, lost)

    async def _finished(
        self, feeds: Sequence[Feed], reports: list[FeedReport], lost: list[StoreUnavailable]
    ) -> list[FeedReport]:
        """A poll's reports; StoreUnavailable, once, if the database went away during it
        (what was stored stays; the rest comes at the next poll)."""
        if lost:
            raise lost[0]
        if feeds:
            await self._stories.tidy()
        return reports

    async def _leased(self, feeds: Sequence[Feed]) -> list[Feed]:
        """The feeds this process may poll now: another process sharing the database may
        be polling some (it holds their lease) or have just polled them. A lease lasts a
        poll interval from when it is taken (not from when the poll began: a long poll's
        last leases would be over before they were used), so a process that dies holding
        one delays its feeds that long."""
        if not self._shared:
            return list(feeds)
        now = self._clock()
        return await self._store.lease_feeds(
            feeds, self._owner, now=now, until=now + self._poll_interval
        )

    async def poll(self, feeds: Sequence[Feed]) -> list[FeedReport]:
        lost: list[StoreUnavailable] = []
        reports = list(await asyncio.gather(*(self._guarded(feed, lost) for feed in feeds)))
        return await self._finished(feeds, reports, lost)

    async def _guarded(self, feed: Feed, lost: list[StoreUnavailable]) -> FeedReport:
        """One feed polled; a database that went away is noted in `lost` (said once, by
        the poll), not logged per feed."""
        if feed.id in self._running:  # a slow poll must not overlap the next one
            return FeedReport(url=feed.url, status="skipped")
        if lost:
            return FeedReport(url=feed.url, status="error", error=f"not polled: {lost[0]}")
        self._running.add(feed.id)
        try:
            async with self._concurrency:
                return await self.poll_feed(feed)
        except StoreUnavailable as exc:
            lost.append(exc)
            return FeedReport(url=feed.url, status="error", error=f"not stored: {exc}")
        except Exception as exc:  # a bug in storing: other feeds go on
            log.exception("polling %s failed in the store; its entries come next poll", feed.url)
            return FeedReport(url=feed.url, status="error", error=f"not stored: {exc}")
        finally:
            self._running.discard(feed.id)

    async def poll_feed(self, feed: Feed) -> FeedReport:
        started = self._clock()
        try:
            fetched = await self._source.fetch(feed)
        except FeedError as exc:
            return await self._failed(feed, started, exc)
        except Exception as exc:  # a bug or library surprise must not stop other feeds
            log.exception("unexpected error polling %s", feed.url)
            return await self._failed(feed, started, FeedError(f"internal error: {exc!r}"))

        if fetched.not_modified:
            await self._store.record_fetch_success(
                feed,
                at=started,
                next_poll_at=started + self._poll_interval,
                etag=fetched.etag,
                last_modified=fetched.last_modified,
                title=None,
            )
            log.debug("feed %s not modified", feed.url)
            return FeedReport(url=feed.url, status="not-modified")

        source_name = fetched.title or feed.title or urlsplit(feed.url).hostname or feed.url
        keys = [(entry.guid, canonical_url(entry.url)) for entry in fetched.entries]
        known = await self._store.known_articles(feed, keys)
        # Entries stored already are still linked, so a workspace reading only this feed
        # sees them too.
        await self._store.link_articles(
            feed,
            [
                (article_id, guid)
                for (guid, _), article_id in zip(keys, known, strict=True)
                if article_id is not None
            ],
        )
        new_entries = [
            entry
            for entry, article_id in zip(fetched.entries, known, strict=True)
            if article_id is None
        ]
        # Article pages are fetched for new excerpts only: a re-poll costs no page loads.
        # Oldest first: stories are placed in the order things happened.
        completed = await self._source.complete(feed, new_entries)
        ordered = sorted(completed, key=lambda e: e.published_at or started)
        stored = await self._stories.store_all(
            feed, [self._article(entry, source_name, started) for entry in ordered]
        )
        added = sum(article_id is not None for article_id in stored)
        await self._store.record_fetch_success(
            feed,
            at=started,
            next_poll_at=started + self._poll_interval,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            title=fetched.title,
        )
        for warning in fetched.warnings:
            log.warning("feed %s: %s", feed.url, warning)
        log.info("feed %s: %d entries, %d new", feed.url, len(fetched.entries), added)
        return FeedReport(
            url=feed.url,
            status="ok",
            new_articles=added,
            details={"entries": len(fetched.entries)},
        )

    async def _failed(self, feed: Feed, at: datetime, exc: FeedError) -> FeedReport:
        error = str(exc)
        failures = feed.consecutive_failures + 1
        if exc.blocked_by:
            # Our own setting, not the publisher: retrying sooner changes nothing,
            # and changing the setting retries at once (see _unblocked).
            next_poll = at + self.backoff(1)
        else:
            next_poll = at + self.backoff(failures, exc.retry_after_seconds)
        await self._store.record_fetch_failure(
            feed, at=at, next_poll_at=next_poll, error=error, blocked_by=exc.blocked_by
        )
        log.warning(
            "feed %s failed (%d in a row, next try %s): %s",
            feed.url,
            failures,
            next_poll.isoformat(timespec="minutes"),
            error,
        )
        return FeedReport(url=feed.url, status="error", error=error)

    @staticmethod
    def _article(entry: ParsedEntry, source: str, fetched_at: datetime) -> NewArticle:
        return NewArticle(
            guid=entry.guid,
            url=entry.url,
            canonical_url=canonical_url(entry.url),
            title=entry.title,
            source=source,
            published_at=entry.published_at or fetched_at,
            fetched_at=fetched_at,
            text=entry.text,
            is_full_text=entry.is_full_text,
            content_hash=content_hash(entry.title, entry.text),
        )

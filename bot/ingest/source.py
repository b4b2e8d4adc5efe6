"""The FeedSource port: fetch a feed, parse it, fill in excerpts with full text."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bot.domain import Feed, FeedError, FetchedFeed, ParsedEntry
from bot.ingest.extract import extract_text
from bot.ingest.fetch import Fetcher, is_local, local_path
from bot.ingest.parse import FULL_TEXT_MIN_WORDS, parse_feed
from bot.services.ports import Workers
from bot.text import clean_text
from bot.timeutil import utcnow
from bot.workers import InThread

log = logging.getLogger(__name__)

# Pages fetched for full text per poll of one feed: politeness to the publisher.
MAX_FULL_TEXT_PER_POLL = 10


class HttpFeedSource:
    def __init__(
        self,
        fetcher: Fetcher,
        *,
        fetch_full_text: bool,
        samples_dir: Path | None = None,
        workers: Workers | None = None,
    ) -> None:
        self._fetcher = fetcher
        self._workers = workers or InThread()
        self._fetch_full_text = fetch_full_text
        # Feeds in here are the bundled samples, whose entries carry an age, not a date.
        self._samples_dir = samples_dir.resolve() if samples_dir else None

    def _is_sample(self, url: str) -> bool:
        if self._samples_dir is None or not is_local(url):
            return False
        return local_path(url).resolve().parent == self._samples_dir

    async def check_url(self, url: str, *, allow_local: bool = False) -> str:
        url = url.strip()
        if not url:
            raise FeedError("give a feed URL, e.g. https://example.com/feed.xml")
        if is_local(url):
            if not allow_local:
                raise FeedError("only http:// and https:// feed URLs can be added here")
            path = local_path(url)
            if not path.is_file():
                raise FeedError(f"no feed file at {path}")
            return str(path.resolve())
        await self._fetcher.check_public(url)
        return url

    async def fetch(self, feed: Feed) -> FetchedFeed:
        fetched = await self._fetcher.fetch(
            feed.url, etag=feed.etag, last_modified=feed.last_modified
        )
        if fetched.not_modified:
            return FetchedFeed(
                not_modified=True,
                etag=fetched.etag or feed.etag,
                last_modified=fetched.last_modified or feed.last_modified,
            )
        parsed = await self._workers.run(
            parse_feed,
            fetched.body,
            content_type=fetched.content_type,
            now=utcnow(),
            base_url=None if is_local(feed.url) else fetched.url,
            sample_ages=self._is_sample(feed.url),
        )
        entries = parsed.entries
        title = parsed.title
        if not title:
            title = local_path(feed.url).stem if is_local(feed.url) else None
        return FetchedFeed(
            not_modified=False,
            title=title,
            entries=entries,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            warnings=parsed.warnings,
        )

    async def complete(self, feed: Feed, entries: Sequence[ParsedEntry]) -> list[ParsedEntry]:
        """Replace excerpts with the article page's text, for entries not stored yet.

        Only for feeds on the web: a local feed's links are not followed, and
        an entry's link is only ever fetched over http(s).
        """
        if not self._fetch_full_text or is_local(feed.url):
            return list(entries)
        wanted = [
            i
            for i, e in enumerate(entries)
            if not e.is_full_text and e.url.startswith(("http://", "https://"))
        ][:MAX_FULL_TEXT_PER_POLL]
        if not wanted:
            return list(entries)
        texts = await asyncio.gather(*(self._full_text(entries[i].url) for i in wanted))
        filled = list(entries)
        for i, text in zip(wanted, texts, strict=True):
            if text and len(text) > len(filled[i].text):
                filled[i] = replace(
                    filled[i], text=text, is_full_text=len(text.split()) >= FULL_TEXT_MIN_WORDS
                )
        return filled

    async def _full_text(self, url: str) -> str | None:
        try:
            page = await self._fetcher.fetch(url)
        except FeedError as exc:
            log.info("full text of %s not fetched: %s", url, exc)
            return None
        text = await self._workers.run(extract_text, page.body, url=url)
        return "\n\n".join(clean_text(p) for p in text.split("\n") if p.strip()) if text else None

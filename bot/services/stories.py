"""Stories as stored: placed once when an article is stored, read back by id.

Ingest hands each new article to `StoryDesk.store`, which places it with the
story index (an existing recent story, a new one, or a reprint of an article
already stored) and stores it accordingly. Briefs and digests then group the
articles they found by the story each is stored in: no regrouping per request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from bot.domain import Article, Feed, NewArticle, Story
from bot.placement import PlacedArticle
from bot.services.ports import (
    ArticleStore,
    Embedder,
    EmbeddingsUnavailable,
    StoryStore,
    Workers,
)
from bot.services.story_index import (
    MEANING_BASE,
    STORY_WINDOW,
    Fingerprint,
    StoryIndex,
    fingerprints,
    print_from_record,
    print_record,
    with_embedding,
)
from bot.timeutil import utcnow

log = logging.getLogger(__name__)

# A model that failed is asked again after this; batches meanwhile are placed by words.
EMBEDDINGS_RETRY = timedelta(minutes=2)
# Fingerprints are kept a little longer than a story stays open, then dropped.
PRINTS_KEPT = timedelta(days=7)


class ArticleAndStoryStore(ArticleStore, StoryStore, Protocol):
    """What placing stories needs: one engine holding both (as SQLite does)."""


class StoryDesk:
    """Places arriving articles in stories, keeping the index in step with the store."""

    def __init__(
        self,
        store: ArticleAndStoryStore,
        *,
        window: timedelta = STORY_WINDOW,
        clock: Callable[[], datetime] = utcnow,
        workers: Workers | None = None,
        shared: bool = False,
        embedder: Embedder | None = None,
        same_event_meaning: float = MEANING_BASE,
    ) -> None:
        self._store = store
        # Where an embeddings model is configured, what each text means joins its words.
        self._embedder = embedder
        self._same_event_meaning = same_event_meaning
        # Set while the model is down: until when it is not asked (a server that hangs
        # would hold every feed's batch for its timeout). Said once down, once back.
        self._embeddings_down: datetime | None = None
        # Other processes store articles in the same database: each batch first takes in
        # theirs (see `_catch_up`).
        self._shared = shared
        self._workers = workers
        self._window = window
        self._clock = clock
        self._index: StoryIndex | None = None
        # The newest article the index holds (its own or another process's): what is
        # stored after it was stored by another process (see `_catch_up`).
        self._seen_up_to = 0
        # Placing and storing are one step: two copies of one event arriving together
        # from two feeds must not both start a story.
        self._lock = asyncio.Lock()

    async def store(self, feed: Feed, article: NewArticle) -> int | None:
        """Store a new entry in its story; the new article's id, or None when it was a
        copy (of an article stored already, or a reprint of one: then it is a source)."""
        (stored,) = await self.store_all(feed, [article])
        return stored

    async def store_all(self, feed: Feed, articles: Sequence[NewArticle]) -> list[int | None]:
        """`store` for each of a feed's new entries, in the order given, in one write.

        Fingerprints are computed off the event loop (by `workers`, else in a thread),
        so a long feed does not stall the bot. Each entry is placed before the next,
        under ids the index holds as provisional (the batch's own, below zero) until
        the store has numbered them.
        """
        if not articles:
            return []
        texts = [(a.title, a.text) for a in articles]
        if self._workers is None:
            prints = await asyncio.to_thread(fingerprints, texts)
        else:
            prints = await self._workers.run(fingerprints, texts)
        if self._embedder is not None:
            prints = await self._embedded(self._embedder, articles, prints)
        async with self._lock, self._store.placing():
            index = await self._ready()
            if self._shared:
                await self._catch_up(index)
            placed: list[PlacedArticle] = []
            merged: dict[int, int] = {}  # a story merged away -> the one it went into
            for position, (article, print_) in enumerate(zip(articles, prints, strict=True)):
                provisional = -(position + 1)
                where = index.place(print_, at=article.published_at)
                if where.copy_of is not None and where.story is not None:
                    placed.append(PlacedArticle(article, where.story, reprint_of=where.copy_of))
                    index.remember(
                        where.story, where.copy_of, print_, at=article.published_at, reprint=True
                    )
                    continue
                placed.append(PlacedArticle(article, where.story, record=print_record(print_)))
                story = where.story if where.story is not None else provisional
                index.remember(story, provisional, print_, at=article.published_at)
                for absorbed in where.merges:
                    index.merge(story, absorbed)
                    merged[absorbed] = story
            placed = _merged(placed, merged)
            stored: list[int | None] = []
            try:
                stored = await self._store.add_articles(feed, placed)
                await self._merge_stored(merged)
            finally:  # stored or not, the index must not keep the batch's provisional ids
                index.renumber(
                    {-(i + 1): article_id for i, article_id in enumerate(stored) if article_id}
                )
            self._seen_up_to = max([self._seen_up_to, *(i for i in stored if i)])
        for article, entry in zip(articles, placed, strict=True):
            if entry.reprint_of is not None:
                log.debug("%s reprints article %d", article.url, entry.reprint_of)
        return stored

    async def _merge_stored(self, merged: dict[int, int]) -> None:
        """Merge in the store the stored stories (ids above zero) merged in the index;
        stories of this batch were merged in `_merged` before they were stored."""
        into: dict[int, list[int]] = {}
        for absorbed in merged:
            if absorbed > 0:
                into.setdefault(_followed(merged, absorbed), []).append(absorbed)
        for kept, gone in into.items():
            await self._store.merge_stories(kept, gone)
            log.debug("stories %s merged into %d", gone, kept)

    async def _embedded(
        self, embedder: Embedder, articles: Sequence[NewArticle], prints: list[Fingerprint]
    ) -> list[Fingerprint]:
        """The fingerprints with the model's vectors; as they were when it fails (the
        articles are then placed by their words, and stored all the same)."""
        if self._embeddings_down is not None and self._clock() < self._embeddings_down:
            return prints  # down a moment ago: not asked again until EMBEDDINGS_RETRY
        texts = [f"{a.title}\n\n{a.text}" for a in articles]  # the model reads their start
        try:
            vectors = await embedder.embed(texts)
            if len(vectors) != len(texts):
                raise EmbeddingsUnavailable(f"{len(vectors)} vectors for {len(texts)} texts")
        except EmbeddingsUnavailable as error:
            if self._embeddings_down is None:
                log.warning(
                    "embeddings unavailable (%s): stories are placed by their words until "
                    "it answers again (asked again every %d s)",
                    error,
                    EMBEDDINGS_RETRY.total_seconds(),
                )
            self._embeddings_down = self._clock() + EMBEDDINGS_RETRY
            return prints
        if self._embeddings_down is not None:
            log.info("embeddings: %s answers again", embedder.model)
            self._embeddings_down = None
        return [with_embedding(p, v) for p, v in zip(prints, vectors, strict=True)]

    async def aclose(self) -> None:
        """Close the embeddings model's connections, if one is configured."""
        if self._embedder is not None:
            await self._embedder.aclose()

    async def tidy(self) -> None:
        """Forget stories nothing can join any more, and fingerprints no longer needed."""
        now = self._clock()
        async with self._lock:
            if self._index is not None:
                self._index.forget_before(now - self._window)
            await self._store.forget_prints(now - PRINTS_KEPT)

    async def _ready(self) -> StoryIndex:
        """The index, rebuilt from the store's recent fingerprints on first use."""
        if self._index is None:
            index = StoryIndex(window=self._window, same_event_meaning=self._same_event_meaning)
            stored = await self._store.story_prints(self._clock() - self._window)
            for item in stored:
                index.remember(
                    item.story_id,
                    item.article_id,
                    print_from_record(item.record),
                    at=item.published_at,
                )
            self._seen_up_to = max((item.article_id for item in stored), default=0)
            log.info("story index: %d stories from %d recent articles", len(index), len(stored))
            self._index = index
        return self._index

    async def _catch_up(self, index: StoryIndex) -> None:
        """Put in the index what other processes sharing the database stored since this
        one last looked."""
        since = self._clock() - self._window
        others = await self._store.story_prints(since, after_id=self._seen_up_to)
        for item in others:
            index.remember(
                item.story_id, item.article_id, print_from_record(item.record), at=item.published_at
            )
            self._seen_up_to = max(self._seen_up_to, item.article_id)
        if others:
            log.debug("story index: %d articles stored by other processes", len(others))


def _followed(merged: Mapping[int, int], story: int) -> int:
    """Where a story went, through every merge."""
    while story in merged:
        story = merged[story]
    return story


def _merged(placed: list[PlacedArticle], merged: Mapping[int, int]) -> list[PlacedArticle]:
    """The batch with each entry in the story its own went into (an entry that started a
    story is named by its provisional id, -1 for the first)."""
    if not merged:
        return placed
    settled = []
    for position, entry in enumerate(placed):
        own = entry.story_id if entry.story_id is not None else -(position + 1)
        story = _followed(merged, own)
        if story != own:
            entry = replace(entry, story_id=story)
        settled.append(entry)
    return settled


async def stored_stories(store: StoryStore, articles: Sequence[Article]) -> list[Story]:
    """The articles grouped by stored story (see `by_story`), each with its version."""
    stories = by_story(articles)
    versions = await store.story_versions([s.id for s in stories if s.id is not None])
    return [replace(s, version=versions[s.id]) if s.id in versions else s for s in stories]


def by_story(articles: Sequence[Article]) -> list[Story]:
    """The articles grouped by the story each is stored in, in the order of each story's
    first article; that article leads its story."""
    groups: dict[int, list[Article]] = {}
    for article in articles:
        story = article.story_id if article.story_id is not None else -article.id
        groups.setdefault(story, []).append(article)
    return [Story(tuple(group), id=story if story > 0 else None) for story, group in groups.items()]

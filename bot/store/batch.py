"""A feed's new entries placed against what is stored: the one placing path of both
engines and of the in-memory store the tests use.

The store reads, in one query, what placing a batch depends on, as rows with `kind`,
`key`, `id`, `linked` and `story`: "g" an article of this feed's guid `key`, "u" an
article with canonical URL `key`, "r" a reprint with that URL (of article `id`), "h"
an article with content hash `key`, "a" an article a batch entry reprints, "s" a
stored story `id` a batch entry names; `linked` says whether the feed carries the
article already and `story` is its stored story. `Batch` then places the entries one
by one in Python (as storing each in its own transaction would) and collects each
table's rows; the store writes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from bot.placement import PlacedArticle


@dataclass(frozen=True)
class Outcome:
    """What became of a batch entry, and the article it is (new, reprinted or copied)."""

    kind: Literal["new", "reprint", "copy"]
    article_id: int


def check_batch_ids(placed: Sequence[PlacedArticle]) -> None:
    """Ids below zero may only name earlier entries of the batch."""
    for i, entry in enumerate(placed):
        for ref in (entry.story_id, entry.reprint_of):
            if ref is not None and ref < 0 and -ref > i:
                raise ValueError(f"entry {i + 1} of the batch refers to entry {-ref}")


@dataclass
class NewStory:
    """A story the batch starts, written once with its version and last sighting."""

    first_seen: datetime
    last_seen: datetime
    version: int = 1


class Batch:
    """A feed's new entries placed one by one, as storing each in its own transaction
    would: the stored state they depend on (the engine's lookup rows, see the module
    docstring) kept up to date as entries are placed, new articles numbered from `ids`,
    and the rows to write collected per table."""

    def __init__(
        self,
        feed_id: int,
        lookup: Iterable[Any],  # rows read by name (sqlite3.Row, asyncpg.Record, dicts)
        *,
        ids: Iterator[int],
    ) -> None:
        self.feed_id = feed_id
        self.ids = ids
        self.by_guid: dict[str, int] = {}  # this feed's guids
        self.by_url: dict[str, int] = {}  # an article's URL, or a reprint's
        self.by_hash: dict[str, int] = {}
        self.linked: set[int] = set()  # articles this feed carries
        self.story_of: dict[int, int | None] = {}  # None: its story is not stored
        self.stories: set[int] = set()  # stored before the batch
        self.entries: list[int] = []  # the article each entry placed so far is
        self.new_stories: dict[int, NewStory] = {}
        self.bumps: dict[int, tuple[int, datetime]] = {}  # stored story -> (joined, last seen)
        self.article_rows: list[tuple[Any, ...]] = []
        self.reprint_rows: list[tuple[Any, ...]] = []
        self.link_rows: list[tuple[Any, ...]] = []
        self.print_rows: list[tuple[Any, ...]] = []
        reprint_urls: list[tuple[str, int]] = []
        for row in lookup:
            kind, key, found = row["kind"], row["key"], int(row["id"])
            if kind == "s":
                self.stories.add(found)
                continue
            if row["linked"]:
                self.linked.add(found)
            self.story_of[found] = row["story"]
            if row["story"] is not None:
                self.stories.add(row["story"])
            if kind == "g":
                self.by_guid[key] = found
            elif kind == "u":
                self.by_url[key] = found
            elif kind == "r":
                reprint_urls.append((key, found))
            elif kind == "h":
                self.by_hash[key] = found
        for url, found in reprint_urls:  # an article's URL wins over a reprint's
            self.by_url.setdefault(url, found)

    def place(self, entry: PlacedArticle) -> Outcome:
        """The next entry, placed after the ones before it."""
        outcome = self._place(entry)
        self.entries.append(outcome.article_id)
        return outcome

    def _place(self, entry: PlacedArticle) -> Outcome:
        article = entry.article
        # A copy: same guid in this feed, same URL (an article's or a reprint's), same text.
        by_guid = self.by_guid.get(article.guid) if article.guid else None
        existing = by_guid
        if existing is None:
            existing = self.by_url.get(article.canonical_url)
        if existing is None:
            existing = self.by_hash.get(article.content_hash)
        if existing is not None:
            if by_guid is None:
                self._link(existing, article.guid)
            return Outcome("copy", existing)
        published = article.published_at
        if entry.reprint_of is not None:
            original = self._article(entry.reprint_of)
            self.reprint_rows.append(
                (original, article.canonical_url, article.url, article.source, published)
            )
            self.by_url[article.canonical_url] = original
            self._link(original, article.guid)
            story = self.story_of.get(original)
            if story is not None:
                self._seen(story, published, joined=0)
            return Outcome("reprint", original)
        article_id = next(self.ids)
        story_id = entry.story_id
        if story_id is not None and story_id < 0:
            story_id = self.story_of.get(self._article(story_id))
        if story_id is not None and (story_id in self.stories or story_id in self.new_stories):
            self._seen(story_id, published, joined=1)
        else:  # none asked, or gone: the article starts a story of its own
            story_id = article_id
            self.new_stories[story_id] = NewStory(published, published)
        self.article_rows.append(
            (
                article_id,
                article.guid,
                article.url,
                article.canonical_url,
                article.title,
                article.source,
                published,
                article.fetched_at,
                article.text,
                article.is_full_text,
                article.content_hash,
                story_id,
            )
        )
        self.story_of[article_id] = story_id
        self.by_url[article.canonical_url] = article_id
        self.by_hash[article.content_hash] = article_id
        self._link(article_id, article.guid)
        if entry.record is not None:
            self.print_rows.append((article_id, entry.record.data, entry.record.sketch))
        return Outcome("new", article_id)

    def _article(self, ref: int) -> int:
        """An article id, or the article of an earlier entry named by a negative one."""
        return self.entries[-ref - 1] if ref < 0 else ref

    def _link(self, article_id: int, guid: str | None) -> None:
        """INSERT ... ON CONFLICT DO NOTHING: one link per (article, feed), one article per
        guid in a feed (callers have checked the guid is not this feed's yet)."""
        if article_id in self.linked:
            return
        self.linked.add(article_id)
        if guid:
            self.by_guid[guid] = article_id
        self.link_rows.append((article_id, self.feed_id, guid))

    def _seen(self, story_id: int, published: datetime, *, joined: int) -> None:
        """A story joined by an article (its version grows) or reprinted: its last sighting."""
        if (new := self.new_stories.get(story_id)) is not None:
            new.version += joined
            new.last_seen = max(new.last_seen, published)
            return
        count, last_seen = self.bumps.get(story_id, (0, published))
        self.bumps[story_id] = (count + joined, max(last_seen, published))

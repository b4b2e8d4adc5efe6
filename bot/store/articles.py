"""Articles, each stored once however many feeds carry it (a reprint of its wire text
included), each in one story (the ArticleStore port), on either engine.

A feed's batch of new entries is stored in one transaction: one statement reads all
that placing the entries depends on, `Batch` places them in order in Python (as
storing each in its own transaction would), and each table is written in one go.
What differs per engine is left to it: ids for the new articles (`_new_article_ids`),
the bulk writes (`_write_batch`) and full-text search (`search`).
"""

from __future__ import annotations

import itertools
from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime

from bot.domain import Article, Feed, MatchMode, Reprint, Scope, SearchHit
from bot.placement import PlacedArticle
from bot.store.base import ARTICLES_LOCK, StoreBase, in_window_and_scope
from bot.store.batch import Batch, check_batch_ids
from bot.store.sql import Queries, Row, moment

# A search's window and scope: published since, fetched since, platform, workspace.
Window = tuple[datetime | None, datetime | None, str, str]
# Ids for a trial placing of a batch: above any stored article's.
_PROVISIONAL_IDS = 2**62

ARTICLE_COLUMNS = (
    "a.id, a.guid, a.url, a.canonical_url, a.title, a.source, a.published_at, a.fetched_at, "
    "a.text, a.is_full_text, a.content_hash, a.story_id"
)

# Entries stored already: by guid in this feed (g), by URL as an article's (u) or as a
# reprint's (r). $1 feed, $2 guids, $3 URLs.
_KNOWN_ENTRIES = (
    "SELECT 'g' AS kind, guid AS key, article_id AS id FROM article_feeds "
    "WHERE feed_id = $1 AND guid = ANY($2::text[]) "
    "UNION ALL SELECT 'u', canonical_url, id FROM articles WHERE canonical_url = ANY($3::text[]) "
    "UNION ALL SELECT 'r', canonical_url, article_id FROM reprints "
    "WHERE canonical_url = ANY($3::text[])"
)


def _linked(article: str) -> str:
    """Whether the batch's feed ($1) carries the article already."""
    return (
        f"EXISTS (SELECT 1 FROM article_feeds l WHERE l.article_id = {article} AND l.feed_id = $1)"
    )


def _story_of(article: str) -> str:
    """The article's story, if that story is stored."""
    return (
        f"(SELECT s.id FROM articles x JOIN stories s ON s.id = x.story_id WHERE x.id = {article})"
    )


# All a batch of new entries needs to know, in one statement (see bot/store/batch.py):
# the stored articles they may copy (as _KNOWN_ENTRIES, plus by text: h), the articles
# reprinted (a) and the stories joined (s); for each article, whether the feed carries
# it and its story. $1 feed, $2 guids, $3 URLs, $4 content hashes, $5 articles
# reprinted, $6 stories joined.
_BATCH_LOOKUP = (
    f"SELECT 'g' AS kind, af.guid AS key, af.article_id AS id, TRUE AS linked, "
    f"{_story_of('af.article_id')} AS story FROM article_feeds af "
    "WHERE af.feed_id = $1 AND af.guid = ANY($2::text[]) "
    f"UNION ALL SELECT 'u', a.canonical_url, a.id, {_linked('a.id')}, {_story_of('a.id')} "
    "FROM articles a WHERE a.canonical_url = ANY($3::text[]) "
    f"UNION ALL SELECT 'r', r.canonical_url, r.article_id, {_linked('r.article_id')}, "
    f"{_story_of('r.article_id')} FROM reprints r WHERE r.canonical_url = ANY($3::text[]) "
    f"UNION ALL SELECT 'h', a.content_hash, a.id, {_linked('a.id')}, {_story_of('a.id')} "
    "FROM articles a WHERE a.content_hash = ANY($4::text[]) "
    f"UNION ALL SELECT 'a', NULL, a.id, {_linked('a.id')}, {_story_of('a.id')} "
    "FROM articles a WHERE a.id = ANY($5::bigint[]) "
    "UNION ALL SELECT 's', NULL, s.id, FALSE, s.id FROM stories s WHERE s.id = ANY($6::bigint[])"
)


class ArticleRecords(StoreBase):
    async def known_articles(
        self, feed: Feed, entries: Sequence[tuple[str | None, str]]
    ) -> list[int | None]:
        """For each (guid, canonical_url): the stored article it is, by guid in this feed
        or by URL (an article's, else a reprint's); one query for the lot."""
        if not entries:
            return []
        rows = await self.db.fetch(
            _KNOWN_ENTRIES,
            feed.id,
            sorted({g for g, _ in entries if g}),
            sorted({u for _, u in entries}),
        )
        by_guid = {r["key"]: int(r["id"]) for r in rows if r["kind"] == "g"}
        by_url: dict[str, int] = {}
        for row in sorted(rows, key=lambda r: r["kind"] != "u"):  # an article's URL first
            if row["kind"] != "g":
                by_url.setdefault(row["key"], int(row["id"]))
        return [(by_guid.get(guid) if guid else None) or by_url.get(url) for guid, url in entries]

    async def link_articles(self, feed: Feed, links: Sequence[tuple[int, str | None]]) -> None:
        if not links:
            return
        await self.db.executemany(
            "INSERT INTO article_feeds (article_id, feed_id, guid) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING",
            [(article_id, feed.id, guid) for article_id, guid in links],
        )

    async def add_articles(self, feed: Feed, placed: Sequence[PlacedArticle]) -> list[int | None]:
        """Store a feed's new entries, in order: each new article's id, else None (a
        reprint, or a copy of an article stored). A constant number of round trips
        however long the batch. Batches are serialised between processes, so what
        one read stays true until it commits, and a copy another process is storing at
        the same moment is found as a copy instead of breaking a unique index."""
        if not placed:
            return []
        check_batch_ids(placed)
        async with self.db.transaction(lock=ARTICLES_LOCK) as tx:
            lookup = await tx.fetch(
                _BATCH_LOOKUP,
                feed.id,
                sorted({p.article.guid for p in placed if p.article.guid}),
                sorted({p.article.canonical_url for p in placed}),
                sorted({p.article.content_hash for p in placed}),
                sorted({p.reprint_of for p in placed if p.reprint_of and p.reprint_of > 0}),
                sorted({p.story_id for p in placed if p.story_id and p.story_id > 0}),
            )

            def count_new() -> int:
                """Placed once on ids no stored article has, to count the new articles."""
                trial = Batch(feed.id, lookup, ids=itertools.count(_PROVISIONAL_IDS))
                return sum(trial.place(entry).kind == "new" for entry in placed)

            batch = Batch(feed.id, lookup, ids=await self._new_article_ids(tx, count_new))
            outcomes = [batch.place(entry) for entry in placed]
            await self._write_batch(tx, batch)
        return [o.article_id if o.kind == "new" else None for o in outcomes]

    @abstractmethod
    async def _new_article_ids(self, tx: Queries, count_new: Callable[[], int]) -> Iterator[int]:
        """Ids for the batch's new articles, in order (`count_new()` says how many)."""

    @abstractmethod
    async def _write_batch(self, tx: Queries, batch: Batch) -> None:
        """Each table's rows of the batch, in an order the foreign keys accept."""

    async def search(
        self,
        scope: Scope,
        words: Sequence[str],
        *,
        mode: MatchMode,
        since: datetime | None,
        limit: int,
        fetched_since: datetime | None = None,
    ) -> list[SearchHit]:
        """Up to `limit` matches the scope sees in the window, most relevant first. Only
        ids and ranks are sorted (`_ranked`); the best are read whole afterwards."""
        window = (since, fetched_since, scope.platform, scope.workspace)
        ranked = await self._ranked(words, mode, window, limit)
        articles = {a.id: a for a in await self.get_articles([i for i, _ in ranked])}
        return [SearchHit(articles[i], relevance) for i, relevance in ranked if i in articles]

    @abstractmethod
    async def _ranked(
        self, words: Sequence[str], mode: MatchMode, window: Window, limit: int
    ) -> list[tuple[int, float]]:
        """The ids of the `limit` best matches in `window` (see `in_window_and_scope`),
        best first, each with its relevance (larger is better); none without a word."""

    async def get_articles(self, ids: Sequence[int]) -> list[Article]:
        """The articles of `ids` that are stored, in that order."""
        if not ids:
            return []
        rows = await self.db.fetch(
            f"SELECT {ARTICLE_COLUMNS} FROM articles a WHERE a.id = ANY($1::bigint[])", list(ids)
        )
        by_id = {a.id: a for a in await self.articles_of(rows)}
        return [by_id[i] for i in ids if i in by_id]

    async def recent_articles(
        self, scope: Scope, *, since: datetime, limit: int, fetched_since: datetime | None = None
    ) -> list[Article]:
        rows = await self.db.fetch(
            f"SELECT {ARTICLE_COLUMNS} FROM articles a "
            f"WHERE {in_window_and_scope('$1', '$2', '$3', '$4')} "
            "ORDER BY a.published_at DESC, a.id DESC LIMIT $5",
            since,
            fetched_since,
            scope.platform,
            scope.workspace,
            limit,
        )
        return await self.articles_of(rows)

    async def articles_of(self, rows: Sequence[Row]) -> list[Article]:
        """Rows as articles, each with the reprints of it, oldest first."""
        articles = [_article(r) for r in rows]
        if not articles:
            return articles
        found: dict[int, list[Reprint]] = {}
        for row in await self.db.fetch(
            "SELECT article_id, source, url FROM reprints WHERE article_id = ANY($1::bigint[]) "
            "ORDER BY published_at, source, canonical_url",
            [a.id for a in articles],
        ):
            found.setdefault(row["article_id"], []).append(Reprint(row["source"], row["url"]))
        if not found:
            return articles
        return [replace(a, reprints=tuple(found.get(a.id, ()))) for a in articles]


def _article(row: Row) -> Article:
    return Article(
        id=row["id"],
        guid=row["guid"],
        url=row["url"],
        canonical_url=row["canonical_url"],
        title=row["title"],
        source=row["source"],
        published_at=moment(row["published_at"]),
        fetched_at=moment(row["fetched_at"]),
        text=row["text"],
        is_full_text=bool(row["is_full_text"]),
        content_hash=row["content_hash"],
        story_id=row["story_id"],
    )

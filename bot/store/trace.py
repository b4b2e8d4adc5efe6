"""What the database knows of one URL, for `why` (the TraceStore port), on either engine:
a few small reads by index, and one scan of the threads (an operator's question, not a
hot path)."""

from __future__ import annotations

import json

from bot.domain import Scope
from bot.services.url_trace import Copy, Showing, StoredArticle, StoryPost, UrlTrace
from bot.store.base import StoreBase
from bot.store.feeds import feed_of
from bot.store.sql import moment


class TraceRecords(StoreBase):
    async def trace_url(self, url: str, canonical: str) -> UrlTrace:
        row = await self.db.fetchrow(
            "SELECT id, url, title, source, published_at, fetched_at, story_id FROM articles "
            "WHERE canonical_url = $1 OR canonical_url = $2 OR url = $1 LIMIT 1",
            url,
            canonical,
        )
        copy = None
        if row is None:
            reprint = await self.db.fetchrow(
                "SELECT article_id, url, source, published_at FROM reprints "
                "WHERE canonical_url = $1 OR canonical_url = $2 OR url = $1 LIMIT 1",
                url,
                canonical,
            )
            if reprint is None:
                return UrlTrace()
            copy = Copy(
                str(reprint["url"]), str(reprint["source"]), moment(reprint["published_at"])
            )
            row = await self.db.fetchrow(
                "SELECT id, url, title, source, published_at, fetched_at, story_id FROM articles "
                "WHERE id = $1",
                reprint["article_id"],
            )
            if row is None:
                return UrlTrace()
        article = StoredArticle(
            int(row["id"]),
            str(row["url"]),
            str(row["title"]),
            str(row["source"]),
            moment(row["published_at"]),
            moment(row["fetched_at"]),
            row["story_id"],
        )
        feeds = await self.db.fetch(
            "SELECT f.* FROM article_feeds a JOIN feeds f ON f.id = a.feed_id "
            "WHERE a.article_id = $1 ORDER BY f.id",
            article.id,
        )
        size, version, posts = 0, 0, []
        if article.story_id is not None:
            story = await self.db.fetchrow(
                "SELECT version, (SELECT count(*) FROM articles WHERE story_id = $1) AS size "
                "FROM stories WHERE id = $1",
                article.story_id,
            )
            if story is not None:
                size, version = int(story["size"]), int(story["version"])
            posts = [
                StoryPost(
                    Scope(str(p["platform"]), str(p["workspace"])),
                    str(p["channel"]),
                    int(p["version"]),
                    str(p["thread_key"]),
                    moment(p["posted_at"]),
                )
                for p in await self.db.fetch(
                    "SELECT * FROM story_posts WHERE story_id = $1 ORDER BY posted_at",
                    article.story_id,
                )
            ]
        return UrlTrace(
            article=article,
            copy=copy,
            feeds=tuple(feed_of(f) for f in feeds),
            story_size=size,
            story_version=version,
            showings=tuple(await self._showings(article.id)),
            story_posts=tuple(posts),
        )

    async def _showings(self, article_id: int) -> list[Showing]:
        """The threads whose posts show the article (their article list holds its id), with
        the delivery that opened each."""
        rows = await self.db.fetch(
            "SELECT t.*, (SELECT p.delivery_key FROM delivery_parts p "
            "WHERE p.thread_key = t.thread_key OR p.message_id = t.thread_key LIMIT 1) "
            "AS delivery FROM threads t WHERE ',' || replace(replace(replace(t.article_ids, "
            "' ', ''), '[', ''), ']', '') || ',' LIKE $1 ORDER BY t.created_at",
            f"%,{article_id},%",
        )
        return [
            Showing(
                Scope(str(r["platform"]), str(r["workspace"])),
                str(r["channel"]),
                str(r["kind"]),
                str(r["thread_key"]),
                moment(r["created_at"]),
                r["delivery"],
            )
            for r in rows
            if article_id in json.loads(r["article_ids"])
        ]

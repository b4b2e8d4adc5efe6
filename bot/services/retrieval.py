"""Finding the articles a brief or an answer stands on: FTS5, then recency."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.domain import Article, Scope, SearchHit
from bot.services.ports import ArticleSearch
from bot.text import query_terms

# A story this old counts half as much as a fresh one of equal relevance.
RECENCY_HALF_LIFE = timedelta(hours=36)


def recency_weight(published_at: datetime, now: datetime) -> float:
    age = max(0.0, (now - published_at).total_seconds())
    return math.pow(0.5, age / RECENCY_HALF_LIFE.total_seconds())


def rank(hits: Sequence[SearchHit], now: datetime) -> list[Article]:
    """bm25 relevance blended with recency: recent stories first among the relevant."""
    scored = [
        (hit.relevance * (0.35 + 0.65 * recency_weight(hit.article.published_at, now)), hit)
        for hit in hits
    ]
    scored.sort(key=lambda pair: pair[0], reverse=True)
    return [hit.article for _, hit in scored]


async def find_articles(
    store: ArticleSearch,
    scope: Scope,
    text: str,
    *,
    now: datetime,
    since: datetime | None,
    limit: int,
    any_word: bool,
) -> list[Article]:
    """Articles with every word of `text`; with `any_word`, failing that, with some."""
    words = query_terms(text)
    if not words:
        return []
    hits = await store.search(scope, words, mode="all", since=since, limit=limit)
    if not hits and any_word and len(words) > 1:
        hits = await store.search(scope, words, mode="any", since=since, limit=limit)
    return rank(hits, now)

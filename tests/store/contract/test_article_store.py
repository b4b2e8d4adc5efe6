"""The ArticleStore contract: one copy per article, seen only through a scope's feeds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.domain import Feed, MatchMode, NewArticle, Scope
from bot.placement import PlacedArticle
from bot.services.ports import ArticleStore, FeedStore
from tests.helpers import new_article, store_article, store_reprint
from tests.store.contract.conftest import ENGINES, AllRoles, open_engine

A = Scope("slack", "TA")
B = Scope("discord", "GB")
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LONG_AGO = T0 - timedelta(days=365)


@pytest.fixture(params=[*ENGINES, pytest.param("postgres-gin", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AllRoles]:
    """Search has two ways on PostgreSQL: from the RUM index where the server has the
    extension, from the GIN index alone where not; both keep this contract."""
    async with open_engine(request.param, request, tmp_path) as store:
        yield store


def _new(url: str, title: str = "Title", text: str | None = None, **fields: Any) -> NewArticle:
    """An entry published and fetched at T0 unless said otherwise."""
    return new_article(url, title, text, **{"published_at": T0, "fetched_at": T0, **fields})


async def own_feed(feeds: FeedStore, scope: Scope, url: str) -> Feed:
    feed = await feeds.add_feed(url)
    await feeds.subscribe_feed(scope, feed, channel="C", added_by="U")
    return feed


async def titles(
    articles: ArticleStore,
    scope: Scope,
    words: list[str],
    *,
    mode: MatchMode = "all",
    since: datetime | None = None,
    fetched_since: datetime | None = None,
) -> list[str]:
    hits = await articles.search(
        scope, words, mode=mode, since=since, limit=10, fetched_since=fetched_since
    )
    return [h.article.title for h in hits]


async def test_articles_get_ids_in_order_and_come_back_as_given(
    feeds: FeedStore, articles: ArticleStore
) -> None:
    """Ids are 1, 2…; get_articles keeps the asked order and skips unknown ids."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    first = _new("https://a.example/1", "One", "First text.", guid="g1")
    assert await store_article(articles, feed, first) == 1
    assert await store_article(articles, feed, _new("https://a.example/2", "Two")) == 2
    got = await articles.get_articles([2, 99, 1])
    assert [a.id for a in got] == [2, 1]
    one = got[1]
    assert (one.guid, one.url, one.canonical_url, one.title, one.text) == (
        "g1",
        "https://a.example/1",
        first.canonical_url,
        "One",
        "First text.",
    )
    assert (one.source, one.is_full_text, one.content_hash) == (
        "Test Outlet",
        False,
        first.content_hash,
    )
    assert (one.published_at, one.fetched_at) == (T0, T0)
    assert await articles.get_articles([]) == []


async def test_same_guid_in_the_same_feed_is_a_duplicate(
    feeds: FeedStore, articles: ArticleStore
) -> None:
    """A feed's guid identifies its entry, even if the URL and text changed."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    other = await own_feed(feeds, A, "https://b.example/feed")
    assert await store_article(articles, feed, _new("https://a.example/1", guid="g"))
    assert await store_article(articles, feed, _new("https://a.example/2", "New", guid="g")) is None
    # the same guid in another feed is another article
    assert await store_article(articles, other, _new("https://b.example/1", "B", guid="g")) == 2


async def test_same_canonical_url_is_a_duplicate(feeds: FeedStore, articles: ArticleStore) -> None:
    """A tracking-tagged copy of a stored URL is not stored again."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    assert await store_article(articles, feed, _new("https://a.example/1", "Bridge"))
    tagged = _new("https://A.example/1?utm_source=rss#top", "Bridge!", "Other words.")
    assert await store_article(articles, feed, tagged) is None
    assert await articles.get_articles([2]) == []


async def test_same_text_is_a_duplicate(feeds: FeedStore, articles: ArticleStore) -> None:
    """The same title and text under another URL is the same article."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    text = "The council approved the new bridge after a long debate."
    assert await store_article(articles, feed, _new("https://a.example/1", "Bridge", text))
    copy = _new("https://syndicated.example/x", "Bridge", text)
    assert await store_article(articles, feed, copy) is None


async def test_a_duplicate_from_another_feed_reaches_that_feeds_readers(
    feeds: FeedStore, articles: ArticleStore
) -> None:
    """Dedupe by URL or text still links the second feed, so its workspace sees the article."""
    feed_a = await own_feed(feeds, A, "https://a.example/feed")
    feed_b = await own_feed(feeds, B, "https://b.example/feed")
    text = "Harbour cranes were replaced over the winter."
    by_url = _new("https://news.example/cranes", "Harbour cranes", text)
    by_text = _new("https://news.example/ferry", "Ferry timetable", "Ferries run hourly.")
    assert await store_article(articles, feed_a, by_url) == 1
    assert await store_article(articles, feed_a, by_text) == 2
    assert await articles.recent_articles(B, since=LONG_AGO, limit=10) == []
    again = _new("https://news.example/cranes?utm_medium=rss", "Cranes", "Other text.")
    assert await store_article(articles, feed_b, again) is None
    copy = _new("https://mirror.example/ferry", "Ferry timetable", "Ferries run hourly.")
    assert await store_article(articles, feed_b, copy) is None
    seen = await articles.recent_articles(B, since=LONG_AGO, limit=10)
    assert sorted(a.id for a in seen) == [1, 2]
    assert await titles(articles, B, ["cranes"]) == ["Harbour cranes"]


async def test_known_articles_by_guid_in_the_feed_or_by_url_anywhere(
    feeds: FeedStore, articles: ArticleStore
) -> None:
    """Each entry is known by its guid in this feed, or by its URL (an article's or a
    reprint's) in any feed; otherwise None; in the order asked."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    other = await own_feed(feeds, B, "https://b.example/feed")
    stored = _new("https://a.example/1", guid="g1")
    assert await store_article(articles, feed, stored) == 1
    reprint = _new("https://b.example/copy", "Copy")
    assert await store_reprint(articles, other, 1, reprint)
    elsewhere = "https://elsewhere.example/x"
    assert await articles.known_articles(
        feed, [("g1", elsewhere), (None, elsewhere), ("g2", stored.canonical_url)]
    ) == [1, None, 1]
    assert await articles.known_articles(
        other, [("g1", elsewhere), (None, stored.canonical_url), ("g3", reprint.canonical_url)]
    ) == [None, 1, 1]
    assert await articles.known_articles(feed, []) == []


async def test_linking_stored_articles_brings_them_to_the_feeds_readers(
    feeds: FeedStore, articles: ArticleStore
) -> None:
    """A linked article is seen through the feed and known by its guid there; linking again
    is harmless."""
    feed_a = await own_feed(feeds, A, "https://a.example/feed")
    feed_b = await own_feed(feeds, B, "https://b.example/feed")
    await store_article(articles, feed_a, _new("https://a.example/1", "Harbour cranes"))
    await store_article(articles, feed_a, _new("https://a.example/2", "Ferry timetable"))
    assert await articles.recent_articles(B, since=LONG_AGO, limit=10) == []
    await articles.link_articles(feed_b, [(1, "b-1"), (2, None)])
    await articles.link_articles(feed_b, [(1, "b-1"), (1, "b-other")])
    await articles.link_articles(feed_b, [])
    seen = await articles.recent_articles(B, since=LONG_AGO, limit=10)
    assert sorted(a.id for a in seen) == [1, 2]
    assert await titles(articles, B, ["cranes"]) == ["Harbour cranes"]
    elsewhere = "https://elsewhere.example/x"
    assert await articles.known_articles(feed_b, [("b-1", elsewhere), ("b-other", elsewhere)]) == [
        1,
        None,
    ]


async def test_a_batch_gets_ids_in_order_and_is_searchable(
    feeds: FeedStore, articles: ArticleStore
) -> None:
    """add_articles stores a feed's new entries in one call: ids in order, each found by
    search and by id as if stored one by one."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    assert await store_article(articles, feed, _new("https://a.example/0", "Earlier")) == 1
    batch = [
        PlacedArticle(_new("https://a.example/1", "Bridge vote", "Council.", guid="g1")),
        PlacedArticle(_new("https://a.example/2", "Bridge repairs", "Cost.")),
        PlacedArticle(_new("https://a.example/3", "Budget", "Council cost.")),
    ]
    assert await articles.add_articles(feed, batch) == [2, 3, 4]
    got = await articles.get_articles([4, 2, 3])
    assert [(a.id, a.title, a.story_id) for a in got] == [
        (4, "Budget", 4),
        (2, "Bridge vote", 2),
        (3, "Bridge repairs", 3),
    ]
    assert got[1].guid == "g1" and got[1].published_at == T0
    assert sorted(await titles(articles, A, ["bridge"])) == ["Bridge repairs", "Bridge vote"]
    assert await titles(articles, A, ["council", "cost"]) == ["Budget"]
    assert await articles.add_articles(feed, []) == []


async def test_copies_in_a_batch_are_not_stored_again_but_link_the_feed(
    feeds: FeedStore, articles: ArticleStore
) -> None:
    """A copy of a stored article or of an earlier entry (guid, URL, text) is None, and the
    feed carries the article it copies."""
    feed_a = await own_feed(feeds, A, "https://a.example/feed")
    feed_b = await own_feed(feeds, B, "https://b.example/feed")
    text = "Harbour cranes were replaced over the winter."
    assert await store_article(
        articles, feed_a, _new("https://news.example/cranes", "Cranes", text)
    )
    batch = [
        PlacedArticle(_new("https://b.example/ferry", "Ferry", guid="f")),
        PlacedArticle(_new("https://b.example/ferry?utm_source=rss", "Ferry!", "Other.")),
        PlacedArticle(_new("https://b.example/ferry-2", "Ferry again", guid="f")),
        PlacedArticle(_new("https://news.example/cranes", "Cranes?", "Other words.")),
        PlacedArticle(_new("https://mirror.example/cranes", "Cranes", text)),
        PlacedArticle(_new("https://b.example/bus", "Bus")),
    ]
    assert await articles.add_articles(feed_b, batch) == [2, None, None, None, None, 3]
    seen = await articles.recent_articles(B, since=LONG_AGO, limit=10)
    assert sorted(a.id for a in seen) == [1, 2, 3]
    assert await titles(articles, B, ["cranes"]) == ["Cranes"]
    assert await articles.get_articles([4]) == []


async def test_a_workspace_sees_its_own_feeds_and_the_defaults_only(
    feeds: FeedStore, articles: ArticleStore
) -> None:
    """Scope isolation: another workspace's feed is invisible in recent articles and search."""
    (default,) = await feeds.sync_default_feeds(["https://d.example/feed"])
    feed_a = await own_feed(feeds, A, "https://a.example/feed")
    feed_b = await own_feed(feeds, B, "https://b.example/feed")
    await store_article(articles, default, _new("https://d.example/1", "Storm default"))
    await store_article(articles, feed_a, _new("https://a.example/1", "Storm in A"))
    await store_article(articles, feed_b, _new("https://b.example/1", "Storm in B"))
    recent = await articles.recent_articles(A, since=LONG_AGO, limit=10)
    assert sorted(a.title for a in recent) == ["Storm default", "Storm in A"]
    assert sorted(await titles(articles, B, ["storm"])) == ["Storm default", "Storm in B"]
    assert await titles(articles, Scope("slack", "TC"), ["storm"]) == ["Storm default"]


async def test_default_feeds_and_subscriptions_decide_visibility_as_they_change(
    feeds: FeedStore, articles: ArticleStore
) -> None:
    """Stored articles follow their feed: a dropped default or an unsubscribed feed hides them."""
    (default,) = await feeds.sync_default_feeds(["https://d.example/feed"])
    feed_a = await own_feed(feeds, A, "https://a.example/feed")
    await store_article(articles, default, _new("https://d.example/1", "From default"))
    await store_article(articles, feed_a, _new("https://a.example/1", "From A"))
    await feeds.sync_default_feeds([])
    assert [a.title for a in await articles.recent_articles(A, since=LONG_AGO, limit=10)] == [
        "From A"
    ]
    await feeds.unsubscribe_feed(A, feed_a)
    assert await articles.recent_articles(A, since=LONG_AGO, limit=10) == []
    await feeds.sync_default_feeds([default.url])
    assert await titles(articles, B, ["default"]) == ["From default"]


async def test_recent_articles_newest_first_then_by_id(
    feeds: FeedStore, articles: ArticleStore
) -> None:
    """Ordered by publication time, newest first; equal times put the later id first; limited."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    for n, hours in [(1, 0), (2, 2), (3, 1), (4, 2)]:
        published = T0 + timedelta(hours=hours)
        await store_article(
            articles, feed, _new(f"https://a.example/{n}", f"A{n}", published_at=published)
        )
    recent = await articles.recent_articles(A, since=LONG_AGO, limit=10)
    assert [a.id for a in recent] == [4, 2, 3, 1]
    limited = await articles.recent_articles(A, since=LONG_AGO, limit=2)
    assert [a.id for a in limited] == [4, 2]


async def test_recent_articles_windows_are_inclusive(
    feeds: FeedStore, articles: ArticleStore
) -> None:
    """`since` bounds publication and `fetched_since` the fetch time, both inclusive."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    old = _new("https://a.example/old", "Old", published_at=T0 - timedelta(days=2))
    stale = _new("https://a.example/stale", "Stale", fetched_at=T0 - timedelta(hours=1))
    fresh = _new("https://a.example/fresh", "Fresh")
    for item in (old, stale, fresh):
        await store_article(articles, feed, item)
    window = await articles.recent_articles(A, since=T0 - timedelta(days=1), limit=10)
    assert sorted(a.title for a in window) == ["Fresh", "Stale"]
    new = await articles.recent_articles(A, since=LONG_AGO, limit=10, fetched_since=T0)
    assert sorted(a.title for a in new) == ["Fresh", "Old"]
    assert [
        a.title for a in await articles.recent_articles(A, since=T0, limit=10, fetched_since=T0)
    ] == ["Fresh"]


async def test_search_all_needs_every_word_and_any_needs_one(
    feeds: FeedStore, articles: ArticleStore
) -> None:
    """Mode "all" matches articles with every word (title or text); "any" with at least one."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    await store_article(articles, feed, _new("https://a.example/1", "Bridge vote", "Council."))
    await store_article(articles, feed, _new("https://a.example/2", "Bridge repairs", "Cost."))
    await store_article(articles, feed, _new("https://a.example/3", "Budget", "Council cost."))
    assert await titles(articles, A, ["bridge", "council"]) == ["Bridge vote"]
    found = await titles(articles, A, ["bridge", "council"], mode="any")
    assert sorted(found) == ["Bridge repairs", "Bridge vote", "Budget"]
    assert await titles(articles, A, ["bridge", "mayor"]) == []


async def test_search_words_are_case_free_tokens_not_prefixes_or_operators(
    feeds: FeedStore, articles: ArticleStore
) -> None:
    """Words are split into lower-case tokens; punctuation and FTS syntax are just separators."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    await store_article(
        articles,
        feed,
        _new("https://a.example/1", "Portfolio review", "Near the port, a NEAR-miss."),
    )
    assert await titles(articles, A, ["PORT"]) == ["Portfolio review"]
    assert await titles(articles, A, ['"port" NEAR(miss*']) == ["Portfolio review"]
    assert await titles(articles, A, ["portfol"]) == []  # no prefix matching
    assert await titles(articles, A, ["***", "()"]) == []
    assert await titles(articles, A, []) == []


async def test_search_matches_word_forms(feeds: FeedStore, articles: ArticleStore) -> None:
    """Stemming: 'talk' finds 'talks' and 'talked'."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    await store_article(
        articles,
        feed,
        _new("https://a.example/1", "Peace talks resume", "Envoys talked for hours."),
    )
    assert await titles(articles, A, ["talk"]) == ["Peace talks resume"]
    assert await titles(articles, A, ["talking", "envoy"]) == ["Peace talks resume"]


async def test_search_filters_by_publication_and_fetch_time(
    feeds: FeedStore, articles: ArticleStore
) -> None:
    """`since` and `fetched_since` narrow search as they narrow recent articles."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    old = _new("https://a.example/1", "Old harbour", published_at=T0 - timedelta(days=2))
    stale = _new("https://a.example/2", "Stale harbour", fetched_at=T0 - timedelta(hours=1))
    fresh = _new("https://a.example/3", "Fresh harbour")
    for item in (old, stale, fresh):
        await store_article(articles, feed, item)
    assert len(await titles(articles, A, ["harbour"])) == 3
    in_window = await titles(articles, A, ["harbour"], since=T0 - timedelta(days=1))
    assert sorted(in_window) == ["Fresh harbour", "Stale harbour"]
    fetched = await titles(articles, A, ["harbour"], fetched_since=T0)
    assert sorted(fetched) == ["Fresh harbour", "Old harbour"]
    assert await titles(articles, A, ["harbour"], since=T0, fetched_since=T0) == ["Fresh harbour"]


async def test_search_ranks_title_matches_above_body_matches_and_limits(
    feeds: FeedStore, articles: ArticleStore
) -> None:
    """An article with the word in its title outranks one with it only in the text."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    body = "The ministry said the new rail schedule starts in June after consultation."
    await store_article(articles, feed, _new("https://a.example/1", "Transport news", body))
    await store_article(
        articles,
        feed,
        _new("https://a.example/2", "Rail strike ends", "Unions and managers agreed."),
    )
    for n in range(3, 7):  # unrelated articles, so the word is rare as in real collections
        await store_article(articles, feed, _new(f"https://a.example/{n}", f"Weather {n}"))
    hits = await articles.search(A, ["rail"], mode="all", since=None, limit=10)
    assert [h.article.title for h in hits] == ["Rail strike ends", "Transport news"]
    assert hits[0].relevance > hits[1].relevance
    top = await articles.search(A, ["rail"], mode="all", since=None, limit=1)
    assert [h.article.title for h in top] == ["Rail strike ends"]

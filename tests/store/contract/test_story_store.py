"""The StoryStore contract, with what ArticleStore does for stories: each article in one
story, a story's version growing as articles join, reprints folded into their article."""

from __future__ import annotations

from datetime import timedelta

from bot.domain import PostedStory, Reprint
from bot.services.ports import ArticleStore, FeedStore, StoryStore
from bot.services.story_index import fingerprint
from tests.store.contract.test_article_store import T0, A, B, _new, own_feed

WIRE = "https://wire.example/fire"


async def test_an_article_without_a_story_starts_one_named_after_it(
    feeds: FeedStore, articles: ArticleStore, stories: StoryStore
) -> None:
    """A new story's id is its first article's; version 1; the article says its story."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    first = await articles.add_article(feed, _new("https://a.example/1", "One"))
    assert first is not None
    (story,) = await stories.stories(A, [first])
    assert (story.id, story.version, [a.id for a in story.articles]) == (first, 1, [first])
    assert story.articles[0].story_id == first
    assert (await articles.get_articles([first]))[0].story_id == first


async def test_joining_a_story_grows_its_version_and_lists_articles_oldest_first(
    feeds: FeedStore, articles: ArticleStore, stories: StoryStore
) -> None:
    """Articles added with a story id join it; the story lists them oldest first."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    late = _new("https://a.example/late", "Late", published_at=T0 + timedelta(hours=2))
    first = await articles.add_article(feed, _new("https://a.example/1", "One"))
    assert first is not None
    second = await articles.add_article(feed, late, story_id=first)
    third = await articles.add_article(
        feed,
        _new("https://a.example/3", "Three", published_at=T0 + timedelta(hours=1)),
        story_id=first,
    )
    (story,) = await stories.stories(A, [first])
    assert story.version == 3
    assert [a.id for a in story.articles] == [first, third, second]


async def test_a_story_id_that_does_not_exist_starts_a_new_story(
    feeds: FeedStore, articles: ArticleStore, stories: StoryStore
) -> None:
    """An unknown story id is not an error: the article starts its own story."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    article = await articles.add_article(feed, _new("https://a.example/1", "One"), story_id=999)
    assert article is not None
    assert [s.id for s in await stories.stories(A, [article, 999])] == [article]


async def test_stories_come_in_the_asked_order_as_the_scope_sees_them(
    feeds: FeedStore, articles: ArticleStore, stories: StoryStore
) -> None:
    """Only articles from the scope's feeds count; a story with none is left out."""
    mine = await own_feed(feeds, A, "https://a.example/feed")
    theirs = await own_feed(feeds, B, "https://b.example/feed")
    one = await articles.add_article(mine, _new("https://a.example/1", "One"))
    two = await articles.add_article(mine, _new("https://a.example/2", "Two"))
    assert one is not None and two is not None
    hidden = await articles.add_article(theirs, _new("https://b.example/1", "B1"), story_id=one)
    got = await stories.stories(A, [two, one, 12345])
    assert [s.id for s in got] == [two, one]
    assert [a.id for a in got[1].articles] == [one]  # B's article is not A's to see
    assert [a.id for a in (await stories.stories(B, [one]))[0].articles] == [hidden]
    assert await stories.stories(B, [two]) == []


async def test_a_reprint_is_a_source_of_its_article_not_another_article(
    feeds: FeedStore, articles: ArticleStore, stories: StoryStore
) -> None:
    """A reprint shows on its article (oldest first), is known by URL, and is stored once."""
    wire_feed = await own_feed(feeds, A, "https://wire.example/feed")
    ledger = await own_feed(feeds, B, "https://ledger.example/feed")
    original = await articles.add_article(wire_feed, _new(WIRE, "Fire", source="Wire"))
    assert original is not None
    later = _new(
        "https://ledger.example/fire", "Blaze", source="Ledger", published_at=T0 + timedelta(1)
    )
    sooner = _new("https://gazette.example/fire", "Fire!", source="Gazette")
    assert await articles.add_reprint(ledger, original, later)
    assert await articles.add_reprint(wire_feed, original, sooner)
    assert not await articles.add_reprint(ledger, original, later)  # polled again
    assert await articles.known_article(ledger, None, later.canonical_url)
    assert await articles.add_article(ledger, later) is None  # the same URL as an article
    (article,) = await articles.get_articles([original])
    assert article.reprints == (
        Reprint("Gazette", "https://gazette.example/fire"),
        Reprint("Ledger", "https://ledger.example/fire"),
    )
    # B reads only the ledger's feed: the reprint brings the article to it.
    (story,) = await stories.stories(B, [original])
    assert [a.id for a in story.articles] == [original] and story.version == 1
    hits = await articles.search(B, ["fire"], mode="all", since=None, limit=5)
    assert [h.article.reprints for h in hits] == [article.reprints]


async def test_fingerprints_are_kept_for_placing_until_forgotten(
    feeds: FeedStore, articles: ArticleStore, stories: StoryStore
) -> None:
    """story_prints gives the window's fingerprints with their stories, oldest first."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    old_print = fingerprint("Old", "An old story about the harbour.")
    new_print = fingerprint("New", "A new story about the harbour fire.")
    old = await articles.add_article(
        feed,
        _new("https://a.example/old", "Old", published_at=T0 - timedelta(days=3)),
        print_=old_print,
    )
    new = await articles.add_article(
        feed, _new("https://a.example/new", "New"), story_id=old, print_=new_print
    )
    await articles.add_article(feed, _new("https://a.example/bare", "No print"))
    got = await stories.story_prints(T0 - timedelta(days=5))
    assert [(p.article_id, p.story_id) for p in got] == [(old, old), (new, old)]
    assert got[1].print_ == new_print and got[1].published_at == T0
    assert [p.article_id for p in await stories.story_prints(T0 - timedelta(days=1))] == [new]
    assert await stories.forget_prints(T0 - timedelta(days=1)) == 1
    assert [p.article_id for p in await stories.story_prints(T0 - timedelta(days=5))] == [new]


async def test_a_channel_remembers_the_latest_version_of_each_story_it_was_shown(
    feeds: FeedStore, articles: ArticleStore, stories: StoryStore
) -> None:
    """Versions are per story; what a channel saw is per scope and channel, never lowered."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    first = await articles.add_article(feed, _new("https://a.example/1", "One"))
    assert first is not None
    await articles.add_article(feed, _new("https://a.example/2", "Two"), story_id=first)
    assert await stories.story_versions([first, 404]) == {first: 2}
    await stories.record_posted_stories(A, "C1", [PostedStory(first, 1, "t1")])
    await stories.record_posted_stories(A, "C1", [PostedStory(first, 2, "t1")])
    await stories.record_posted_stories(A, "C1", [PostedStory(first, 1, "t2")])
    assert await stories.posted_stories(A, "C1", [first]) == {first: PostedStory(first, 2, "t2")}
    assert await stories.posted_stories(A, "C2", [first]) == {}
    assert await stories.posted_stories(B, "C1", [first]) == {}
    assert await stories.posted_stories(A, "C1", []) == {}

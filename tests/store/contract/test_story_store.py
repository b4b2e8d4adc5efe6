"""The StoryStore contract, with what ArticleStore does for stories: each article in one
story, a story's version growing as articles join, reprints folded into their article."""

from __future__ import annotations

from datetime import timedelta

from bot.domain import PostedStory, Reprint
from bot.placement import PlacedArticle
from bot.services.ports import ArticleStore, FeedStore, StoryStore
from bot.services.story_index import fingerprint, print_from_record, print_record
from tests.helpers import store_article, store_reprint
from tests.store.contract.test_article_store import T0, A, B, _new, own_feed

WIRE = "https://wire.example/fire"


async def test_an_article_without_a_story_starts_one_named_after_it(
    feeds: FeedStore, articles: ArticleStore, stories: StoryStore
) -> None:
    """A new story's id is its first article's; version 1; the article says its story."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    first = await store_article(articles, feed, _new("https://a.example/1", "One"))
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
    first = await store_article(articles, feed, _new("https://a.example/1", "One"))
    assert first is not None
    second = await store_article(articles, feed, late, story_id=first)
    third = await store_article(
        articles,
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
    article = await store_article(articles, feed, _new("https://a.example/1", "One"), story_id=999)
    assert article is not None
    assert [s.id for s in await stories.stories(A, [article, 999])] == [article]


async def test_stories_come_in_the_asked_order_as_the_scope_sees_them(
    feeds: FeedStore, articles: ArticleStore, stories: StoryStore
) -> None:
    """Only articles from the scope's feeds count; a story with none is left out."""
    mine = await own_feed(feeds, A, "https://a.example/feed")
    theirs = await own_feed(feeds, B, "https://b.example/feed")
    one = await store_article(articles, mine, _new("https://a.example/1", "One"))
    two = await store_article(articles, mine, _new("https://a.example/2", "Two"))
    assert one is not None and two is not None
    hidden = await store_article(articles, theirs, _new("https://b.example/1", "B1"), story_id=one)
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
    original = await store_article(articles, wire_feed, _new(WIRE, "Fire", source="Wire"))
    assert original is not None
    later = _new(
        "https://ledger.example/fire", "Blaze", source="Ledger", published_at=T0 + timedelta(1)
    )
    sooner = _new("https://gazette.example/fire", "Fire!", source="Gazette")
    assert await store_reprint(articles, ledger, original, later)
    assert await store_reprint(articles, wire_feed, original, sooner)
    assert not await store_reprint(articles, ledger, original, later)  # polled again
    assert await articles.known_articles(ledger, [(None, later.canonical_url)]) == [original]
    assert await store_article(articles, ledger, later) is None  # the same URL as an article
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
    old = await store_article(
        articles,
        feed,
        _new("https://a.example/old", "Old", published_at=T0 - timedelta(days=3)),
        print_=old_print,
    )
    new = await store_article(
        articles, feed, _new("https://a.example/new", "New"), story_id=old, print_=new_print
    )
    await store_article(articles, feed, _new("https://a.example/bare", "No print"))
    got = await stories.story_prints(T0 - timedelta(days=5))
    assert [(p.article_id, p.story_id) for p in got] == [(old, old), (new, old)]
    assert print_from_record(got[1].record) == new_print and got[1].published_at == T0
    assert [p.article_id for p in await stories.story_prints(T0 - timedelta(days=1))] == [new]
    # Stored after `old` (by another process, say): only `new`, in the order stored.
    after = await stories.story_prints(T0 - timedelta(days=5), after_id=old or 0)
    assert [p.article_id for p in after] == [new]
    assert await stories.story_prints(T0 - timedelta(days=5), after_id=new or 0) == []
    assert await stories.forget_prints(T0 - timedelta(days=1)) == 1
    assert [p.article_id for p in await stories.story_prints(T0 - timedelta(days=5))] == [new]


async def test_a_batch_entry_joins_the_story_an_earlier_entry_is_in(
    feeds: FeedStore, articles: ArticleStore, stories: StoryStore
) -> None:
    """A negative story id names an earlier entry's story, new or stored; each join grows
    the story's version."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    stored = await store_article(articles, feed, _new("https://a.example/0", "Stored"))
    assert stored == 1
    batch = [
        PlacedArticle(_new("https://a.example/1", "One")),
        PlacedArticle(
            _new("https://a.example/2", "Two", published_at=T0 + timedelta(1)), story_id=-1
        ),
        PlacedArticle(_new("https://a.example/3", "Three"), story_id=-2),
        PlacedArticle(_new("https://a.example/4", "Four"), story_id=stored),
        PlacedArticle(_new("https://a.example/5", "Five"), story_id=-4),
    ]
    assert await articles.add_articles(feed, batch) == [2, 3, 4, 5, 6]
    first, second = await stories.stories(A, [2, stored])
    assert (first.id, first.version, [a.id for a in first.articles]) == (2, 3, [2, 4, 3])
    assert (second.id, second.version, [a.id for a in second.articles]) == (1, 3, [1, 5, 6])
    assert await stories.story_versions([3, 4]) == {}


async def test_a_batch_entry_naming_a_missing_story_starts_its_own(
    feeds: FeedStore, articles: ArticleStore, stories: StoryStore
) -> None:
    """An unknown story id in a batch is not an error: that article starts its own story,
    which later entries can join."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    batch = [
        PlacedArticle(_new("https://a.example/1", "One"), story_id=999),
        PlacedArticle(_new("https://a.example/2", "Two"), story_id=-1),
    ]
    assert await articles.add_articles(feed, batch) == [1, 2]
    assert [(s.id, s.version) for s in await stories.stories(A, [1, 999])] == [(1, 2)]


async def test_a_batch_reprint_of_an_earlier_entry_is_a_source_of_it(
    feeds: FeedStore, articles: ArticleStore, stories: StoryStore
) -> None:
    """reprint_of=-1 folds the entry into the first entry's article; a copy of the reprint,
    and ids naming either, lead back to that article."""
    feed = await own_feed(feeds, A, "https://wire.example/feed")
    reprint = _new("https://ledger.example/fire", "Blaze", source="Ledger")
    batch = [
        PlacedArticle(_new(WIRE, "Fire", source="Wire")),
        PlacedArticle(reprint, reprint_of=-1),
        PlacedArticle(_new("https://ledger.example/fire?utm_source=x", "Blaze!")),
        PlacedArticle(_new("https://gazette.example/fire", "Fire!", source="Gazette"), story_id=-3),
        PlacedArticle(_new("https://post.example/fire", "Fire?", source="Post"), reprint_of=-3),
    ]
    assert await articles.add_articles(feed, batch) == [1, None, None, 2, None]
    (article,) = await articles.get_articles([1])
    assert article.reprints == (
        Reprint("Ledger", "https://ledger.example/fire"),
        Reprint("Post", "https://post.example/fire"),
    )
    (story,) = await stories.stories(A, [1])
    assert [a.id for a in story.articles] == [1, 2] and story.version == 2
    assert await articles.known_articles(feed, [(None, reprint.canonical_url)]) == [1]


async def test_prints_stored_in_a_batch_come_back_with_their_stories(
    feeds: FeedStore, articles: ArticleStore, stories: StoryStore
) -> None:
    """Each new entry's fingerprint is kept with the story it went to; reprints and copies
    keep none."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    one = fingerprint("One", "A story about the harbour.")
    two = fingerprint("Two", "More about the harbour fire.")
    batch = [
        PlacedArticle(_new("https://a.example/1", "One"), record=print_record(one)),
        PlacedArticle(_new("https://a.example/2", "Two"), story_id=-1, record=print_record(two)),
        PlacedArticle(_new("https://b.example/2", "Two?"), reprint_of=-2, record=print_record(two)),
        PlacedArticle(_new("https://a.example/1", "One again"), record=print_record(one)),
        PlacedArticle(_new("https://a.example/3", "Bare")),
    ]
    assert await articles.add_articles(feed, batch) == [1, 2, None, None, 3]
    got = await stories.story_prints(T0 - timedelta(days=1))
    assert [(p.article_id, p.story_id, print_from_record(p.record)) for p in got] == [
        (1, 1, one),
        (2, 1, two),
    ]


async def test_a_channel_remembers_the_latest_version_of_each_story_it_was_shown(
    feeds: FeedStore, articles: ArticleStore, stories: StoryStore
) -> None:
    """Versions are per story; what a channel saw is per scope and channel, never lowered."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    first = await store_article(articles, feed, _new("https://a.example/1", "One"))
    assert first is not None
    await store_article(articles, feed, _new("https://a.example/2", "Two"), story_id=first)
    assert await stories.story_versions([first, 404]) == {first: 2}
    await stories.record_posted_stories(A, "C1", [PostedStory(first, 1, "t1")])
    await stories.record_posted_stories(A, "C1", [PostedStory(first, 2, "t1")])
    await stories.record_posted_stories(A, "C1", [PostedStory(first, 1, "t2")])
    assert await stories.posted_stories(A, "C1", [first]) == {first: PostedStory(first, 2, "t2")}
    assert await stories.posted_stories(A, "C2", [first]) == {}
    assert await stories.posted_stories(B, "C1", [first]) == {}
    assert await stories.posted_stories(A, "C1", []) == {}


async def test_merged_stories_move_their_articles_and_threads_into_the_one_kept(
    feeds: FeedStore, articles: ArticleStore, stories: StoryStore
) -> None:
    """The absorbed stories' articles join the kept one (its version grows once); a
    channel shown only an absorbed story keeps its thread for the kept one, a channel
    shown both keeps the kept one's; the absorbed are gone."""
    feed = await own_feed(feeds, A, "https://a.example/feed")
    kept = await store_article(articles, feed, _new("https://a.example/1", "One"))
    later = _new("https://a.example/2", "Two", published_at=T0 + timedelta(hours=3))
    absorbed = await store_article(articles, feed, later)
    other = await store_article(articles, feed, _new("https://a.example/3", "Three"))
    assert kept is not None and absorbed is not None and other is not None
    await stories.record_posted_stories(A, "C1", [PostedStory(absorbed, 1, "only-absorbed")])
    await stories.record_posted_stories(
        A, "C2", [PostedStory(kept, 1, "kept"), PostedStory(absorbed, 1, "absorbed")]
    )
    await stories.merge_stories(kept, [absorbed])
    await stories.merge_stories(kept, [])
    await stories.merge_stories(kept, [absorbed])  # gone already (another process merged it)
    await stories.merge_stories(absorbed, [other])  # the one to keep is gone: nothing moves
    (story,) = await stories.stories(A, [kept])
    assert [a.id for a in story.articles] == [kept, absorbed] and story.version == 2
    assert await stories.story_versions([kept, absorbed, other]) == {kept: 2, other: 1}
    assert (await articles.get_articles([other]))[0].story_id == other
    assert await stories.posted_stories(A, "C1", [kept, absorbed]) == {
        kept: PostedStory(kept, 1, "only-absorbed")
    }
    assert await stories.posted_stories(A, "C2", [kept, absorbed]) == {
        kept: PostedStory(kept, 1, "kept")
    }
    assert (await articles.get_articles([absorbed]))[0].story_id == kept
    prints = await stories.story_prints(T0 - timedelta(days=1))
    assert {p.story_id for p in prints} <= {kept, other}

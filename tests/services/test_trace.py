"""`why <url>`: one URL traced through the pipeline, on the real SQLite store with the
bundled samples: a posted article, a folded copy, a URL never seen, and one a digest
left out."""

from __future__ import annotations

from bot.app import App
from bot.domain import Scope
from tests.fakes.publisher import RecordingPublisher
from tests.helpers import digest_scheduler, new_article, store_reprint, subscribe_due_now

SLACK = Scope("slack", "T1")


async def _digest(app: App, channel: str, *, max_stories: int) -> RecordingPublisher:
    """A daily digest of `max_stories` stories posted in `channel`, as the scheduler does."""
    sub = await subscribe_due_now(app, SLACK, channel)
    publisher = RecordingPublisher(platform="slack")
    scheduler = digest_scheduler(app, publisher, max_stories=max_stories)
    assert await scheduler.post_digest(sub.id) == "posted"
    return publisher


async def test_why_a_posted_article_names_its_feed_story_and_the_digest(app: App) -> None:
    """Stored, in a story, shown in the channel's digest, with its thread."""
    publisher = await _digest(app, "C1", max_stories=8)
    (_, digest), *_ = publisher.posts
    (article,) = await app.store.get_articles([digest.article_ids[0]])
    text = str(await app.chat.trace.why(article.url))
    assert f"Stored as article {article.id}" in text and article.source in text
    assert "In story" in text
    assert "Shown in a digest in slack C1" in text
    assert "https://slack.com/archives/C1/pC1-post-1" in text  # the post, from its ids


async def test_why_a_folded_copy_points_to_the_article_it_was_folded_into(app: App) -> None:
    """A copy's URL: the article it is a copy of, and that article's trace."""
    (feed, *_) = await app.store.polled_feeds()
    (article, *_) = await app.store.get_articles([1])
    copy = new_article("https://copies.example/wire-copy", article.title, article.text + " More.")
    assert await store_reprint(app.store, feed, article.id, copy)
    text = str(await app.chat.trace.why("https://copies.example/wire-copy"))
    assert "A copy" in text and article.url in text
    assert f"Stored as article {article.id}" in text


async def test_why_a_url_never_seen_says_no_feed_read_is_on_its_site(app: App) -> None:
    """Not stored, and no feed on its host: the likely reason is said."""
    message = await app.chat.trace.why("https://nowhere.example/story/1")
    assert not message.found
    assert "no feed read here is on nowhere.example" in str(message)


async def test_why_an_article_left_out_of_a_digest_says_the_cut(app: App) -> None:
    """A one-story digest: another story's article is below the cut, and says so."""
    publisher = await _digest(app, "C2", max_stories=1)
    (_, digest), *_ = publisher.posts
    shown = set(digest.article_ids)
    left_out = next(
        a for a in await app.store.get_articles(list(range(1, 37))) if a.id not in shown
    )
    text = str(await app.chat.trace.why(left_out.url))
    assert "Shown in a digest" not in text
    assert "The daily digest of slack C2 left it out: below the story cut" in text

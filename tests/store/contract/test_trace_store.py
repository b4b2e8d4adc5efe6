"""The TraceStore contract: what is stored of one URL, for `why`."""

from __future__ import annotations

from bot.domain import Scope, ThreadKind
from bot.services.ports import StorageEngine
from tests.helpers import new_article, store_article, store_reprint

A = Scope("slack", "TA")


async def test_a_url_traces_to_its_article_feed_story_copy_and_posts(
    engine: StorageEngine,
) -> None:
    """By its URL or a copy's: the article, its feed and story, the threads showing it."""
    feed = await engine.add_feed("https://a.example/feed.xml")
    article_id = await store_article(
        engine, feed, new_article("https://a.example/1", "Port strike ends", "Dock workers.")
    )
    other = await store_article(engine, feed, new_article("https://a.example/2", "Other"))
    assert article_id is not None and other is not None
    copy = new_article("https://b.example/copy", "Port strike ends", "Dock workers. Wire.")
    assert await store_reprint(engine, feed, article_id, copy)
    await engine.save_thread(A, "C1", "ts-1", ThreadKind.DIGEST, [other, article_id])
    await engine.save_thread(A, "C1", "ts-2", ThreadKind.BRIEF, [other, article_id + 100])

    trace = await engine.trace_url("https://a.example/1", "https://a.example/1")
    assert trace.article is not None and trace.article.id == article_id
    assert [f.url for f in trace.feeds] == [feed.url]
    assert trace.article.story_id is not None and trace.story_size == 1
    assert [(s.channel, s.kind, s.thread_key) for s in trace.showings] == [("C1", "digest", "ts-1")]
    assert trace.copy is None

    folded = await engine.trace_url("https://b.example/copy", "https://b.example/copy")
    assert folded.article is not None and folded.article.id == article_id
    assert folded.copy is not None and folded.copy.url == "https://b.example/copy"

    unknown = await engine.trace_url("https://c.example/x", "https://c.example/x")
    assert unknown.article is None and unknown.showings == ()

from __future__ import annotations

from bot.app import App
from bot.domain import CONSOLE_SCOPE, Hint, Scope, ThreadKind
from bot.llm.extractive import EXTRACTIVE_LABEL
from tests.helpers import add_article

PEACE_TALKS = {"harbourledger-0001", "northwindwire-0001", "civicsignal-0001"}


async def _guids(app: App, article_ids: tuple[int, ...]) -> set[str | None]:
    return {a.guid for a in await app.store.get_articles(article_ids)}


async def test_brief_cites_the_matching_articles_with_their_links(app: App) -> None:
    """A brief on ukraine cites the Ukraine articles, each citation linking to its article."""
    message = await app.chat.briefs.brief(CONSOLE_SCOPE, "ukraine")
    assert message.found and message.kind is ThreadKind.BRIEF
    articles = {a.id: a for a in await app.store.get_articles(message.article_ids)}
    assert {a.guid for a in articles.values()} >= PEACE_TALKS
    for citation in message.citations:
        article = articles[citation.article_id]
        assert citation.url == article.url
        assert citation.source == article.source
        assert "ukrain" in (article.title + article.text).lower()
    numbers = {c.number for c in message.citations}
    assert numbers == set(range(1, len(numbers) + 1))
    for section in message.sections:
        assert section.bullets
        for bullet in section.bullets:
            assert bullet.citations and set(bullet.citations) <= numbers


async def test_brief_merges_one_event_told_by_three_outlets(app: App) -> None:
    """The peace-talks story from three outlets is one item citing all three."""
    message = await app.chat.briefs.brief(CONSOLE_SCOPE, "ukraine")
    by_number = {c.number: c.article_id for c in message.citations}
    merged = [
        await _guids(app, tuple(by_number[n] for n in section.citations))
        for section in message.sections
    ]
    assert PEACE_TALKS in merged
    assert sum(1 for guids in merged if guids & PEACE_TALKS) == 1


async def test_brief_bullets_are_sentences_of_the_cited_article(app: App) -> None:
    """Every extractive bullet is quoted from the article its citation points to."""
    message = await app.chat.briefs.brief(CONSOLE_SCOPE, "interest rates")
    articles = {a.id: a for a in await app.store.get_articles(message.article_ids)}
    for section in message.sections:
        for bullet in section.bullets:
            cited = message.citation(bullet.citations[0])
            assert cited is not None
            assert bullet.text in " ".join(articles[cited.article_id].text.split())


async def test_brief_is_labelled_as_extractive(app: App) -> None:
    """What the offline path posts says it is an extractive summary."""
    message = await app.chat.briefs.brief(CONSOLE_SCOPE, "moon lander")
    assert message.found
    assert EXTRACTIVE_LABEL in message.notes


async def test_brief_on_unknown_topic_says_nothing_matched(app: App) -> None:
    """A topic with no matching article gets a helpful not-found reply."""
    message = await app.chat.briefs.brief(CONSOLE_SCOPE, "zeppelin racing")
    assert not message.found
    assert "zeppelin racing" in message.title
    assert not message.citations


async def test_brief_with_empty_topic_asks_for_one(app: App) -> None:
    """An empty or stop-word-only topic asks for a topic instead of failing."""
    for topic in ("", "   ", "the of and"):
        message = await app.chat.briefs.brief(CONSOLE_SCOPE, topic)
        assert not message.found
        assert message.hints == (Hint.BRIEF_USAGE,)
        assert "/" not in message.sections[0].bullets[0].text  # adapters name the commands


async def test_brief_query_syntax_cannot_break_search(app: App) -> None:
    """FTS5 operators and quotes in a topic are treated as words, not syntax."""
    for topic in ('ukraine" OR *', "NEAR(ukraine", "ukraine AND", "-ukraine", "ukraine:"):
        message = await app.chat.briefs.brief(CONSOLE_SCOPE, topic)
        assert message.found, topic


async def test_brief_only_sees_the_scope_feeds(app: App) -> None:
    """Articles from a feed another workspace added never reach this workspace's brief."""
    other = Scope("slack", "T-OTHER")
    mine = Scope("slack", "T-MINE")
    feed = await app.store.add_feed("https://private.example/feed.xml")
    await app.store.subscribe_feed(other, feed, channel="C1", added_by="U1")
    text = "Zeppelin racing returns to the lake with a record field of airships. " * 5
    await add_article(
        app.store,
        title="Zeppelin racing returns",
        text=text,
        url="https://private.example/zeppelin",
        source="Private Outlet",
        feed=feed,
    )
    assert (await app.chat.briefs.brief(other, "zeppelin racing")).found
    assert not (await app.chat.briefs.brief(mine, "zeppelin racing")).found


async def test_a_started_brief_shows_a_miss_at_once_and_writes_the_rest_later(app: App) -> None:
    """start() gives the same not-found reply as a brief, or a brief still to be written."""
    pending = await app.chat.briefs.start(CONSOLE_SCOPE, "ukraine")
    assert pending.nothing is None
    written = await pending.write()
    assert written.found and written == await app.chat.briefs.brief(CONSOLE_SCOPE, "ukraine")
    early = await app.chat.briefs.start(CONSOLE_SCOPE, "zeppelin")
    assert early.nothing == await app.chat.briefs.brief(CONSOLE_SCOPE, "zeppelin")
    blank = await app.chat.briefs.start(CONSOLE_SCOPE, "  ")
    assert blank.nothing is not None and blank.nothing.title == "Which topic?"


async def test_brief_on_punctuation_or_a_huge_topic_asks_again_without_echoing(
    app: App,
) -> None:
    """Punctuation only asks for a topic; 10,000 characters says its length, not itself."""
    for topic in ('"', "*", "NEAR(", "\x00\x01"):
        message = await app.chat.briefs.brief(CONSOLE_SCOPE, topic)
        assert not message.found and message.hints == (Hint.BRIEF_USAGE,)
    message = await app.chat.briefs.brief(CONSOLE_SCOPE, "harbour " * 1_250 + "strike!")
    assert not message.found
    assert "10,007 characters" in str(message) and "harbour harbour" not in str(message)

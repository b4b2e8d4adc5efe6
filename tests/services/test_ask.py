from __future__ import annotations

import pytest

from bot.app import App
from bot.domain import CONSOLE_SCOPE, Message
from bot.llm.extractive import EXTRACTIVE_LABEL
from bot.services.ask import ThreadReply
from bot.services.render import NO_ANSWER
from tests.helpers import open_thread

# (question, guid of the one article that answers it, words of the answering sentence)
FACTS = [
    (
        "Roughly how many North Korean soldiers are serving with Russian forces?",
        "civicsignal-0001",
        "Roughly 11,000 North Korean soldiers are now serving alongside Russian units",
    ),
    (
        "How did the board vote on the rate reduction?",
        "meridiandaily-0005",
        "voted 6-3 in favour of the reduction",
    ),
    (
        "When is the Tessera-2 lander expected to touch down on the Moon?",
        "civicsignal-0008",
        "is expected to touch down on the Moon in 11 days",
    ),
    (
        "How many tonnes of grain did Ukraine ship through the Black Sea corridor?",
        "harbourledger-0002",
        "Ukraine shipped 4.2 million tonnes of grain",
    ),
    (
        "How many confirmed measles cases are there?",
        "civicsignal-0007",
        "grown to 412 confirmed cases",
    ),
]


async def _cited_guids(app: App, message: Message) -> list[str | None]:
    articles = {a.id: a for a in await app.store.get_articles(message.article_ids)}
    return [articles[c.article_id].guid for c in message.citations]


@pytest.mark.parametrize(("question", "guid", "sentence"), FACTS)
async def test_answer_quotes_the_sentence_with_its_citation(
    app: App, question: str, guid: str, sentence: str
) -> None:
    """A question answered by one article gets that sentence, cited to that article."""
    message = await app.chat.asks.ask(CONSOLE_SCOPE, question)
    assert message.found
    first = message.sections[0].bullets[0]
    assert sentence in first.text
    cited = message.citation(first.citations[0])
    assert cited is not None
    assert (await app.store.get_articles([cited.article_id]))[0].guid == guid
    assert EXTRACTIVE_LABEL in message.notes


@pytest.mark.parametrize(
    "question",
    [
        "What is the recipe for banana bread?",
        "Who won the chess olympiad in Reykjavik?",
        "what happens next?",
        "?!",
    ],
)
async def test_unrelated_question_gets_an_honest_dont_know(app: App, question: str) -> None:
    """With no relevant sentence, the bot says the sources don't answer, citing nothing."""
    message = await app.chat.asks.ask(CONSOLE_SCOPE, question)
    assert not message.found
    assert not message.citations
    assert message.sections[0].bullets[0].text == NO_ANSWER


async def test_thread_question_is_answered_from_the_articles_behind_the_post(app: App) -> None:
    """'What happens next?' under a Ukraine brief quotes the forward-looking sentence."""
    brief = await app.chat.briefs.brief(CONSOLE_SCOPE, "ukraine")
    await open_thread(app.store, CONSOLE_SCOPE, "console", "t1", brief)
    message = await app.chat.asks.ask(
        CONSOLE_SCOPE, "what happens next?", channel="console", thread_key="t1"
    )
    assert message.found
    assert "envoy is expected to travel to Kyiv" in message.sections[0].bullets[0].text
    assert (await _cited_guids(app, message))[0] == "northwindwire-0001"


async def test_thread_question_outside_its_articles_looks_wider(app: App) -> None:
    """A question the thread's articles can't answer is answered from the wider store."""
    brief = await app.chat.briefs.brief(CONSOLE_SCOPE, "moon lander")
    await open_thread(app.store, CONSOLE_SCOPE, "console", "t2", brief)
    message = await app.chat.asks.ask(
        CONSOLE_SCOPE,
        "How many confirmed measles cases are there?",
        channel="console",
        thread_key="t2",
    )
    assert message.found
    assert "412 confirmed cases" in message.sections[0].bullets[0].text


async def test_thread_turns_are_remembered(app: App) -> None:
    """Each question and answer in a thread is stored as a turn of that thread."""
    brief = await app.chat.briefs.brief(CONSOLE_SCOPE, "ukraine")
    thread = await open_thread(app.store, CONSOLE_SCOPE, "console", "t3", brief)
    await app.chat.asks.ask(CONSOLE_SCOPE, "what happens next?", channel="console", thread_key="t3")
    await app.chat.asks.ask(CONSOLE_SCOPE, "banana bread?", channel="console", thread_key="t3")
    turns = await app.store.recent_turns(thread, 10)
    assert [t.question for t in turns] == ["what happens next?", "banana bread?"]
    assert "envoy" in turns[0].answer
    assert turns[1].answer == NO_ANSWER


async def test_empty_question_is_answered_with_a_prompt(app: App) -> None:
    """A blank question asks for a question instead of failing."""
    message = await app.chat.asks.ask(CONSOLE_SCOPE, "   \u200b ")
    assert not message.found


async def test_a_reply_in_our_thread_is_answered_once(app: App) -> None:
    """A reply under our post is answered from its articles; the same message again is not."""
    brief = await app.chat.briefs.brief(CONSOLE_SCOPE, "ukraine")
    await open_thread(app.store, CONSOLE_SCOPE, "C1", "t1", brief)

    async def reply(key: str, question: str | None = "what happens next?") -> ThreadReply | None:
        return await app.chat.asks.reply_in_thread(
            CONSOLE_SCOPE, "C1", thread_key="t1", message_key=key, question=question
        )

    first = await reply("m1")
    assert first is not None and first.answer is not None
    assert "envoy is expected to travel" in first.answer.sections[0].bullets[0].text
    assert await reply("m1") is None


async def test_a_reply_we_cannot_read_is_told_how_to_ask_once_per_thread(app: App) -> None:
    """An unreadable reply gets how-to-ask (answer None) the first time in a thread only."""
    brief = await app.chat.briefs.brief(CONSOLE_SCOPE, "ukraine")
    await open_thread(app.store, CONSOLE_SCOPE, "C1", "t1", brief)
    scope = CONSOLE_SCOPE
    first = await app.chat.asks.reply_in_thread(
        scope, "C1", thread_key="t1", message_key="m1", question=None
    )
    assert first == ThreadReply(None)
    again = await app.chat.asks.reply_in_thread(
        scope, "C1", thread_key="t1", message_key="m2", question=None
    )
    assert again is None


async def test_replies_outside_our_threads_are_left_alone_unless_addressed(app: App) -> None:
    """A plain reply in someone else's thread gets nothing; a mention anywhere is answered."""
    other = await app.chat.asks.reply_in_thread(
        CONSOLE_SCOPE, "C1", thread_key="theirs", message_key="m1", question="what next?"
    )
    assert other is None
    mention = await app.chat.asks.reply_in_thread(
        CONSOLE_SCOPE,
        "C1",
        thread_key=None,
        message_key="m2",
        question="How did the board vote on the rate reduction?",
        ours_only=False,
    )
    assert mention is not None and mention.answer is not None and mention.answer.found

from __future__ import annotations

import pytest

from bot.app import App
from bot.domain import CONSOLE_SCOPE, Message
from bot.llm.extractive import EXTRACTIVE_LABEL
from bot.services.render import NO_ANSWER

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
    message = await app.asks.ask(CONSOLE_SCOPE, question)
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
    message = await app.asks.ask(CONSOLE_SCOPE, question)
    assert not message.found
    assert not message.citations
    assert message.sections[0].bullets[0].text == NO_ANSWER


async def test_thread_question_is_answered_from_the_articles_behind_the_post(app: App) -> None:
    """'What happens next?' under a Ukraine brief quotes the forward-looking sentence."""
    brief = await app.briefs.brief(CONSOLE_SCOPE, "ukraine")
    await app.asks.open_thread(CONSOLE_SCOPE, "console", "t1", brief)
    message = await app.asks.ask(
        CONSOLE_SCOPE, "what happens next?", channel="console", thread_key="t1"
    )
    assert message.found
    assert "envoy is expected to travel to Kyiv" in message.sections[0].bullets[0].text
    assert (await _cited_guids(app, message))[0] == "northwindwire-0001"


async def test_thread_question_outside_its_articles_looks_wider(app: App) -> None:
    """A question the thread's articles can't answer is answered from the wider store."""
    brief = await app.briefs.brief(CONSOLE_SCOPE, "moon lander")
    await app.asks.open_thread(CONSOLE_SCOPE, "console", "t2", brief)
    message = await app.asks.ask(
        CONSOLE_SCOPE,
        "How many confirmed measles cases are there?",
        channel="console",
        thread_key="t2",
    )
    assert message.found
    assert "412 confirmed cases" in message.sections[0].bullets[0].text


async def test_thread_turns_are_remembered(app: App) -> None:
    """Each question and answer in a thread is stored as a turn of that thread."""
    brief = await app.briefs.brief(CONSOLE_SCOPE, "ukraine")
    [thread] = await app.asks.open_thread(CONSOLE_SCOPE, "console", "t3", brief)
    await app.asks.ask(CONSOLE_SCOPE, "what happens next?", channel="console", thread_key="t3")
    await app.asks.ask(CONSOLE_SCOPE, "banana bread?", channel="console", thread_key="t3")
    turns = await app.store.recent_turns(thread, 10)
    assert [t.question for t in turns] == ["what happens next?", "banana bread?"]
    assert "envoy" in turns[0].answer
    assert turns[1].answer == NO_ANSWER


async def test_empty_question_is_answered_with_a_prompt(app: App) -> None:
    """A blank question asks for a question instead of failing."""
    message = await app.asks.ask(CONSOLE_SCOPE, "   \u200b ")
    assert not message.found

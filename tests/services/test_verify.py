"""Model output checked against its sources before it is posted: kept, re-cited or dropped."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from bot.domain import AnswerDraft, Article, Point, QATurn, Story, StorySummary
from bot.llm.extractive import ExtractiveSummarizer
from bot.services.ledgers import ClaimTally
from bot.services.render import NOT_IN_SOURCES, RELATED, render_answer
from bot.services.verify import UNSUPPORTED, VerifyingSummarizer, VerifyMode, verified
from tests.fakes.claims import InMemoryClaimLedger

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _article(article_id: int, title: str, text: str) -> Article:
    return Article(
        id=article_id,
        url=f"https://example.test/{article_id}",
        canonical_url=f"https://example.test/{article_id}",
        title=title,
        source=f"Outlet {article_id}",
        published_at=NOW,
        fetched_at=NOW,
        text=text,
        is_full_text=True,
        content_hash=str(article_id),
    )


TROOPS = _article(
    1,
    "North Korean troops in Russia",
    "Roughly 11,000 North Korean soldiers are now serving alongside Russian units, according "
    "to Western estimates. Volodymyr Zelensky said Ukraine would not give up territory. "
    "Officials in Kyiv said talks could resume next month.",
)
GRAIN = _article(
    2,
    "Grain exports reach monthly high",
    "Ukraine shipped 4.2 million tonnes of grain through the Black Sea corridor in October, "
    "the agriculture ministry said. Exporters said insurance costs had fallen.",
)
STORY = Story((TROOPS, GRAIN))


class Scripted:
    """A model's summarizer that writes what the test says, valid ids and all."""

    label = None
    name = "scripted"

    def __init__(
        self,
        summary: StorySummary | None = None,
        overview: tuple[Point, ...] = (),
        answer: AnswerDraft | None = None,
    ) -> None:
        self._summary = summary
        self._overview = overview
        self._answer = answer

    async def summarize(self, story: Story) -> StorySummary:
        assert self._summary is not None
        return self._summary

    async def overview(
        self, topic: str, items: Sequence[tuple[Story, StorySummary]]
    ) -> tuple[Point, ...]:
        return self._overview

    async def answer(
        self, question: str, articles: Sequence[Article], turns: Sequence[QATurn]
    ) -> AnswerDraft:
        assert self._answer is not None
        return self._answer

    async def aclose(self) -> None:
        return None


def _checked(inner: Scripted, mode: VerifyMode = VerifyMode.STRICT) -> VerifyingSummarizer:
    ledger = InMemoryClaimLedger()
    return VerifyingSummarizer(inner, ExtractiveSummarizer(), ledger, mode=mode, clock=lambda: NOW)


def _tally(summarizer: VerifyingSummarizer) -> ClaimTally:
    ledger = summarizer._ledger
    assert isinstance(ledger, InMemoryClaimLedger)
    assert len(ledger.tallies) == 1
    return ledger.tallies[0][0]


def _summary(*points: Point, headline: str = "Troops and grain", why: str | None = None):
    return StorySummary(headline=headline, points=points, why_it_matters=why, extractive=False)


async def test_supported_claims_are_posted_as_written() -> None:
    """A paraphrase its cited source supports keeps its text and its citation."""
    point = Point("About 11,000 North Korean soldiers serve with Russian units.", (1,))
    summarizer = _checked(Scripted(_summary(point)))
    result = await summarizer.summarize(STORY)
    assert result.points == (point,) and not result.extractive
    assert _tally(summarizer) == ClaimTally("digest_item", 2, 0, 0, 0)


async def test_a_claim_cited_to_the_wrong_source_is_re_cited() -> None:
    """A true claim behind the wrong id is cited to the article that says it."""
    point = Point("Ukraine shipped 4.2 million tonnes of grain in October.", (1,))
    summarizer = _checked(Scripted(_summary(point)))
    result = await summarizer.summarize(STORY)
    assert result.points == (Point(point.text, (2,)),)
    assert _tally(summarizer).recited == 1


async def test_inventions_are_dropped_and_named_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A changed number and an invented name are not posted; the log says what was missing."""
    good = Point("Zelensky said Ukraine would not give up territory.", (1,))
    changed = Point("Roughly 77,003 North Korean soldiers serve with Russian units.", (1,))
    invented = Point("Sergei Lavrov said talks could resume next month.", (1,))
    summarizer = _checked(Scripted(_summary(good, changed, invented)))
    with caplog.at_level(logging.INFO, logger="bot.services.verify"):
        result = await summarizer.summarize(STORY)
    assert result.points == (good,)
    assert _tally(summarizer) == ClaimTally("digest_item", 4, 0, 2, 0)
    assert "77,003" in caplog.text and "Lavrov" in caplog.text


async def test_an_item_with_no_supported_claim_quotes_the_sources_labelled() -> None:
    """Nothing left of the model's item: the extractive summary, with the reason."""
    invented = Point("Chinese engineers built a dam on the Mekong river this year.", (1, 2))
    summarizer = _checked(Scripted(_summary(invented)))
    result = await summarizer.summarize(STORY)
    assert result.extractive
    assert result.fallback_reason == UNSUPPORTED
    texts = " ".join(p.text for p in result.points)
    assert "Mekong" not in texts and "11,000" in texts
    assert _tally(summarizer).fallbacks == 1


async def test_an_invented_headline_and_why_it_matters_are_not_posted() -> None:
    """The headline falls back to the lead's title; an unsupported "why" goes."""
    point = Point("About 11,000 North Korean soldiers serve with Russian units.", (1,))
    summary = _summary(
        point, headline="Putin sends 50,000 troops", why="Beijing will now enter the war."
    )
    result = await _checked(Scripted(summary)).summarize(STORY)
    assert result.headline == TROOPS.title
    assert result.why_it_matters is None


async def test_overview_sentences_are_checked_against_the_whole_story() -> None:
    """An overview sentence cites a story by its lead; one its story does not say goes."""
    true = Point("Ukraine shipped 4.2 million tonnes of grain through the Black Sea.", (1,))
    false = Point("Ukraine shipped 9.9 million tonnes of grain.", (1,))
    summarizer = _checked(Scripted(overview=(true, false)))
    item = (STORY, _summary(Point("x y z", (1,))))
    assert await summarizer.overview("ukraine", [item]) == (true,)
    assert _tally(summarizer) == ClaimTally("brief_overview", 2, 0, 1, 0)


async def test_an_unsupported_answer_says_so_and_quotes_what_the_sources_say() -> None:
    """No claim of the answer holds: "the sources don't answer", then their closest lines."""
    lie = AnswerDraft((Point("Roughly 90,000 soldiers are serving in Russia.", (1,)),), True, False)
    summarizer = _checked(Scripted(answer=lie))
    question = "How many North Korean soldiers serve with Russian units?"
    draft = await summarizer.answer(question, [TROOPS, GRAIN], [])
    assert not draft.supported and draft.points == ()
    assert draft.related and "11,000" in draft.related[0].text
    message = render_answer(draft, [TROOPS, GRAIN], label=None)
    assert message.sections[0].bullets[0].text == NOT_IN_SOURCES
    assert message.sections[1].heading == RELATED
    posted = " ".join(b.text for s in message.sections for b in s.bullets)
    assert message.citations and "90,000" not in posted
    assert message.notes and UNSUPPORTED in message.notes[0]
    assert _tally(summarizer) == ClaimTally("thread_answer", 1, 0, 1, 1)


async def test_a_supported_answer_is_kept() -> None:
    """An answer its source supports is posted as the model wrote it."""
    answer = AnswerDraft(
        (Point("About 11,000 North Korean soldiers serve there.", (1,)),), True, False
    )
    draft = await _checked(Scripted(answer=answer)).answer("How many?", [TROOPS], [])
    assert draft == AnswerDraft(answer.points, True, extractive=False)


async def test_lenient_mode_checks_facts_not_wording() -> None:
    """Lenient passes a far paraphrase with the right figures, still drops a changed number."""
    far = Point("By Western counts the contingent numbers about 11,000.", (1,))
    changed = Point("By Western counts the contingent numbers about 12,000.", (1,))
    strict = await _checked(Scripted(_summary(far, changed))).summarize(STORY)
    lenient = await _checked(Scripted(_summary(far, changed)), VerifyMode.LENIENT).summarize(STORY)
    assert strict.extractive  # neither holds word for word
    assert lenient.points == (far,)


def test_off_and_quoting_summarizers_are_not_wrapped() -> None:
    """NEWSBRIEF_VERIFY=off, or a summarizer that only quotes, needs no checking."""
    inner = Scripted()
    ledger = InMemoryClaimLedger()
    assert verified(inner, ExtractiveSummarizer(), ledger, VerifyMode.OFF) is inner
    quoting = ExtractiveSummarizer()
    assert verified(quoting, quoting, ledger, VerifyMode.STRICT) is quoting
    assert isinstance(verified(inner, quoting, ledger, VerifyMode.STRICT), VerifyingSummarizer)


async def test_when_the_model_says_the_sources_do_not_answer_their_closest_lines_are_shown() -> (
    None
):
    """The model's own "not answered" still shows what the sources say, quoted."""
    silent = AnswerDraft((), False, extractive=False)
    summarizer = _checked(Scripted(answer=silent))
    question = "How many North Korean soldiers serve with Russian units?"
    draft = await summarizer.answer(question, [TROOPS, GRAIN], [])
    assert not draft.supported and draft.related and "11,000" in draft.related[0].text

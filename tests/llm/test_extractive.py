from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.domain import Article, Story
from bot.llm.extractive import (
    EXTRACTIVE_LABEL,
    ExtractiveSummarizer,
    answer_from_sentences,
    key_sentences,
)
from bot.text import split_sentences, terms

SEED = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "000_1b20056e22ebe01d.txt"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _article(article_id: int, title: str, text: str, source: str = "Outlet") -> Article:
    return Article(
        id=article_id,
        url=f"https://x.example/{article_id}",
        canonical_url=f"https://x.example/{article_id}",
        title=title,
        source=source,
        published_at=NOW,
        fetched_at=NOW,
        text=text,
        is_full_text=True,
        content_hash=f"h{article_id}",
    )


BRIDGE = _article(
    1,
    "Council approves harbour bridge",
    "The city council approved a new harbour bridge on Tuesday after a four-hour debate. "
    "The bridge will cost 240 million dollars and open in 2029. "
    "Opponents said the harbour bridge would block views of the old lighthouse. "
    "Supporters said the bridge would cut commuting times across the harbour by half. "
    "The mayor called the vote a turning point for the eastern districts.",
)


def test_key_sentences_are_sentences_of_the_article_in_its_order() -> None:
    """Key sentences are quoted verbatim and keep the article's own order."""
    chosen = key_sentences(BRIDGE, 3)
    sentences = split_sentences(BRIDGE.text)
    assert len(chosen) == 3
    assert all(c in sentences for c in chosen)
    assert [sentences.index(c) for c in chosen] == sorted(sentences.index(c) for c in chosen)


async def test_story_summary_cites_every_outlet_it_quotes() -> None:
    """A story told by two outlets takes a new fact from the second and cites it."""
    other = _article(
        2,
        "Harbour bridge vote passes",
        "Councillors backed the harbour crossing by 31 votes to 9. "
        "Construction crews are expected to start work on the foundations next spring.",
        source="Other Outlet",
    )
    summary = await ExtractiveSummarizer().summarize(Story((BRIDGE, other)))
    assert summary.headline == BRIDGE.title
    cited = {i for p in summary.points for i in p.article_ids}
    assert cited == {1, 2}
    assert len(summary.points) == 3


def test_answer_quotes_the_best_sentence_with_its_article() -> None:
    """The answer is the sentence that covers the question, quoted and attributed."""
    draft = answer_from_sentences("How much will the bridge cost?", [BRIDGE])
    assert draft.supported
    assert draft.points[0].text == "“The bridge will cost 240 million dollars and open in 2029.”"
    assert draft.points[0].article_ids == (1,)


def test_answer_declines_when_the_question_is_not_covered() -> None:
    """Sentences that share only a minor word with the question do not count as answers."""
    assert not answer_from_sentences(
        "Who designed the lighthouse lamp mechanism?", [BRIDGE]
    ).supported
    assert not answer_from_sentences("", [BRIDGE]).supported
    assert not answer_from_sentences("How much will it cost?", []).supported


def test_label_says_the_summary_is_extractive() -> None:
    """The offline summarizer labels what it posts."""
    assert ExtractiveSummarizer().label == EXTRACTIVE_LABEL
    assert "not written by a model" in EXTRACTIVE_LABEL


def _rouge1(reference: str, candidate: str) -> float:
    ref, cand = Counter(terms(reference)), Counter(terms(candidate))
    overlap = sum((ref & cand).values())
    recall, precision = overlap / sum(ref.values()), overlap / sum(cand.values())
    return 2 * recall * precision / (recall + precision)


def test_key_sentences_beat_the_first_sentences_on_the_seed_article() -> None:
    """Against the seed's human digest, ranked sentences overlap it more than the lead does."""
    if not SEED.exists():
        pytest.skip("the seed article is not beside this checkout")
    lines = [line.strip() for line in SEED.read_text(encoding="utf-8").splitlines() if line.strip()]
    body = "\n\n".join(line for line in lines[2:] if len(line.split()) > 8)
    article = _article(9, lines[1], body)
    ours = " ".join(key_sentences(article, 3))
    lead = " ".join(s for s in split_sentences(body) if len(s.split()) >= 6)
    lead3 = " ".join(split_sentences(lead)[:3])
    assert _rouge1(lines[0], ours) > _rouge1(lines[0], lead3)

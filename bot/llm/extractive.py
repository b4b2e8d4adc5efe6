"""The offline summarizer and answerer: sentences chosen from the sources, quoted.

Nothing is generated, so nothing can be invented: every line posted is a
sentence of a cited article. Ranking is a small TextRank (PageRank over
sentence similarity) with a title and position prior, which picks better
key sentences than the first three; `bench/bench_summary.py` measures it
against the human digest in the seed article.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain import AnswerDraft, Article, Point, QATurn, Story, StorySummary
from bot.services.similarity import cosine, smooth_idf, weighted
from bot.text import query_terms, split_sentences, stem, terms

EXTRACTIVE_LABEL = "Extractive summary: sentences quoted from the sources, not written by a model."

MIN_WORDS, MAX_WORDS = 6, 60
# Maximal-marginal-relevance trade-off: 1.0 is rank only, lower favours variety.
DIVERSITY = 0.6
# News puts what matters first: how much an early position adds to a sentence's rank.
LEAD_PRIOR = 2.0
# Share of a question's weighted terms a sentence must contain to count as an answer.
MIN_COVERAGE = 0.5

_FUTURE_QUESTION = re.compile(
    r"\b(next|future|upcoming|coming|will|expected?|plan(?:s|ned)?|going to|what happens)\b",
    re.IGNORECASE,
)
# What a sentence about what comes next sounds like: strong cues, then weak ones.
_FUTURE_STRONG = re.compile(
    r"\b(next (?:week|month|year|round|step|meeting)|expected to|scheduled|due to|set to|"
    r"plans? to|planned|upcoming|in the coming|later this|is to|are to|intends? to)\b",
    re.IGNORECASE,
)
_FUTURE_WEAK = re.compile(r"\b(will|would|next|could|may)\b", re.IGNORECASE)


@dataclass(frozen=True)
class _Sentence:
    text: str
    article_id: int
    position: int
    terms: tuple[str, ...]


def _sentences(article: Article) -> list[_Sentence]:
    result = []
    for position, text in enumerate(split_sentences(article.text)):
        count = len(text.split())
        if count < MIN_WORDS or count > MAX_WORDS:
            continue
        result.append(_Sentence(text, article.id, position, tuple(terms(text))))
    return result


def rank_sentences(article: Article) -> list[tuple[float, _Sentence]]:
    """Sentences of an article, best first, by TextRank with a title and lead prior."""
    sentences = _sentences(article)
    if not sentences:
        return []
    idf = smooth_idf([s.terms for s in sentences])
    vectors = [weighted(s.terms, idf) for s in sentences]
    n = len(sentences)
    weights = [
        [cosine(vectors[i], vectors[j]) if i != j else 0.0 for j in range(n)] for i in range(n)
    ]
    out_sums = [sum(row) for row in weights]
    scores = [1.0 / n] * n
    for _ in range(30):  # power iteration; converges well before this on article sizes
        scores = [
            0.15 / n
            + 0.85 * sum(weights[j][i] / out_sums[j] * scores[j] for j in range(n) if out_sums[j])
            for i in range(n)
        ]
    title_vector = weighted(terms(article.title), idf)
    ranked = []
    for i, sentence in enumerate(sentences):
        title_bonus = 1.0 + cosine(vectors[i], title_vector)
        lead_bonus = 1.0 + LEAD_PRIOR / (1 + sentence.position)
        # A bare quotation ("We will...") reads badly out of context.
        context = 0.5 if sentence.text[0] in "\"“‘'" else 1.0
        ranked.append((scores[i] * n * title_bonus * lead_bonus * context, sentence))
    ranked.sort(key=lambda pair: pair[0], reverse=True)
    return ranked


def key_sentences(article: Article, count: int = 3) -> list[str]:
    """The `count` best sentences, in the order the article tells them.

    Chosen by maximal marginal relevance: each pick trades rank against
    similarity to the picks so far, so the summary covers several aspects
    of the story instead of restating its first one.
    """
    ranked = rank_sentences(article)
    if not ranked:
        return []
    top = ranked[0][0] or 1.0
    idf = smooth_idf([s.terms for _, s in ranked])
    vectors = {id(s): weighted(s.terms, idf) for _, s in ranked}
    chosen: list[_Sentence] = []
    candidates = list(ranked)
    while candidates and len(chosen) < count:

        def marginal(pair: tuple[float, _Sentence]) -> float:
            score, sentence = pair
            redundancy = max(
                (cosine(vectors[id(sentence)], vectors[id(c)]) for c in chosen), default=0.0
            )
            return DIVERSITY * score / top - (1 - DIVERSITY) * redundancy

        best = max(candidates, key=marginal)
        candidates.remove(best)
        chosen.append(best[1])
    return [s.text for s in sorted(chosen, key=lambda s: s.position)]


def _overlap(a: _Sentence, b: _Sentence) -> float:
    sa, sb = set(a.terms), set(b.terms)
    return len(sa & sb) / max(1, min(len(sa), len(sb)))


class ExtractiveSummarizer:
    """The Summarizer port with no model: ranked sentences, always cited."""

    label: str | None = EXTRACTIVE_LABEL
    name = "offline extractive summarizer (quotes the sources; no API key needed)"

    def __init__(self, sentences_per_story: int = 3) -> None:
        self.sentences_per_story = sentences_per_story

    async def aclose(self) -> None:
        return None  # holds nothing open

    async def overview(
        self, topic: str, items: Sequence[tuple[Story, StorySummary]]
    ) -> tuple[Point, ...]:
        return ()  # an overview would have to be written, and this summarizer only quotes

    async def summarize(self, story: Story) -> StorySummary:
        lead = story.lead
        budget = self.sentences_per_story
        others = [a for a in story.articles[1:] if a.text.strip()]
        lead_count = budget - 1 if others else budget
        points = [Point(text, (lead.id,)) for text in key_sentences(lead, lead_count)]
        if not points and lead.text.strip():
            points = [Point(lead.text.strip().split("\n")[0], (lead.id,))]
        # From the other outlets, the best sentence that adds something new.
        taken = [set(terms(p.text)) for p in points]
        for other in others:
            if len(points) >= budget:
                break
            for _, sentence in rank_sentences(other):
                new_terms = set(sentence.terms)
                if all(len(new_terms & t) / max(1, len(new_terms)) < 0.5 for t in taken):
                    points.append(Point(sentence.text, (other.id,)))
                    taken.append(new_terms)
                    break
        return StorySummary(headline=lead.title, points=tuple(points))

    async def answer(
        self, question: str, articles: Sequence[Article], turns: Sequence[QATurn]
    ) -> AnswerDraft:
        return answer_from_sentences(question, articles)


def future_cues(text: str) -> float:
    """How strongly a sentence speaks of what happens next."""
    strong = {m.lower() for m in _FUTURE_STRONG.findall(text)}
    weak = {m.lower() for m in _FUTURE_WEAK.findall(text)}
    return len(strong) + 0.3 * len(weak)


def answer_from_sentences(
    question: str, articles: Sequence[Article], max_sentences: int = 3
) -> AnswerDraft:
    """Quote the sentences that best answer `question`, or say none does."""
    q_terms = list(dict.fromkeys(stem(w) for w in query_terms(question)))
    wants_future = bool(_FUTURE_QUESTION.search(question))
    sentences = [s for a in articles for s in _sentences(a)]
    if not sentences or (not q_terms and not wants_future):
        return AnswerDraft(points=(), supported=False)

    idf = smooth_idf([s.terms for s in sentences])
    unseen = math.log(1 + (len(sentences) + 0.5) / 0.5)
    weight = {t: idf.get(t, unseen) for t in q_terms}
    total = sum(weight.values())
    avg_len = sum(len(s.terms) for s in sentences) / len(sentences)

    scored: list[tuple[float, _Sentence]] = []
    for s in sentences:
        tf = Counter(s.terms)
        matched = [t for t in q_terms if tf[t]]
        if q_terms:
            coverage = sum(weight[t] for t in matched) / total
            if coverage < MIN_COVERAGE:
                continue
            # BM25 over sentences, scaled by how much of the question is covered.
            norm = 1.2 * (0.25 + 0.75 * len(s.terms) / avg_len)
            score = coverage * sum(weight[t] * tf[t] * 2.2 / (tf[t] + norm) for t in matched)
        else:
            score = 0.0
        if wants_future:
            future = future_cues(s.text)
            if not q_terms and future < 1.0:
                continue
            score = score * (1 + future / 2) + future
        scored.append((score, s))
    if not scored:
        return AnswerDraft(points=(), supported=False)

    scored.sort(key=lambda pair: pair[0], reverse=True)
    best = scored[0][0]
    chosen: list[_Sentence] = []
    for score, sentence in scored:
        if score < best * 0.5 or len(chosen) == max_sentences:
            break
        if any(_overlap(sentence, other) > 0.6 for other in chosen):
            continue
        chosen.append(sentence)
    # Quoted, because they are the sources' words, not ours.
    return AnswerDraft(
        points=tuple(Point(f"“{s.text}”", (s.article_id,)) for s in chosen), supported=True
    )

"""Every claim a model writes is checked against the sources it cites before it is posted.

A valid `[1]` only proves that source 1 was given. `VerifyingSummarizer` wraps
the model's summarizer and reads each claim (digest bullets, a brief's
overview sentences, a thread answer) against the text of the articles it
cites, with `bot.services.claims.check_claim`:

- supported: posted as written;
- unsupported, but another article the model was given supports it: posted,
  cited to that article instead (re-cited);
- else dropped, and the log names the claim and what was missing.

A story item left with no supported claim quotes the sources instead, labelled
like any other fallback; an answer left with none says the sources do not
answer it and quotes what they do say, when something came close. Counts go
to the claim ledger for `stats`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from bot.domain import AnswerDraft, Article, Point, QATurn, Story, StorySummary
from bot.services.claims import check_claim
from bot.services.ledgers import ClaimTally
from bot.services.ports import ClaimLedger, Summarizer
from bot.timeutil import utcnow

log = logging.getLogger(__name__)


# What a post says when the model's claims failed the check. Not what they said: an
# invented figure must not reach the channel, even in a note; the log names it.
UNSUPPORTED = "the model's claims did not match its sources"


class VerifyMode(StrEnum):
    STRICT = "strict"  # numbers, names, quotes, the wording and negation
    LENIENT = "lenient"  # numbers, names and quotes only: for models that paraphrase far
    OFF = "off"


@dataclass(frozen=True)
class Checked:
    """The claims of one output as they will be posted, and what was done to them."""

    kept: tuple[Point, ...]
    recited: int
    dropped: tuple[tuple[Point, str], ...]  # each with the reason


def source_text(title: str, text: str) -> str:
    """What a claim about an article is checked against: its title and its text."""
    return f"{title}.\n{text}"


def _texts(articles: Sequence[Article]) -> dict[int, str]:
    return {a.id: source_text(a.title, a.text) for a in articles}


class ClaimVerifier:
    """Checks cited points against the texts of the articles they cite."""

    def __init__(self, mode: VerifyMode = VerifyMode.STRICT) -> None:
        self.mode = mode

    def supports(
        self, claim: str, texts: Sequence[str], *, facts_only: bool = False
    ) -> tuple[bool, str | None]:
        facts_only = facts_only or self.mode is VerifyMode.LENIENT
        verdict = check_claim(claim, texts, facts_only=facts_only)
        return verdict.supported, verdict.reason

    def check(self, points: Sequence[Point], texts: Mapping[int, str]) -> Checked:
        """Keep, re-cite or drop each point; `texts` are the articles the model was given."""
        kept: list[Point] = []
        dropped: list[tuple[Point, str]] = []
        recited = 0
        for point in points:
            cited = [texts[i] for i in point.article_ids if i in texts]
            ok, reason = self.supports(point.text, cited)
            if ok:
                kept.append(point)
                continue
            other = next(
                (
                    article_id
                    for article_id, text in texts.items()
                    if article_id not in point.article_ids and self.supports(point.text, [text])[0]
                ),
                None,
            )
            if other is not None:
                kept.append(Point(point.text, (other,)))
                recited += 1
            else:
                dropped.append((point, reason or "unsupported"))
        return Checked(tuple(kept), recited, tuple(dropped))


class VerifyingSummarizer:
    """The Summarizer port, with every model-written claim checked before it leaves."""

    def __init__(
        self,
        inner: Summarizer,
        fallback: Summarizer,
        ledger: ClaimLedger,
        *,
        mode: VerifyMode = VerifyMode.STRICT,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.inner = inner
        self._fallback = fallback
        self._ledger = ledger
        self._verifier = ClaimVerifier(mode)
        self._clock = clock

    @property
    def label(self) -> str | None:
        return self.inner.label

    @property
    def name(self) -> str:
        return self.inner.name

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def summarize(self, story: Story) -> StorySummary:
        summary = await self.inner.summarize(story)
        if summary.extractive:
            return summary  # quoted from the sources: nothing to check
        texts = _texts(story.articles)
        checked = self._verifier.check(summary.points, texts)
        everything = list(texts.values())
        # The headline and "why it matters" cite no one source: checked against all of them,
        # the headline for its facts only (a headline is a label, not a sentence).
        headline_ok, headline_reason = self._verifier.supports(
            summary.headline, everything, facts_only=True
        )
        why = summary.why_it_matters
        why_reason = None
        if why:
            why_ok, why_reason = self._verifier.supports(why, everything)
            if not why_ok:
                why = None
        dropped = len(checked.dropped) + (not headline_ok) + (why_reason is not None)
        self._log_dropped("digest_item", checked)
        if not headline_ok:
            log.info("headline not posted: %r: %s", summary.headline, headline_reason)
        if why_reason is not None:
            log.info("why-it-matters not posted: %r: %s", summary.why_it_matters, why_reason)
        fell_back = not checked.kept
        await self._count(
            "digest_item",
            checked=len(summary.points) + 1 + bool(summary.why_it_matters),
            recited=checked.recited,
            dropped=dropped,
            fallbacks=int(fell_back),
        )
        if fell_back:
            quoted = await self._fallback.summarize(story)
            return replace(quoted, extractive=True, fallback_reason=UNSUPPORTED)
        return StorySummary(
            headline=summary.headline if headline_ok else story.lead.title,
            points=checked.kept,
            why_it_matters=why,
            extractive=False,
        )

    async def overview(
        self, topic: str, items: Sequence[tuple[Story, StorySummary]]
    ) -> tuple[Point, ...]:
        points = await self.inner.overview(topic, items)
        if not points:
            return points
        # The overview cites each story by its lead article; check against the whole story.
        texts = {story.lead.id: "\n\n".join(_texts(story.articles).values()) for story, _ in items}
        checked = self._verifier.check(points, texts)
        self._log_dropped("brief_overview", checked)
        await self._count(
            "brief_overview",
            checked=len(points),
            recited=checked.recited,
            dropped=len(checked.dropped),
        )
        return checked.kept

    async def answer(
        self, question: str, articles: Sequence[Article], turns: Sequence[QATurn]
    ) -> AnswerDraft:
        draft = await self.inner.answer(question, articles, turns)
        if draft.extractive:
            return draft
        if not draft.supported:
            # The model says the sources do not answer: show what they do say, if anything.
            return AnswerDraft(
                (), False, extractive=False, related=await self._related(question, articles, turns)
            )
        checked = self._verifier.check(draft.points, _texts(articles))
        self._log_dropped("thread_answer", checked)
        fell_back = not checked.kept
        await self._count(
            "thread_answer",
            checked=len(draft.points),
            recited=checked.recited,
            dropped=len(checked.dropped),
            fallbacks=int(fell_back),
        )
        if not fell_back:
            return AnswerDraft(checked.kept, True, extractive=False)
        # The sources do not say what the model answered; show what they do say, if any.
        return AnswerDraft(
            points=(),
            supported=False,
            extractive=False,
            fallback_reason=UNSUPPORTED,
            related=await self._related(question, articles, turns),
        )

    async def _related(
        self, question: str, articles: Sequence[Article], turns: Sequence[QATurn]
    ) -> tuple[Point, ...]:
        """The sources' sentences that came closest to answering, quoted; () if none did."""
        quoted = await self._fallback.answer(question, articles, turns)
        return quoted.points if quoted.supported else ()

    def _log_dropped(self, kind: str, checked: Checked) -> None:
        for point, reason in checked.dropped:
            log.info(
                "claim not posted (%s, cites articles %s): %r: %s",
                kind,
                ",".join(map(str, point.article_ids)),
                point.text,
                reason,
            )

    async def _count(
        self, kind: str, *, checked: int, recited: int, dropped: int, fallbacks: int = 0
    ) -> None:
        await self._ledger.record_claims(
            ClaimTally(kind, checked, recited, dropped, fallbacks), self._clock()
        )


def verified(
    summarizer: Summarizer,
    fallback: Summarizer,
    ledger: ClaimLedger,
    mode: VerifyMode,
) -> Summarizer:
    """The summarizer with its claims checked, unless checking is off or it only quotes."""
    if mode is VerifyMode.OFF or summarizer.label is not None:
        return summarizer
    return VerifyingSummarizer(summarizer, fallback, ledger, mode=mode)

"""Stories and answers -> the neutral Message: numbering citations happens here, once.

Adapters only turn a Message into their own markup; none of them numbers,
orders or links sources on its own.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime

from bot.domain import (
    AnswerDraft,
    Article,
    Bullet,
    Citation,
    Feed,
    Hint,
    Message,
    Point,
    Section,
    Story,
    StorySummary,
    StoryVersion,
    ThreadKind,
)

NO_ANSWER = "The sources I have don't answer that. Try rephrasing."
NOT_IN_SOURCES = "The sources I have don't answer that."
RELATED = "What the sources do say"


class _Numbering:
    """Citation numbers in order of first mention, one per article."""

    def __init__(self, articles: Sequence[Article]) -> None:
        self._articles = {a.id: a for a in articles}
        self._numbers: dict[int, int] = {}

    def numbers(self, article_ids: Sequence[int]) -> tuple[int, ...]:
        result = []
        for article_id in article_ids:
            if article_id not in self._articles:
                continue  # never cite what we were not given
            if article_id not in self._numbers:
                self._numbers[article_id] = len(self._numbers) + 1
            result.append(self._numbers[article_id])
        return tuple(dict.fromkeys(result))

    def citations(self) -> tuple[Citation, ...]:
        return tuple(
            Citation(
                number=n,
                title=self._articles[a].title,
                url=self._articles[a].url,
                source=self._articles[a].source,
                article_id=a,
                also_in=tuple(r.source for r in self._articles[a].reprints),
            )
            for a, n in sorted(self._numbers.items(), key=lambda item: item[1])
        )


def _bullets(points: Sequence[Point], numbering: _Numbering) -> tuple[Bullet, ...]:
    bullets = []
    for point in points:
        numbers = numbering.numbers(point.article_ids)
        if numbers and point.text.strip():  # an uncited claim is not posted
            bullets.append(Bullet(text=point.text.strip(), citations=numbers))
    return tuple(bullets)


def source_notes(label: str | None, drafts: Sequence[StorySummary | AnswerDraft]) -> list[str]:
    """What a post must say about how it was written.

    The offline summarizer labels everything; with a model, only the items that
    fell back to quoting the sources are marked, with the reason.
    """
    if label:
        return [label]
    reasons = list(dict.fromkeys(d.fallback_reason for d in drafts if d.fallback_reason))
    if not reasons:
        return []
    return [f"Items marked “extractive” quote the sources instead: {'; '.join(reasons)}."]


def render_stories(
    kind: ThreadKind,
    title: str,
    items: Sequence[tuple[Story, StorySummary]],
    *,
    label: str | None,
    overview: Sequence[Point] = (),
    notes: Sequence[str] = (),
    updated: Collection[int] = (),
) -> Message:
    """Stories with their summaries as one message; stories in `updated` (ids) were shown
    to the channel before and are marked so."""
    numbering = _Numbering([a for story, _ in items for a in story.articles])
    sections = []
    overview_bullets = _bullets(overview, numbering)
    for story, summary in items:
        bullets = _bullets(summary.points, numbering)
        if not bullets:
            continue
        story_numbers = numbering.numbers([a.id for a in story.articles])
        if summary.why_it_matters:
            bullets += (Bullet(f"Why it matters: {summary.why_it_matters}", story_numbers[:1]),)
        sections.append(
            Section(
                heading=summary.headline,
                url=story.lead.url,
                bullets=bullets,
                citations=story_numbers,
                note=_note(story.id in updated, summary.extractive and not label),
            )
        )
    if overview_bullets and sections:
        sections.insert(0, Section(heading=None, bullets=overview_bullets))
    citations = numbering.citations()
    return Message(
        kind=kind,
        title=title,
        sections=tuple(sections),
        citations=citations,
        notes=(*notes, *source_notes(label, [s for _, s in items])),
        article_ids=tuple(c.article_id for c in citations),
        found=bool(sections),
        stories=tuple(
            StoryVersion(story.id, story.version)
            for story, summary in items
            if story.id is not None and summary.points
        ),
    )


def render_answer(draft: AnswerDraft, articles: Sequence[Article], *, label: str | None) -> Message:
    numbering = _Numbering(articles)
    bullets = _bullets(draft.points, numbering) if draft.supported else ()
    if not bullets:
        related = _bullets(draft.related, numbering)
        if not related:
            return no_answer()
        citations = numbering.citations()
        return Message(
            kind=ThreadKind.ANSWER,
            title="No answer in the sources",
            sections=(
                Section(heading=None, bullets=(Bullet(NOT_IN_SOURCES),)),
                Section(heading=RELATED, bullets=related),
            ),
            citations=citations,
            notes=(f"Quoted from the sources, because {draft.fallback_reason}.",)
            if draft.fallback_reason
            else (),
            article_ids=tuple(c.article_id for c in citations),
            # Not an answer: the asker may look wider, and a platform may reply privately.
            found=False,
            hints=(Hint.TRY_BRIEF,),
        )
    citations = numbering.citations()
    return Message(
        kind=ThreadKind.ANSWER,
        title="From the sources",
        sections=(Section(heading=None, bullets=bullets),),
        citations=citations,
        notes=tuple(source_notes(label, [draft])),
        article_ids=tuple(c.article_id for c in citations),
    )


def _note(updated: bool, extractive: bool) -> str | None:
    return (
        ", ".join(n for n, on in (("updated", updated), ("extractive", extractive)) if on) or None
    )


def not_found(title: str, text: str, *, kind: ThreadKind, hints: Sequence[Hint] = ()) -> Message:
    """A reply that says plainly nothing was found; adapters may show it privately."""
    return Message(
        kind=kind,
        title=title,
        sections=(Section(heading=None, bullets=(Bullet(text),)),),
        citations=(),
        found=False,
        hints=tuple(hints),
    )


def no_answer() -> Message:
    return not_found(
        "No answer in the sources", NO_ANSWER, kind=ThreadKind.ANSWER, hints=(Hint.TRY_BRIEF,)
    )


def render_feeds(feeds: Sequence[Feed], now: datetime) -> Message:
    sections = []
    hints: tuple[Hint, ...] = ()
    for feed in feeds:
        if feed.paused:
            hints = (Hint.FIX_FEED,)
        # The URL right under the title, before the statuses: each feed reads as one block,
        # and the URL is what `remove` takes.
        lines = [feed.url] if feed.title else []
        lines.append(f"Status: {feed_health(feed, now)}")
        if feed.last_error:
            lines.append(f"Last error: {feed.last_error}")
        if feed.is_default:
            lines.append("Set by the operator (NEWSBRIEF_FEEDS)")
        sections.append(
            Section(
                heading=feed.title or feed.url,
                url=feed.url if feed.url.startswith(("http://", "https://")) else None,
                bullets=tuple(Bullet(line) for line in lines),
            )
        )
    if not sections:
        return not_found("No feeds", "No feeds are configured yet.", kind=ThreadKind.FEEDS)
    return Message(
        kind=ThreadKind.FEEDS,
        title=f"Feeds ({len(sections)})",
        sections=tuple(sections),
        citations=(),
        hints=hints,
    )


def worded(hints: Iterable[Hint], table: Mapping[Hint, str]) -> list[str]:
    """Hints in one platform's words (`table`): each once, in order; any it lacks is left out."""
    return [table[h] for h in dict.fromkeys(hints) if h in table]


def hinted(text: str, hint: Hint | None, table: Mapping[Hint, str]) -> str:
    """`text`, then the hint it points to in the platform's words, if it has one."""
    return " ".join([text, *worded(() if hint is None else (hint,), table)])


def plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def span(seconds: float) -> str:
    """A duration as people say it: "5 min", "3 h", "2 days"."""
    seconds = max(0, int(seconds))
    if seconds < 90:
        return "1 min"
    if seconds < 90 * 60:
        return f"{seconds // 60} min"
    if seconds < 36 * 3600:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def ago(moment: datetime, now: datetime) -> str:
    return f"{span((now - moment).total_seconds())} ago"


def feed_health(feed: Feed, now: datetime) -> str:
    """A feed's state in a few words: paused, failing (since when, next try), ok."""
    if feed.paused:
        since = f" since {ago(feed.failing_since, now)}" if feed.failing_since else ""
        return f"paused ({feed.paused}): not fetched, after failing{since}; resume it to try again"
    if feed.last_attempt_at is None:
        return "not fetched yet"
    if feed.consecutive_failures:
        last_ok = (
            f"last success {ago(feed.last_success_at, now)}"
            if feed.last_success_at
            else "never fetched successfully"
        )
        retry = ""
        if feed.next_poll_at and feed.next_poll_at > now:
            retry = f", next try in {span((feed.next_poll_at - now).total_seconds())}"
        return f"failing ({feed.consecutive_failures} in a row; {last_ok}{retry})"
    if feed.last_success_at is None:
        return "not fetched yet"
    return f"ok (last fetched {ago(feed.last_success_at, now)})"

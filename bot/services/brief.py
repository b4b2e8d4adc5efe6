"""`/brief <topic>`: the top recent stories on a topic, summarized and cited."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from bot.domain import Article, Hint, Message, Scope, ThreadKind
from bot.services.ports import ArticleSearch, StoryStore, Summarizer
from bot.services.render import not_found, plural, render_stories
from bot.services.retrieval import find_articles
from bot.services.stories import stored_stories
from bot.services.typed import topic_problem, typed_topic
from bot.timeutil import utcnow

log = logging.getLogger(__name__)

CANDIDATES = 40


async def _nothing_to_write() -> Message:
    raise RuntimeError("a brief that found nothing has nothing to write")


@dataclass(frozen=True)
class PendingBrief:
    """A brief whose articles are found: `nothing` is the reply when there are none,
    else `write()` groups and summarizes them (the slow part, the model's)."""

    nothing: Message | None
    write: Callable[[], Awaitable[Message]] = _nothing_to_write


class BriefStore(ArticleSearch, StoryStore, Protocol):
    """What a brief needs: articles on the topic, and their stories' versions."""


class BriefService:
    def __init__(
        self,
        store: BriefStore,
        summarizer: Summarizer,
        *,
        window: timedelta,
        max_stories: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._summarizer = summarizer
        self._window = window
        self._max_stories = max_stories
        self._clock = clock

    async def start(self, scope: Scope, topic: str) -> PendingBrief:
        """Find what the brief will cover (quick): a platform that must answer within
        seconds can show a miss privately at once, and call `write` for the rest."""
        topic = typed_topic(topic)
        problem = topic_problem(topic)
        if problem is not None:
            return PendingBrief(_which_topic(problem))
        now = self._clock()
        found = await find_articles(
            self._store,
            scope,
            topic,
            now=now,
            since=now - self._window,
            limit=CANDIDATES,
            any_word=False,
        )
        if not found:
            return PendingBrief(self._nothing_on(topic))
        return PendingBrief(None, partial(self._write, topic, found))

    async def brief(self, scope: Scope, topic: str) -> Message:
        pending = await self.start(scope, topic)
        return pending.nothing or await pending.write()

    async def _write(self, topic: str, found: list[Article]) -> Message:
        stories = (await stored_stories(self._store, found))[: self._max_stories]
        summaries = await asyncio.gather(*(self._summarizer.summarize(s) for s in stories))
        sources = len({a.source for s in stories for a in s.articles})
        title = (
            f"Brief: {topic} — {plural(len(stories), 'story', 'stories')} "
            f"from {plural(sources, 'outlet', 'outlets')}"
        )
        items = list(zip(stories, summaries, strict=True))
        overview = await self._summarizer.overview(topic, items)
        return render_stories(
            ThreadKind.BRIEF, title, items, label=self._summarizer.label, overview=overview
        )

    def _nothing_on(self, topic: str) -> Message:
        return not_found(
            f"Nothing on “{topic}”",
            f"No article from the last {self._window.days} days mentions all of “{topic}”. "
            "Try fewer or broader words.",
            kind=ThreadKind.BRIEF,
            hints=(Hint.LIST_FEEDS,),
        )


def _which_topic(problem: str) -> Message:
    return not_found(
        "Which topic?",
        problem,
        kind=ThreadKind.BRIEF,
        hints=(Hint.BRIEF_USAGE,),
    )

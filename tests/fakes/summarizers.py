"""Summarizers for tests, handed to `bootstrap(settings, summarizer=...)`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bot.domain import AnswerDraft, Article, Point, QATurn, Story, StorySummary
from bot.llm.extractive import ExtractiveSummarizer


class SlowSummarizer(ExtractiveSummarizer):
    """The offline summarizer, `seconds` slower per story: longer than a platform waits."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    async def summarize(self, story: Story) -> StorySummary:
        await asyncio.sleep(self.seconds)
        return await super().summarize(story)

    async def overview(
        self, topic: str, items: Sequence[tuple[Story, StorySummary]]
    ) -> tuple[Point, ...]:
        return await super().overview(topic, items)

    async def answer(
        self, question: str, articles: Sequence[Article], turns: Sequence[QATurn]
    ) -> AnswerDraft:
        return await super().answer(question, articles, turns)

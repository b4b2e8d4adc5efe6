"""Questions in a thread: answered from the articles behind the post, cited."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.domain import Article, Hint, Message, QATurn, Scope, ThreadContext, ThreadKind
from bot.services.ports import ArticleSearch, DeliveryStore, StoryStore, Summarizer, ThreadStore
from bot.services.render import no_answer, not_found, render_answer
from bot.services.retrieval import find_articles
from bot.text import clean_text, query_terms, stem, terms
from bot.timeutil import utcnow

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 500
WIDER_CANDIDATES = 12
REMEMBERED_TURNS = 6


@dataclass(frozen=True)
class ThreadReply:
    """What to say to a message in a thread: the answer, or (None) how to ask."""

    answer: Message | None


class AskStore(ThreadStore, ArticleSearch, StoryStore, DeliveryStore, Protocol):
    """What answering needs: the thread and its questions so far, the articles behind
    it and their stories, and a claim on each message answered."""


class AskService:
    def __init__(
        self,
        store: AskStore,
        summarizer: Summarizer,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._summarizer = summarizer
        self._clock = clock

    async def reply_in_thread(
        self,
        scope: Scope,
        channel: str,
        *,
        thread_key: str | None,
        message_key: str,
        question: str | None,
        ours_only: bool = True,
    ) -> ThreadReply | None:
        """A chat message that may be a question for us: what to say, or None to stay quiet.

        Quiet in a thread not under one of our posts (when `ours_only`: a plain reply
        rather than a mention), and for a message already answered (platforms
        redeliver, and one reply may arrive as two events, a message and a mention).
        A `question` of None is one the platform would not let us read: the thread is
        told how to ask, once.
        """
        thread = await self._store.get_thread(scope, channel, thread_key) if thread_key else None
        if thread is None and ours_only:
            return None
        claim = f"hint:{thread_key}" if question is None else message_key
        if not await self._claim(scope, channel, claim):
            return None
        if question is None:
            return ThreadReply(None)
        key = thread_key if thread is not None else None
        return ThreadReply(await self.ask(scope, question, channel=channel, thread_key=key))

    async def _claim(self, scope: Scope, channel: str, message_key: str) -> bool:
        return await self._store.claim_delivery(
            f"reply:{scope.platform}:{scope.workspace}:{channel}:{message_key}", scope, channel
        )

    async def ask(
        self,
        scope: Scope,
        question: str,
        *,
        channel: str | None = None,
        thread_key: str | None = None,
    ) -> Message:
        question = clean_text(question)[:MAX_QUESTION_CHARS]
        if not question:
            return not_found(
                "Ask a question",
                "Ask a question about the stories.",
                kind=ThreadKind.ANSWER,
                hints=(Hint.ASK_USAGE,),
            )
        thread = None
        if channel is not None and thread_key is not None:
            thread = await self._store.get_thread(scope, channel, thread_key)
        turns = await self._store.recent_turns(thread, REMEMBERED_TURNS) if thread else []

        message = None
        if thread is not None:
            articles = await self._thread_articles(scope, thread)
            if mentions_any(question, articles):
                message = await self._answer(question, articles, turns)
        if message is None or not message.found:
            # Not in the thread's own articles: look wider, in everything this scope reads.
            found = await find_articles(
                self._store,
                scope,
                question,
                now=self._clock(),
                since=None,
                limit=WIDER_CANDIDATES,
                any_word=True,
            )
            wider = await self._answer(question, found, turns)
            if wider.found or message is None:
                message = wider
        if thread is not None:
            answer_text = " ".join(message.bullet_texts)
            await self._store.add_turn(thread, question, answer_text, message.article_ids)
        return message

    async def _thread_articles(self, scope: Scope, thread: ThreadContext) -> list[Article]:
        """The articles behind a post, and those that joined their stories since."""
        shown = await self._store.get_articles(thread.article_ids)
        story_ids = [a.story_id for a in shown if a.story_id is not None]
        later = [a for s in await self._store.stories(scope, story_ids) for a in s.articles]
        return list({a.id: a for a in [*shown, *later]}.values())

    async def _answer(
        self, question: str, articles: Sequence[Article], turns: Sequence[QATurn]
    ) -> Message:
        if not articles:
            return no_answer()
        draft = await self._summarizer.answer(question, articles, turns)
        return render_answer(draft, articles, label=self._summarizer.label)


def mentions_any(question: str, articles: Sequence[Article]) -> bool:
    """Whether the thread's articles speak of the question at all.

    A question with no words of substance ("what happens next?") is a follow-up
    about the thread and always counts; otherwise some word must appear, so an
    unrelated question is turned away without asking the model.
    """
    wanted = {stem(w) for w in query_terms(question)}
    if not wanted:
        return True
    return any(wanted & set(terms(f"{a.title} {a.text}")) for a in articles)

"""Threads are recorded in one place, after any post, and only for posts that open one."""

from __future__ import annotations

from bot.domain import CONSOLE_SCOPE, Bullet, Message, Section, ThreadKind
from bot.services.threads import record_thread
from tests.fakes.store import InMemoryStore


def _message(kind: ThreadKind, *, found: bool = True) -> Message:
    return Message(
        kind=kind,
        title="t",
        sections=(Section(heading="h", bullets=(Bullet("b", (1,)),)),),
        citations=(),
        article_ids=(7, 8),
        found=found,
    )


async def test_a_digest_is_recorded_under_every_key_it_was_posted_with(
    store: InMemoryStore,
) -> None:
    """Each part's key leads to the same articles; a repeated key is recorded once."""
    saved = await record_thread(
        store, CONSOLE_SCOPE, "c", ["p1", "p2", "p1"], _message(ThreadKind.DIGEST)
    )
    assert [t.thread_key for t in saved] == ["p1", "p2"]
    thread = await store.get_thread(CONSOLE_SCOPE, "c", "p2")
    assert thread is not None and thread.article_ids == (7, 8)


async def test_answers_and_not_found_replies_open_no_thread(store: InMemoryStore) -> None:
    """An answer, or a brief that found nothing, records no thread."""
    assert await record_thread(store, CONSOLE_SCOPE, "c", ["a"], _message(ThreadKind.ANSWER)) == []
    empty = _message(ThreadKind.BRIEF, found=False)
    assert await record_thread(store, CONSOLE_SCOPE, "c", ["b"], empty) == []
    assert await store.get_thread(CONSOLE_SCOPE, "c", "a") is None

"""The ThreadStore contract: the articles behind each post, and the questions asked under it."""

from __future__ import annotations

from bot.domain import Scope, ThreadKind
from bot.services.ports import ThreadStore
from bot.timeutil import utcnow

A = Scope("slack", "TA")
B = Scope("discord", "GB")


async def test_a_saved_thread_is_found_by_scope_channel_and_key(threads: ThreadStore) -> None:
    """A thread comes back as saved, and only under its own workspace, channel and key."""
    before = utcnow()
    thread = await threads.save_thread(A, "C1", "ts-1", ThreadKind.BRIEF, [3, 1, 2])
    assert (thread.scope, thread.channel, thread.thread_key) == (A, "C1", "ts-1")
    assert (thread.kind, thread.article_ids) == (ThreadKind.BRIEF, (3, 1, 2))
    assert before <= thread.created_at <= utcnow()
    assert await threads.get_thread(A, "C1", "ts-1") == thread
    assert await threads.get_thread(B, "C1", "ts-1") is None
    assert await threads.get_thread(A, "C2", "ts-1") is None
    assert await threads.get_thread(A, "C1", "ts-2") is None


async def test_saving_a_thread_again_replaces_its_kind_and_articles(threads: ThreadStore) -> None:
    """Same key: same thread (id, creation time), with the new kind and articles."""
    first = await threads.save_thread(A, "C1", "ts-1", ThreadKind.DIGEST, [1, 2])
    again = await threads.save_thread(A, "C1", "ts-1", ThreadKind.ANSWER, [5])
    assert (again.id, again.created_at) == (first.id, first.created_at)
    assert (again.kind, again.article_ids) == (ThreadKind.ANSWER, (5,))
    assert await threads.get_thread(A, "C1", "ts-1") == again


async def test_threads_in_other_places_are_distinct(threads: ThreadStore) -> None:
    """The same key in another channel or workspace is another thread."""
    one = await threads.save_thread(A, "C1", "ts-1", ThreadKind.DIGEST, [1])
    two = await threads.save_thread(A, "C2", "ts-1", ThreadKind.DIGEST, [2])
    three = await threads.save_thread(B, "C1", "ts-1", ThreadKind.DIGEST, [3])
    assert len({one.id, two.id, three.id}) == 3
    assert (await threads.get_thread(A, "C1", "ts-1")) == one


async def test_recent_turns_are_the_last_ones_oldest_first(threads: ThreadStore) -> None:
    """The newest `limit` turns come back in the order they were asked."""
    thread = await threads.save_thread(A, "C1", "ts-1", ThreadKind.BRIEF, [1])
    before = utcnow()
    for n in range(1, 5):
        await threads.add_turn(thread, f"q{n}", f"a{n}", [1])
    last_two = await threads.recent_turns(thread, 2)
    assert [(t.question, t.answer) for t in last_two] == [("q3", "a3"), ("q4", "a4")]
    assert [t.question for t in await threads.recent_turns(thread, 10)] == ["q1", "q2", "q3", "q4"]
    assert await threads.recent_turns(thread, 0) == []
    assert all(before <= t.asked_at <= utcnow() for t in last_two)


async def test_turns_belong_to_their_thread_and_survive_a_resave(threads: ThreadStore) -> None:
    """Turns are kept per thread; saving the thread again keeps its conversation."""
    one = await threads.save_thread(A, "C1", "ts-1", ThreadKind.BRIEF, [1])
    two = await threads.save_thread(A, "C1", "ts-2", ThreadKind.BRIEF, [2])
    await threads.add_turn(one, "about one", "yes", [1])
    assert await threads.recent_turns(two, 5) == []
    resaved = await threads.save_thread(A, "C1", "ts-1", ThreadKind.ANSWER, [1, 2])
    assert [t.question for t in await threads.recent_turns(resaved, 5)] == ["about one"]

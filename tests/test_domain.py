"""The neutral message model: what every renderer reads the same way."""

from __future__ import annotations

import pytest

from bot.domain import Bullet, Citation, Hint, Message, Section, ThreadKind
from bot.services.render import hinted, worded

CITATIONS = tuple(Citation(n, f"T{n}", f"https://s.example/{n}", f"S{n}", n) for n in (1, 2, 3))
SECTION = Section(
    heading="Story",
    bullets=(Bullet("a", (3, 1)), Bullet("b", (1, 9)), Bullet("c")),
    citations=(2, 3),
)
MESSAGE = Message(ThreadKind.DIGEST, "Digest", (SECTION, Section(None, (Bullet("d"),))), CITATIONS)


def test_a_section_cites_its_own_numbers_then_its_bullets_each_once() -> None:
    assert SECTION.cited_numbers == (2, 3, 1, 9)


def test_citations_are_looked_up_in_order_and_a_missing_number_is_left_out() -> None:
    assert [c.number for c in MESSAGE.cited((3, 9, 1))] == [3, 1]
    assert [c.number for c in MESSAGE.cited_in(SECTION)] == [2, 3, 1]
    assert MESSAGE.citation(2) == CITATIONS[1] and MESSAGE.citation(9) is None


def test_bullet_texts_are_every_sections_bullets_in_order() -> None:
    assert MESSAGE.bullet_texts == ("a", "b", "c", "d")


@pytest.mark.parametrize(
    ("kind", "headed"),
    [
        (ThreadKind.DIGEST, True),
        (ThreadKind.BRIEF, True),
        (ThreadKind.ANSWER, False),
        (ThreadKind.FEEDS, False),
    ],
)
def test_digests_and_briefs_are_headed_answers_and_feed_lists_are_replies(
    kind: ThreadKind, headed: bool
) -> None:
    assert Message(kind, "t", (), ()).headed is headed


def test_the_stored_thread_kinds_keep_their_values() -> None:
    assert [ThreadKind(v) for v in ("digest", "brief", "answer")] == [
        ThreadKind.DIGEST,
        ThreadKind.BRIEF,
        ThreadKind.ANSWER,
    ]


def test_hints_are_worded_once_each_in_order_and_unworded_ones_are_left_out() -> None:
    table = {Hint.TRY_BRIEF: "try", Hint.LIST_FEEDS: "list"}
    hints = (Hint.LIST_FEEDS, Hint.ASK_USAGE, Hint.TRY_BRIEF, Hint.LIST_FEEDS)
    assert worded(hints, table) == ["list", "try"]
    assert hinted("Gone.", Hint.LIST_FEEDS, table) == "Gone. list"
    assert hinted("Gone.", None, table) == hinted("Gone.", Hint.ASK_USAGE, table) == "Gone."

from __future__ import annotations

import json

from bot.chat.slack_blocks import (
    BLOCKS_PER_MESSAGE,
    HEADER_LIMIT,
    TEXT_LIMIT,
    link,
    render_blocks,
)
from bot.domain import Bullet, Citation, Message, Section, ThreadKind


def _long_digest(stories: int = 40, bullet_chars: int = 1400) -> Message:
    citations = tuple(
        Citation(n, f"Title {n}", f"https://news.example/{n}?a=1&b=2", f"Outlet {n}", n)
        for n in range(1, stories + 1)
    )
    sections = tuple(
        Section(
            heading=f"Story {n} " + "x" * 40,
            url=f"https://news.example/{n}",
            bullets=tuple(
                Bullet(f"Fact {n}.{i} " + "word " * (bullet_chars // 5), (n,)) for i in range(3)
            ),
            citations=(n,),
        )
        for n in range(1, stories + 1)
    )
    return Message(
        ThreadKind.DIGEST,
        "Daily digest " + "y" * 200,
        sections,
        citations,
        notes=("Extractive summary: quoted.",),
    )


def _texts(blocks: list[dict]) -> list[str]:  # type: ignore[type-arg]
    out = []
    for block in blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        for element in block.get("elements", []):
            out.append(element["text"])
    return out


def test_a_long_digest_is_split_within_slacks_limits_without_losing_a_bullet() -> None:
    """Over 50 blocks or 3,000 characters, it splits into blocks and messages; nothing cut."""
    message = _long_digest()
    parts = render_blocks(message)
    assert len(parts) > 1
    for part in parts:
        assert len(part.blocks) <= BLOCKS_PER_MESSAGE
        assert all(len(t) <= TEXT_LIMIT for t in _texts(part.blocks))
        assert len(part.blocks[0]["text"]["text"]) <= HEADER_LIMIT
        assert all(len(b.get("elements", [])) <= 10 for b in part.blocks)
        assert len(part.text) <= TEXT_LIMIT
    everything = " ".join(t for p in parts for t in _texts(p.blocks))
    for section in message.sections:
        for bullet in section.bullets:
            assert bullet.text.split()[1] in everything  # "Fact n.i" of every bullet is there
    words = sum(t.count("word") for p in parts for t in _texts(p.blocks))
    assert words == sum(b.text.count("word") for s in message.sections for b in s.bullets)
    assert "(1/" in parts[0].blocks[0]["text"]["text"]
    assert "Extractive summary" in json.dumps(parts[-1].blocks)
    assert "Extractive summary" not in json.dumps(parts[0].blocks)


def test_each_part_lists_the_sources_it_cites() -> None:
    """A split message carries, in each part, the sources its own stories cite."""
    for part in render_blocks(_long_digest()):
        cited = {int(n) for n in __import__("re").findall(r"\|\[(\d+)\]>", json.dumps(part.blocks))}
        context = json.dumps([b for b in part.blocks if b["type"] == "context"])
        for number in cited:
            assert f"|[{number}]>" in context


def test_links_escape_ampersands_and_labels_cannot_break_out() -> None:
    """URLs keep working with & escaped; a label cannot close the link or add markup."""
    assert link("https://a.example/?x=1&y=2", "[1]") == "<https://a.example/?x=1&amp;y=2|[1]>"
    assert link("https://a.example/a b", "x|<!channel>") == (
        "<https://a.example/a%20b|x¦&lt;!channel&gt;>"
    )


def test_answers_have_no_header_and_plain_bullets() -> None:
    """An answer in a thread is a section of quoted bullets and a sources line."""
    message = Message(
        ThreadKind.ANSWER,
        "From the sources",
        (Section(None, (Bullet("“It will land in 11 days.”", (1,)),)),),
        (Citation(1, "Lander", "https://l.example/1", "Civic Signal", 7),),
    )
    (part,) = render_blocks(message)
    assert [b["type"] for b in part.blocks] == ["section", "context"]
    assert "<https://l.example/1|[1]>" in part.blocks[0]["text"]["text"]

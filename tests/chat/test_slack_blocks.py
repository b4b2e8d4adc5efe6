from __future__ import annotations

import json

from bot.chat.slack_blocks import (
    BLOCKS_PER_MESSAGE,
    HEADER_LIMIT,
    SLACK_HINTS,
    TEXT_LIMIT,
    link,
    plain_text,
    render_blocks,
    reply_parts,
    with_hint,
)
from bot.domain import Bullet, Citation, Hint, Message, Section, ThreadKind


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


def test_a_feed_list_is_a_reply_with_no_header_unless_asked() -> None:
    """A feed list, like an answer, has no title header by default: a section per feed."""
    feed = Section("Alpha", (Bullet("Status: ok"),), url="https://a.example/feed.xml")
    message = Message(ThreadKind.FEEDS, "Feeds (1)", (feed,), ())
    (part,) = render_blocks(message)
    assert [b["type"] for b in part.blocks] == ["section"]
    assert part.blocks[0]["text"]["text"] == "*<https://a.example/feed.xml|Alpha>*\n• Status: ok"


def test_every_hint_is_worded_in_slacks_command_names() -> None:
    """Each Hint has Slack wording; none names the console's bare `/feeds`."""
    assert set(SLACK_HINTS) == set(Hint)
    assert "`/newsbrief feeds`" in SLACK_HINTS[Hint.LIST_FEEDS]
    assert "`/brief <topic>`" in SLACK_HINTS[Hint.TRY_BRIEF]


def test_hints_close_the_last_part_escaped() -> None:
    """A split message shows its hints once, at the end, with `<topic>` escaped."""
    message = _long_digest()
    message = Message(
        message.kind,
        message.title,
        message.sections,
        message.citations,
        hints=(Hint.TRY_BRIEF, Hint.BRIEF_USAGE),
    )
    parts = render_blocks(message)
    assert len(parts) > 1
    assert "/brief" not in json.dumps([p.blocks for p in parts[:-1]])
    (hints,) = [b for b in parts[-1].blocks if "/brief" in json.dumps(b)]
    assert hints["type"] == "section"
    assert hints["text"]["text"] == (
        "`/brief &lt;topic&gt;` shows what the sources do cover.\n"
        "Usage: `/brief &lt;topic&gt;`, e.g. `/brief ukraine`."
    )
    assert all(len(p.blocks) <= BLOCKS_PER_MESSAGE for p in parts)


def test_a_not_found_reply_is_one_text_with_its_hint() -> None:
    """A short not-found is one plain text: title, what happened, then the hint."""
    message = Message(
        ThreadKind.BRIEF,
        "Nothing on “a<b”",
        (Section(None, (Bullet("No article mentions all of “a<b”."),)),),
        (),
        found=False,
        hints=(Hint.LIST_FEEDS,),
    )
    (part,) = reply_parts(message)
    assert part.blocks == []
    assert part.text == (
        "*Nothing on “a&lt;b”*\nNo article mentions all of “a&lt;b”.\n"
        "`/newsbrief feeds` lists the feeds read here and their health."
    )


def test_a_long_reply_goes_as_blocks_and_nothing_is_cut() -> None:
    """Too long for one text, a reply is sent as titled Block Kit parts, every word kept."""
    words = " ".join(f"w{n}" for n in range(2000))
    message = Message(
        ThreadKind.FEEDS, "Feeds (1)", (Section(None, (Bullet(words),)),), (), found=True
    )
    assert len(plain_text(message)) > TEXT_LIMIT
    parts = reply_parts(message)
    assert parts[0].blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Feeds (1)", "emoji": False},
    }
    sent = " ".join(t for p in parts for t in _texts(p.blocks)).split()
    assert [w for w in sent if w.startswith("w")] == words.split()
    assert all(len(t) <= TEXT_LIMIT for p in parts for t in _texts(p.blocks))


def test_with_hint_escapes_our_text_and_adds_the_hint() -> None:
    """A feed change's own text is escaped and followed by its hint; no hint, no tail."""
    assert with_hint("Cannot add <x>: bad", Hint.LIST_FEEDS) == (
        "Cannot add &lt;x&gt;: bad `/newsbrief feeds` lists the feeds read here and their health."
    )
    assert with_hint("Added a & b.", None) == "Added a &amp; b."

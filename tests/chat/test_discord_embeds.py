from __future__ import annotations

import discord

from bot.chat.discord_embeds import (
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    DISCORD_HINTS,
    EMBED_CHARS_PER_MESSAGE,
    EMBEDS_PER_MESSAGE,
    FOOTER_LIMIT,
    TITLE_LIMIT,
    escape,
    plain_text,
    render_embeds,
    with_hint,
)
from bot.domain import Bullet, Citation, Hint, Message, Section, ThreadKind
from bot.services.render import no_answer, not_found


def _digest(stories: int, bullet_words: int) -> Message:
    citations = tuple(
        Citation(n, f"Title {n}", f"https://news.example/{n}", f"Outlet {n}", n)
        for n in range(1, stories + 1)
    )
    sections = tuple(
        Section(
            heading=f"Story {n} " + "h" * 300,
            url=f"https://news.example/{n}",
            bullets=tuple(Bullet(f"Fact{n}x{i} " + "word " * bullet_words, (n,)) for i in range(3)),
            citations=(n,),
        )
        for n in range(1, stories + 1)
    )
    return Message(
        ThreadKind.DIGEST,
        "Daily digest",
        sections,
        citations,
        notes=("Extractive summary: quoted.",),
    )


def _size(embed: dict) -> int:  # type: ignore[type-arg]
    return (
        len(embed.get("title", ""))
        + len(embed.get("description", ""))
        + len(embed.get("footer", {}).get("text", ""))
    )


def test_long_digest_is_split_within_discords_limits_and_keeps_every_bullet() -> None:
    """Embeds and messages stay within every documented limit; no bullet is lost."""
    message = _digest(stories=25, bullet_words=400)
    parts = render_embeds(message)
    assert len(parts) > 1
    for part in parts:
        assert len(part.content) <= CONTENT_LIMIT
        assert 1 <= len(part.embeds) <= EMBEDS_PER_MESSAGE
        assert sum(_size(e) for e in part.embeds) <= EMBED_CHARS_PER_MESSAGE
        for embed in part.embeds:
            assert len(embed["title"]) <= TITLE_LIMIT
            assert len(embed["description"]) <= DESCRIPTION_LIMIT
            assert len(embed.get("footer", {}).get("text", "")) <= FOOTER_LIMIT
            discord.Embed.from_dict(embed)  # discord.py accepts it
    text = " ".join(e["description"] for p in parts for e in p.embeds)
    for section in message.sections:
        for bullet in section.bullets:
            assert bullet.text.split()[0] in text
    assert text.count("word") == sum(
        b.text.count("word") for s in message.sections for b in s.bullets
    )
    assert parts[0].content.endswith(f"(1/{len(parts)})")


def test_one_story_per_embed_with_linked_title_citations_and_footer() -> None:
    """Each story is an embed: linked title, cited bullets, sources and label in the footer."""
    (part,) = render_embeds(_digest(stories=3, bullet_words=5))
    assert len(part.embeds) == 3
    first = part.embeds[0]
    assert first["url"] == "https://news.example/1"
    assert "[\\[1\\]](https://news.example/1)" in first["description"]
    assert first["footer"]["text"] == "[1] Outlet 1 — Extractive summary: quoted."
    assert part.content == "**Daily digest**"


def test_article_markdown_cannot_forge_links_or_formatting() -> None:
    """Brackets, asterisks and the like from articles are escaped."""
    assert escape("[click](https://evil.example) **now**") == (
        "\\[click\\]\\(https://evil.example\\) \\*\\*now\\*\\*"
    )


def test_every_hint_is_worded_in_discords_command_names() -> None:
    """Each core Hint has a Discord wording that names a slash command in backticks."""
    assert set(DISCORD_HINTS) == set(Hint)
    assert all("`/" in text for text in DISCORD_HINTS.values())
    assert "Server managers" in DISCORD_HINTS[Hint.LIST_FEEDS]


def test_plain_text_escapes_the_message_but_not_its_hints() -> None:
    """The ephemeral text escapes the core's words and appends the hints with their Markdown."""
    message = not_found(
        "Nothing on “a_b”",
        "No article mentions “a_b”.",
        kind=ThreadKind.BRIEF,
        hints=(Hint.LIST_FEEDS,),
    )
    text = plain_text(message)
    assert text == (
        "**Nothing on “a\\_b”**\nNo article mentions “a\\_b”.\n"
        "Server managers can see the feeds read here with `/feeds list`."
    )


def test_plain_text_shortens_the_text_and_keeps_the_hint_whole() -> None:
    """A long not-found text is cut to fit Discord's 2,000 characters; the hint survives."""
    message = not_found("Long", "word " * 1000, kind=ThreadKind.BRIEF, hints=(Hint.BRIEF_USAGE,))
    text = plain_text(message)
    assert len(text) <= CONTENT_LIMIT
    assert text.endswith("\nUsage: `/brief topic:ukraine`.")


def test_an_answer_that_found_nothing_ends_with_its_hint() -> None:
    """Hints follow the last embed's text, unescaped."""
    (part,) = render_embeds(no_answer())
    (embed,) = part.embeds
    assert embed["description"].endswith("\n\n`/brief` shows what the sources do cover.")


def test_a_hint_with_no_room_left_gets_its_own_embed() -> None:
    """A last embed already full gets the hint in an embed of its own, within the limits."""
    full = Section(heading=None, bullets=(Bullet("x" * (DESCRIPTION_LIMIT - 2)),))
    message = Message(ThreadKind.ANSWER, "A", (full,), (), hints=(Hint.ASK_USAGE,))
    (part,) = render_embeds(message)
    assert [e["description"] for e in part.embeds][-1] == DISCORD_HINTS[Hint.ASK_USAGE]
    assert all(len(e["description"]) <= DESCRIPTION_LIMIT for e in part.embeds)


def test_a_feed_list_has_no_title_line_and_an_embed_per_feed() -> None:
    """A feed list is a reply: no bold title as content, each feed its own linked embed."""
    feeds = tuple(
        Section(f"Feed {n}", (Bullet("Status: ok"),), url=f"https://{n}.example/rss")
        for n in (1, 2)
    )
    (part,) = render_embeds(Message(ThreadKind.FEEDS, "Feeds (2)", feeds, ()))
    assert part.content == ""
    assert [(e["title"], e["url"]) for e in part.embeds] == [
        ("Feed 1", "https://1.example/rss"),
        ("Feed 2", "https://2.example/rss"),
    ]
    assert all("footer" not in e for e in part.embeds)


def test_with_hint_appends_the_feed_change_hint() -> None:
    """A FeedChange's hint follows its (already escaped) text; no hint, text alone."""
    assert with_hint("Gone.", None) == "Gone."
    assert with_hint("Gone.", Hint.LIST_FEEDS).endswith(" with `/feeds list`.")

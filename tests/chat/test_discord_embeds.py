from __future__ import annotations

import discord

from bot.chat.discord_embeds import (
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    EMBED_CHARS_PER_MESSAGE,
    EMBEDS_PER_MESSAGE,
    FOOTER_LIMIT,
    TITLE_LIMIT,
    escape,
    render_embeds,
)
from bot.domain import Bullet, Citation, Message, Section, ThreadKind


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

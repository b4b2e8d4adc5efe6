"""The neutral Message as Discord embeds, within Discord's documented limits.

Limits kept: 2,000 characters of content, 256 per embed title, 4,096 per
embed description, 2,048 per footer, 10 embeds and 6,000 embed characters per
message. Longer text is split across embeds and messages, never cut. Article,
model and user text is escaped for Markdown (so it cannot forge a masked link);
the bot's own words (hints naming commands) keep theirs. Pings are prevented
where the message is sent (`allowed_mentions` none).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.domain import Hint, Message, Section
from bot.services.render import hinted, worded
from bot.text import pack_lines

CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FOOTER_LIMIT = 2048
EMBEDS_PER_MESSAGE = 10
EMBED_CHARS_PER_MESSAGE = 6000
COLOUR = 0x1D3557

_MARKDOWN = re.compile(r"([\\*_~`|>\[\]()#-])")

Embed = dict[str, Any]

# The core names no command; these word its hints in Discord's. `/feeds` and `/digest` need
# Manage Server and Discord hides them from other members, so the feeds hint says who can.
DISCORD_HINTS: Mapping[Hint, str] = {
    Hint.BRIEF_USAGE: "Usage: `/brief topic:ukraine`.",
    Hint.TRY_BRIEF: "`/brief` shows what the sources do cover.",
    Hint.LIST_FEEDS: "Server managers can see the feeds read here with `/feeds list`.",
    Hint.ASK_USAGE: "Ask with `/ask question:…` in the thread, or mention me there.",
    Hint.FIX_FEED: "Server managers: `/feeds resume url:…` fetches it again; "
    "`/feeds remove url:…` stops following it.",
}


@dataclass
class DiscordMessage:
    content: str
    embeds: list[Embed] = field(default_factory=list)


def escape(text: str) -> str:
    """Markdown characters as literals: no bold, no masked links, no headings."""
    return _MARKDOWN.sub(r"\\\1", text)


def hint_text(hints: Iterable[Hint], table: Mapping[Hint, str] = DISCORD_HINTS) -> str:
    """The hints in Discord's command names, one per line; our own Markdown, never escaped."""
    return "\n".join(worded(hints, table))


def with_hint(escaped: str, hint: Hint | None, table: Mapping[Hint, str] = DISCORD_HINTS) -> str:
    """Already-escaped text followed by the hint it points to, if any."""
    return hinted(escaped, hint, table)


def _link_target(url: str) -> str:
    """A URL that cannot end a masked link early."""
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29").replace(">", "%3E")


def _refs(numbers: tuple[int, ...], message: Message) -> str:
    return " ".join(f"[\\[{c.number}\\]]({_link_target(c.url)})" for c in message.cited(numbers))


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _section_embeds(section: Section, message: Message, footer: str | None) -> list[Embed]:
    lines = [f"• {escape(b.text)} {_refs(b.citations, message)}".rstrip() for b in section.bullets]
    heading = section.heading or "Overview"
    if section.note:
        heading = f"{heading} ({section.note})"
    embeds: list[Embed] = []
    for index, chunk in enumerate(pack_lines(lines, DESCRIPTION_LIMIT)):
        embed: Embed = {"description": chunk, "color": COLOUR}
        title = heading if index == 0 else f"{heading} (continued)"
        embed["title"] = _shorten(title, TITLE_LIMIT)
        if section.url and index == 0:
            embed["url"] = section.url
        embeds.append(embed)
    if footer and embeds:
        embeds[-1]["footer"] = {"text": _shorten(footer, FOOTER_LIMIT)}
    return embeds


def _footer(section: Section, message: Message, label: str | None) -> str | None:
    text = " · ".join(f"[{c.number}] {c.outlets}" for c in message.cited_in(section))
    if label:
        text = f"{text} — {label}" if text else label
    return text or None


def _size(embed: Embed) -> int:
    return (
        len(embed.get("title", ""))
        + len(embed.get("description", ""))
        + len(embed.get("footer", {}).get("text", ""))
    )


def _add_hints(embeds: list[Embed], hints: str) -> None:
    """The hints below the last embed's text, or in an embed of their own if that is full."""
    if not hints:
        return
    last = embeds[-1] if embeds else None
    if last is not None and len(last["description"]) + 2 + len(hints) <= DESCRIPTION_LIMIT:
        last["description"] = f"{last['description']}\n\n{hints}"
    else:
        embeds.append({"description": hints, "color": COLOUR})


def render_embeds(
    message: Message, hints: Mapping[Hint, str] = DISCORD_HINTS
) -> list[DiscordMessage]:
    """A Message as one or more Discord messages, each within the limits.

    `hints` words the commands the message points to (`message.hints`).
    """
    label = " ".join(message.notes) or None
    embeds: list[Embed] = []
    for section in message.sections:
        # A reply's notes go under every section; a post's only under its stories.
        footer = _footer(section, message, label if section.heading or not message.headed else None)
        embeds += _section_embeds(section, message, footer)
    _add_hints(embeds, hint_text(message.hints, hints))
    messages: list[DiscordMessage] = [DiscordMessage(content="")]
    used = 0
    for embed in embeds:
        current = messages[-1]
        if current.embeds and (
            len(current.embeds) == EMBEDS_PER_MESSAGE
            or used + _size(embed) > EMBED_CHARS_PER_MESSAGE
        ):
            messages.append(DiscordMessage(content=""))
            used = 0
        messages[-1].embeds.append(embed)
        used += _size(embed)
    title = escape(message.title)
    for index, part in enumerate(messages, start=1):
        suffix = "" if len(messages) == 1 else f" ({index}/{len(messages)})"
        if message.headed:
            part.content = _shorten(f"**{title}**", CONTENT_LIMIT - len(suffix)) + suffix
    return messages


def plain_text(message: Message, hints: Mapping[Hint, str] = DISCORD_HINTS) -> str:
    """Short text for ephemeral replies (errors, usage, not-found): the message's own
    text escaped, then its hints with their Markdown; only the escaped part is shortened."""
    pointers = hint_text(message.hints, hints)
    lines = [f"**{escape(message.title)}**", *map(escape, message.bullet_texts)]
    room = CONTENT_LIMIT - (len(pointers) + 1 if pointers else 0)
    body = _shorten("\n".join(lines), room)
    return f"{body}\n{pointers}" if pointers else body

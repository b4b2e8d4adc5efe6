"""The neutral Message as Slack Block Kit, within Slack's documented limits.

Limits kept: 3,000 characters per text object, 150 per header, 10 elements
per context block, 50 blocks per message. Anything longer is split across
blocks and messages, never cut silently. All text from articles and models
is escaped (`&`, `<`, `>`), so `<!everyone>`, `<!channel>` or `<@U123>` in
a feed cannot ping anyone or inject markup; so is our own text (usage lines
name `<topic>`), which would otherwise read as a broken link.

Hints (`Message.hints`, `FeedChange.hint`) are worded here, in Slack's own
command names, and rendered wherever a message is shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bot.domain import Bullet, Citation, Hint, Message, Section
from bot.services.render import hinted, worded
from bot.text import pack_lines

TEXT_LIMIT = 3000
HEADER_LIMIT = 150
CONTEXT_ELEMENTS = 10
BLOCKS_PER_MESSAGE = 50
# Blocks kept free in every message for the header, the hints, the sources and the notes.
_RESERVED = 1 + 1 + 4

Block = dict[str, Any]

# Our own mrkdwn, unescaped: the renderers below escape it like any other text.
SLACK_HINTS: Mapping[Hint, str] = {
    Hint.BRIEF_USAGE: "Usage: `/brief <topic>`, e.g. `/brief ukraine`.",
    Hint.TRY_BRIEF: "`/brief <topic>` shows what the sources do cover.",
    Hint.LIST_FEEDS: "`/newsbrief feeds` lists the feeds read here and their health.",
    Hint.ASK_USAGE: "Mention me with a question, or reply in the thread under a brief or digest.",
    Hint.FIX_FEED: "Admins: `/newsbrief resume <url>` fetches it again; "
    "`/newsbrief unsubscribe <url>` stops following it.",
}


@dataclass(frozen=True)
class SlackMessage:
    """One chat.postMessage worth: blocks, a plain fallback text, the citations inside."""

    text: str
    blocks: list[Block]


def escape(text: str) -> str:
    """Slack's three control characters, so text can never become markup or a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def hint_lines(hints: Iterable[Hint], table: Mapping[Hint, str] = SLACK_HINTS) -> list[str]:
    """The hints in Slack's command names, escaped, each once."""
    return [escape(line) for line in worded(hints, table)]


def with_hint(text: str, hint: Hint | None, table: Mapping[Hint, str] = SLACK_HINTS) -> str:
    """Our own reply text, escaped, followed by the hint it points to, if any."""
    return escape(hinted(text, hint, table))


def link(url: str, label: str) -> str:
    safe_url = quote(url, safe=":/?#[]@!$&'()*+,;=%~-._")
    return f"<{safe_url.replace('&', '&amp;')}|{escape(label).replace('|', '¦')}>"


def _refs(numbers: tuple[int, ...], message: Message) -> str:
    return " ".join(link(c.url, f"[{c.number}]") for c in message.cited(numbers))


def _mrkdwn(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _bullet_line(bullet: Bullet, message: Message) -> str:
    refs = _refs(bullet.citations, message)
    return f"• {escape(bullet.text)} {refs}".rstrip()


def _section_blocks(section: Section, message: Message) -> list[Block]:
    lines = []
    if section.heading:
        heading = escape(section.heading)
        title = f"*{link(section.url, section.heading)}*" if section.url else f"*{heading}*"
        note = f"  _({escape(section.note)})_" if section.note else ""
        lines.append(f"{title}{note}")
    lines += [_bullet_line(b, message) for b in section.bullets]
    return [_mrkdwn(piece) for piece in pack_lines(lines, TEXT_LIMIT)]


def _context_blocks(texts: list[str]) -> list[Block]:
    blocks = []
    elements = [{"type": "mrkdwn", "text": t} for t in texts]
    for start in range(0, len(elements), CONTEXT_ELEMENTS):
        blocks.append({"type": "context", "elements": elements[start : start + CONTEXT_ELEMENTS]})
    return blocks


def _sources(cited: tuple[Citation, ...]) -> list[str]:
    lines = [
        f"{link(c.url, f'[{c.number}]')} {escape(c.outlets)}: {escape(c.title)}" for c in cited
    ]
    return pack_lines(lines, TEXT_LIMIT)


def _header(title: str, suffix: str = "") -> Block:
    """A header of at most 150 characters; a long title is shortened, the part number kept."""
    room = HEADER_LIMIT - len(suffix)
    if len(title) > room:
        title = title[: room - 1].rstrip() + "…"
    text = f"{title}{suffix}"
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": False}}


def render_blocks(
    message: Message, hints: Mapping[Hint, str] = SLACK_HINTS, *, header: bool | None = None
) -> list[SlackMessage]:
    """A Message as one or more Slack messages, each within the block limits.

    `hints` words the commands the message points to; they close its last part.
    `header`: whether each part opens with the title (default: when the message is headed).
    """
    with_header = message.headed if header is None else header
    pointers = hint_lines(message.hints, hints)
    groups = [(s, _section_blocks(s, message)) for s in message.sections]
    budget = BLOCKS_PER_MESSAGE - _RESERVED
    parts: list[list[tuple[Section, list[Block]]]] = [[]]
    used = 0
    for section, section_blocks in groups:
        if parts[-1] and used + len(section_blocks) > budget:
            parts.append([])
            used = 0
        parts[-1].append((section, section_blocks))
        used += len(section_blocks)
    notes = [escape(n) for n in message.notes]
    rendered = []
    for index, part in enumerate(parts, start=1):
        suffix = "" if len(parts) == 1 else f" ({index}/{len(parts)})"
        title = f"{message.title}{suffix}"
        out: list[Block] = []
        if with_header:
            out.append(_header(message.title, suffix))
        for _, section_blocks in part:
            out += section_blocks
        last = index == len(parts)
        if last and pointers:
            out.append(_mrkdwn("\n".join(pointers)))
        cited = message.cited(sorted({n for s, _ in part for n in s.cited_numbers}))
        context = _sources(cited) if cited else []
        if last:
            context += pack_lines(notes, TEXT_LIMIT)
        out += _context_blocks(context)
        fallback = _fallback_text(title, part, pointers if last and not message.found else [])
        rendered.append(SlackMessage(text=fallback, blocks=out))
    return rendered


def _fallback_text(title: str, part: list[tuple[Section, list[Block]]], pointers: list[str]) -> str:
    """What notifications and screen readers show: plain, escaped, short.

    The full text is in the blocks; this is a summary of them, so shortening it loses nothing.
    """
    first = next((s for s, _ in part if s.bullets), None)
    lead = f": {first.bullets[0].text}" if first else ""
    text = " ".join([escape(f"{title}{lead}"), *pointers])
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def plain_text(message: Message, hints: Mapping[Hint, str] = SLACK_HINTS) -> str:
    """The message as one escaped mrkdwn text: title, bullets, then its hints.

    Nothing is cut: `reply_parts` sends it only when it fits, else Block Kit.
    """
    lines = [f"*{escape(message.title)}*", *map(escape, message.bullet_texts)]
    return "\n".join([*lines, *hint_lines(message.hints, hints)])


def reply_parts(message: Message, hints: Mapping[Hint, str] = SLACK_HINTS) -> list[SlackMessage]:
    """A private reply: one plain text when it is a short note (a not-found, a usage line),
    else Block Kit parts with the title on each, a section per heading (one per feed)."""
    text = plain_text(message, hints)
    note = not message.citations and not any(s.heading for s in message.sections)
    if note and len(text) <= TEXT_LIMIT:
        return [SlackMessage(text=text, blocks=[])]
    return render_blocks(message, hints, header=True)

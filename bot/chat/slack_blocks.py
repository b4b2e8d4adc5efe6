"""The neutral Message as Slack Block Kit, within Slack's documented limits.

Limits kept: 3,000 characters per text object, 150 per header, 10 elements
per context block, 50 blocks per message. Anything longer is split across
blocks and messages, never cut silently. All text from articles and models
is escaped (`&`, `<`, `>`), so `<!everyone>`, `<!channel>` or `<@U123>` in
a feed cannot ping anyone or inject markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bot.domain import Bullet, Citation, Message, Section, ThreadKind
from bot.text import pack_lines

TEXT_LIMIT = 3000
HEADER_LIMIT = 150
CONTEXT_ELEMENTS = 10
BLOCKS_PER_MESSAGE = 50
# Blocks kept free in every message for the header, the sources and the notes.
_RESERVED = 1 + 4

Block = dict[str, Any]


@dataclass(frozen=True)
class SlackMessage:
    """One chat.postMessage worth: blocks, a plain fallback text, the citations inside."""

    text: str
    blocks: list[Block]


def escape(text: str) -> str:
    """Slack's three control characters, so text can never become markup or a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    safe_url = quote(url, safe=":/?#[]@!$&'()*+,;=%~-._")
    return f"<{safe_url.replace('&', '&amp;')}|{escape(label).replace('|', '¦')}>"


def _refs(numbers: tuple[int, ...], citations: dict[int, Citation]) -> str:
    return " ".join(link(citations[n].url, f"[{n}]") for n in numbers if n in citations)


def _mrkdwn(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _bullet_line(bullet: Bullet, citations: dict[int, Citation]) -> str:
    refs = _refs(bullet.citations, citations)
    return f"• {escape(bullet.text)} {refs}".rstrip()


def _section_blocks(section: Section, citations: dict[int, Citation]) -> list[Block]:
    lines = []
    if section.heading:
        heading = escape(section.heading)
        title = f"*{link(section.url, section.heading)}*" if section.url else f"*{heading}*"
        note = f"  _({escape(section.note)})_" if section.note else ""
        lines.append(f"{title}{note}")
    lines += [_bullet_line(b, citations) for b in section.bullets]
    return [_mrkdwn(piece) for piece in pack_lines(lines, TEXT_LIMIT)]


def _context_blocks(texts: list[str]) -> list[Block]:
    blocks = []
    elements = [{"type": "mrkdwn", "text": t} for t in texts]
    for start in range(0, len(elements), CONTEXT_ELEMENTS):
        blocks.append({"type": "context", "elements": elements[start : start + CONTEXT_ELEMENTS]})
    return blocks


def _sources(cited: list[Citation]) -> list[str]:
    lines = [f"{link(c.url, f'[{c.number}]')} {escape(c.source)}: {escape(c.title)}" for c in cited]
    return pack_lines(lines, TEXT_LIMIT)


def _header(title: str, suffix: str = "") -> Block:
    """A header of at most 150 characters; a long title is shortened, the part number kept."""
    room = HEADER_LIMIT - len(suffix)
    if len(title) > room:
        title = title[: room - 1].rstrip() + "…"
    text = f"{title}{suffix}"
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": False}}


def render_blocks(message: Message) -> list[SlackMessage]:
    """A Message as one or more Slack messages, each within the block limits."""
    citations = {c.number: c for c in message.citations}
    groups = [(s, _section_blocks(s, citations)) for s in message.sections]
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
        if message.kind is not ThreadKind.ANSWER:
            out.append(_header(message.title, suffix))
        for _, section_blocks in part:
            out += section_blocks
        numbers = sorted({n for s, _ in part for n in _cited_numbers(s)})
        cited = [citations[n] for n in numbers if n in citations]
        context = _sources(cited) if cited else []
        if index == len(parts):
            context += pack_lines(notes, TEXT_LIMIT)
        out += _context_blocks(context)
        rendered.append(SlackMessage(text=_fallback_text(title, part), blocks=out))
    return rendered


def _cited_numbers(section: Section) -> set[int]:
    return set(section.citations) | {n for b in section.bullets for n in b.citations}


def _fallback_text(title: str, part: list[tuple[Section, list[Block]]]) -> str:
    """What notifications and screen readers show: plain, escaped, short."""
    first = next((s for s, _ in part if s.bullets), None)
    lead = f": {first.bullets[0].text}" if first else ""
    text = escape(f"{title}{lead}")
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def plain_text(message: Message) -> str:
    """A short escaped text for ephemeral replies (errors, usage, not-found)."""
    lines = [f"*{escape(message.title)}*"]
    lines += [escape(b.text) for s in message.sections for b in s.bullets]
    return "\n".join(lines)[:TEXT_LIMIT]

"""Feed bytes -> entries, with feedparser; tolerant of the web's many dialects."""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser

from bot.services.ports import FeedError, ParsedEntry
from bot.text import clean_text, html_to_text

log = logging.getLogger(__name__)

# Fewer words than this and the entry is treated as an excerpt of a longer page.
FULL_TEXT_MIN_WORDS = 120
_MAX_FUTURE = timedelta(hours=1)


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    entries: tuple[ParsedEntry, ...]
    warnings: tuple[str, ...]


def parse_feed(
    body: bytes,
    *,
    content_type: str | None,
    now: datetime,
    base_url: str | None = None,
    sample_ages: bool = False,
) -> ParsedFeed:
    """Parse a feed; raise FeedError when there is no feed to speak of.

    `base_url` (the URL the feed came from) resolves relative entry links.
    `sample_ages` honours the bundled samples' `nb:ageHours` (an age instead of
    a date, so they stay recent); from any other feed it is ignored, or a feed
    could make its entries look new for ever.
    """
    headers = {"content-type": content_type} if content_type else {}
    if base_url:
        headers["content-location"] = base_url
    # Not sanitized: only text is kept, and html_to_text drops scripts and styles whole
    # (sanitizing took a quarter of the parse).
    parsed = feedparser.parse(body, response_headers=headers, sanitize_html=False)
    warnings: list[str] = []
    if parsed.get("bozo"):
        reason = _describe(parsed.get("bozo_exception"))
        if not parsed.entries:
            if parsed.get("version") or parsed.feed.get("title"):
                warnings.append(f"feed is malformed ({reason}) and has no readable entries")
            else:
                raise FeedError(f"not a readable RSS or Atom feed ({reason})")
        else:
            warnings.append(f"feed is not well-formed ({reason}); read what could be read")
    elif not parsed.get("version") and not parsed.entries:
        raise FeedError("not an RSS or Atom feed (no feed elements found)")

    entries = []
    for raw in parsed.entries:
        entry = _entry(raw, now, sample_ages)
        if entry is None:
            warnings.append("skipped an entry with no link")
            continue
        entries.append(entry)
    if not entries and _broken_xml(parsed):
        # Something was read but nothing usable: report it rather than "ok, 0 entries".
        reason = _describe(parsed.get("bozo_exception"))
        raise FeedError(f"feed is malformed ({reason}) and has no readable entries")
    title = clean_text(parsed.feed.get("title", "")) or None
    return ParsedFeed(title=title, entries=tuple(entries), warnings=tuple(dict.fromkeys(warnings)))


def _broken_xml(parsed: Any) -> bool:
    """Malformed markup, as opposed to feedparser's harmless notes (encoding, MIME type)."""
    exc = parsed.get("bozo_exception")
    return bool(parsed.get("bozo")) and not isinstance(
        exc, feedparser.exceptions.ThingsNobodyCaresAboutButMe
    )


def _describe(exc: object) -> str:
    if exc is None:
        return "unknown error"
    text = str(exc).strip() or exc.__class__.__name__
    return text[:200]


def _entry(raw: Any, now: datetime, sample_ages: bool) -> ParsedEntry | None:
    link = (raw.get("link") or "").strip()
    guid = (raw.get("id") or "").strip() or None
    if not link and guid and guid.startswith(("http://", "https://")):
        link = guid
    if not link:
        return None
    body_html = ""
    for content in raw.get("content") or []:
        value = content.get("value") or ""
        if len(value) > len(body_html):
            body_html = value
    summary = html_to_text(raw.get("summary") or "")
    text = html_to_text(body_html) if body_html else ""
    if len(text) < len(summary):
        text = summary
    title = clean_text(html_to_text(raw.get("title") or "")) or _first_words(text) or link
    return ParsedEntry(
        title=title,
        url=link,
        guid=guid,
        published_at=_published(raw, now, sample_ages),
        text=text,
        is_full_text=len(text.split()) >= FULL_TEXT_MIN_WORDS,
    )


def _first_words(text: str, count: int = 12) -> str:
    return " ".join(text.split()[:count])


def _published(raw: Any, now: datetime, sample_ages: bool) -> datetime | None:
    age = raw.get("nb_agehours") if sample_ages else None
    if age:
        try:
            return now - timedelta(hours=float(age))
        except ValueError:
            log.debug("ignoring unreadable nb:ageHours %r", age)
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        stamp = raw.get(key)
        if stamp:
            moment = datetime.fromtimestamp(calendar.timegm(stamp), tz=UTC)
            return moment if moment <= now + _MAX_FUTURE else now
    return None

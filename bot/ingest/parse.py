"""Feed bytes -> entries: lxml for well-formed RSS and Atom, feedparser for the rest.

feedparser reads the web's many dialects, but slowly; `fastparse` reads what it can
exactly as feedparser would (and says when it cannot), in a fraction of the time.
Both give a `RawFeed`, which one function here turns into the `ParsedFeed`.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser

from bot.domain import FeedError, ParsedEntry
from bot.ingest.fastparse import RawEntry, RawFeed, read_fast, response_headers
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
    raw = read_fast(body, content_type=content_type, base_url=base_url)
    if raw is None:
        raw = read_with_feedparser(body, content_type=content_type, base_url=base_url)
    return parsed_feed(raw, now, sample_ages)


def read_with_feedparser(body: bytes, *, content_type: str | None, base_url: str | None) -> RawFeed:
    # Not sanitized: only text is kept, and html_to_text drops scripts and styles whole
    # (sanitizing took a quarter of the parse).
    try:
        parsed = feedparser.parse(
            body, response_headers=response_headers(content_type, base_url), sanitize_html=False
        )
    except UnicodeError as exc:  # an encoding name feedparser cannot even read
        raise FeedError(f"the feed's encoding cannot be read ({_describe(exc)})") from exc
    return RawFeed(
        version=parsed.get("version") or "",
        title=parsed.feed.get("title", ""),
        entries=[_raw_entry(raw) for raw in parsed.entries],
        bozo=bool(parsed.get("bozo")),
        bozo_exception=parsed.get("bozo_exception"),
    )


def _raw_entry(raw: Any) -> RawEntry:
    # The dates by plain dict lookups: FeedParserDict answers a missing updated_parsed
    # with published_parsed, and a DeprecationWarning.
    return RawEntry(
        title=raw.get("title") or "",
        link=raw.get("link") or "",
        guid=raw.get("id") or "",
        summary=raw.get("summary") or "",
        contents=[content.get("value") or "" for content in raw.get("content") or []],
        age_hours=raw.get("nb_agehours"),
        published=dict.get(raw, "published_parsed"),
        updated=dict.get(raw, "updated_parsed"),
        created=dict.get(raw, "created_parsed"),
    )


def parsed_feed(raw: RawFeed, now: datetime, sample_ages: bool) -> ParsedFeed:
    """A feed as read (by either reader) as the bot keeps it; FeedError for no feed."""
    warnings: list[str] = []
    if raw.bozo:
        reason = _describe(raw.bozo_exception)
        if not raw.entries:
            if raw.version or raw.title:
                warnings.append(f"feed is malformed ({reason}) and has no readable entries")
            else:
                raise FeedError(f"not a readable RSS or Atom feed ({reason})")
        else:
            warnings.append(f"feed is not well-formed ({reason}); read what could be read")
    elif not raw.version and not raw.entries:
        raise FeedError("not an RSS or Atom feed (no feed elements found)")

    entries = []
    for raw_entry in raw.entries:
        entry = _entry(raw_entry, now, sample_ages)
        if entry is None:
            warnings.append("skipped an entry with no link")
            continue
        entries.append(entry)
    if not entries and _broken_xml(raw):
        # Something was read but nothing usable: report it rather than "ok, 0 entries".
        reason = _describe(raw.bozo_exception)
        raise FeedError(f"feed is malformed ({reason}) and has no readable entries")
    title = clean_text(raw.title) or None
    return ParsedFeed(title=title, entries=tuple(entries), warnings=tuple(dict.fromkeys(warnings)))


def _broken_xml(raw: RawFeed) -> bool:
    """Malformed markup, as opposed to feedparser's harmless notes (encoding, MIME type)."""
    return raw.bozo and not isinstance(
        raw.bozo_exception, feedparser.exceptions.ThingsNobodyCaresAboutButMe
    )


def _describe(exc: object) -> str:
    if exc is None:
        return "unknown error"
    text = str(exc).strip() or exc.__class__.__name__
    return text[:200]


def _entry(raw: RawEntry, now: datetime, sample_ages: bool) -> ParsedEntry | None:
    link = raw.link.strip()
    guid = raw.guid.strip() or None
    if not link and guid and guid.startswith(("http://", "https://")):
        link = guid
    if not link:
        return None
    body_html = ""
    for value in raw.contents:
        if len(value) > len(body_html):
            body_html = value
    text = html_to_text(body_html) if body_html else ""
    # html_to_text never lengthens ASCII without references: such a summary no longer
    # than the content's text cannot replace it, and need not be read.
    summary = raw.summary
    if len(summary) > len(text) or "&" in summary or not summary.isascii():
        summary = html_to_text(summary)
        if len(text) < len(summary):
            text = summary
    title = clean_text(html_to_text(raw.title)) or _first_words(text) or link
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


def _published(raw: RawEntry, now: datetime, sample_ages: bool) -> datetime | None:
    age = raw.age_hours if sample_ages else None
    if age:
        try:
            return now - timedelta(hours=float(age))
        except ValueError:
            log.debug("ignoring unreadable nb:ageHours %r", age)
    for stamp in (raw.published, raw.updated, raw.created):
        if stamp:
            moment = datetime.fromtimestamp(calendar.timegm(stamp), tz=UTC)
            return moment if moment <= now + _MAX_FUTURE else now
    return None

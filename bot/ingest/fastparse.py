"""Feed bytes -> the fields `parse.py` reads, with lxml: feedparser's reading of
well-formed RSS 2.0, RSS 1.0 and Atom 1.0, step for step, at a fraction of its cost.

feedparser is exact but slow (a SAX callback per element, a Python pass over every
string, an SGML re-serialisation of every HTML field). This module reads the lxml
tree and does, for the fields the bot keeps, what feedparser's handlers would have
done: the same decoding (feedparser's own `convert_to_utf8`), the same element
names (its namespace table and prefixes), the same string pipeline as its `pop()`
(strip, relative URI resolution, the latin-1/cp1252 repairs), the same dates (its
`_parse_date`), the same order rules (first non-empty title, guid-as-link, summary
copied from content...).

Whatever it does not reproduce exactly, `read_fast` answers None for, and the caller
reads the feed with feedparser: a DOCTYPE or entity declarations, an XML error, an
unknown root, Atom xhtml or base64 content, an element whose feedparser handler
might touch the kept fields (itunes:summary, media:title, source, textinput...),
markup inside a text element, namespace prefixes that feedparser would map oddly.

It replays feedparser's own steps through its internals, six of them private names
(`_parse_date`, `_BaseHTMLProcessor`, `_cp1252`, `_FeedParserMixin` and its
`_enforce_href`, `_urljoin`), and feedparser is pinned only below 7: if a release
renames or drops any of them, this module still imports, says so once in the log,
and `read_fast` answers None for every feed (feedparser reads them all).
"""

from __future__ import annotations

import contextlib
import html.entities
import logging
import re
import threading
from dataclasses import dataclass, field
from time import struct_time
from typing import Any

import feedparser
from lxml import etree

log = logging.getLogger(__name__)

# feedparser's internals, checked once here: what `read_fast` replays.
try:
    from feedparser.api import StrictFeedParser
    from feedparser.datetimes import _parse_date
    from feedparser.encodings import convert_to_utf8
    from feedparser.html import _BaseHTMLProcessor, _cp1252
    from feedparser.mixin import _FeedParserMixin
    from feedparser.sanitizer import replace_doctype
    from feedparser.urls import _urljoin, make_safe_absolute_uri, resolve_relative_uris

    _FEEDPARSER_NAMESPACES: dict[str, str] = dict(_FeedParserMixin.namespaces)
    _HTML_TYPES = _FeedParserMixin.html_types
    _CAN_CONTAIN_RELATIVE_URIS = _FeedParserMixin.can_contain_relative_uris
    _looks_like_html = _FeedParserMixin.looks_like_html
    _map_content_type = _FeedParserMixin.map_content_type
    _enforce_href = _FeedParserMixin._enforce_href
    _NO_END_TAG = frozenset(_BaseHTMLProcessor.elements_no_end_tag)
    # Why feeds cannot be read here (then feedparser reads them all), or None.
    UNAVAILABLE: str | None = None
except (ImportError, AttributeError) as missing:
    UNAVAILABLE = f"{type(missing).__name__}: {missing}"
    _FEEDPARSER_NAMESPACES = {}
    _NO_END_TAG = frozenset()
_unavailable_said = False


def _say_unavailable() -> None:
    """Log, once per process, that feedparser reads every feed (and why)."""
    global _unavailable_said
    if not _unavailable_said:
        _unavailable_said = True
        log.warning(
            "feedparser %s lacks what the fast feed reader replays (%s): every feed is "
            "read by feedparser itself, more slowly",
            getattr(feedparser, "__version__", "?"),
            UNAVAILABLE,
        )


@dataclass
class RawEntry:
    """One entry's fields as feedparser leaves them (its key for each in the comment)."""

    title: str = ""  # title
    link: str = ""  # link
    guid: str = ""  # id
    summary: str = ""  # summary
    contents: list[str] = field(default_factory=list)  # content[].value
    age_hours: Any = None  # nb_agehours (bundled samples only)
    published: struct_time | None = None  # published_parsed
    updated: struct_time | None = None  # updated_parsed
    created: struct_time | None = None  # created_parsed


@dataclass
class RawFeed:
    """A feed as read, before entries become `ParsedEntry`s (feedparser's result, reduced)."""

    version: str
    title: str
    entries: list[RawEntry]
    bozo: bool = False
    bozo_exception: Exception | None = None


def response_headers(content_type: str | None, base_url: str | None) -> dict[str, str]:
    """What feedparser is told of the HTTP response."""
    headers = {"content-type": content_type} if content_type else {}
    if base_url:
        headers["content-location"] = base_url
    return headers


class Unsupported(Exception):
    """Something feedparser might read differently: read the feed with feedparser."""


def read_fast(body: bytes, *, content_type: str | None, base_url: str | None) -> RawFeed | None:
    """The feed as feedparser would read it, or None where that is not certain."""
    if UNAVAILABLE is not None:
        _say_unavailable()
        return None
    if not body:
        return None
    headers = response_headers(content_type, base_url)
    result: dict[str, Any] = {}
    try:
        data = convert_to_utf8(headers, body, result)
    except Exception:  # feedparser fails the same way: let it
        return None
    if not result.get("encoding"):
        return None  # feedparser's loose parser
    version, undoctyped, entities = replace_doctype(data)
    if version or entities or undoctyped != data:
        return None  # a DOCTYPE, entity declarations
    location = headers.get("content-location", "")
    base = make_safe_absolute_uri("", location) or make_safe_absolute_uri(location) or ""
    try:
        root = etree.fromstring(data, _xml_parser())
    except etree.XMLSyntaxError:
        return None
    try:
        feed = _Reader(data, base).read(root)
    except Unsupported as why:
        log.debug("feed read with feedparser: %s", why)
        return None
    except Exception:  # a case not foreseen here: feedparser reads it as it always did
        log.warning("fast feed reading failed; reading with feedparser", exc_info=True)
        return None
    feed.bozo = bool(result.get("bozo"))
    feed.bozo_exception = result.get("bozo_exception")
    return feed


_local = threading.local()


def _xml_parser() -> Any:
    """One parser per thread (lxml parsers are not to be shared between threads)."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        # Comments and processing instructions dropped, their text's pieces joined,
        # as feedparser's SAX handler sees them.
        parser = _local.parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
    return parser


# --- feedparser's names for things -------------------------------------------------

_NAMESPACES = {uri.lower(): prefix for uri, prefix in _FEEDPARSER_NAMESPACES.items()}
_STANDARD_PREFIXES = frozenset(prefix.lower() for prefix in _NAMESPACES.values())
_USERLAND = "http://backend.userland.com/rss"
_ATOM = "http://www.w3.org/2005/atom"
_RSS10 = "http://purl.org/rss/1.0/"
_RSS090 = "http://my.netscape.com/rdf/simple/0.9/"

_PUBLISHED = frozenset({"published", "pubdate", "issued", "dcterms_issued"})
_UPDATED = frozenset({"updated", "modified", "lastbuilddate", "dc_date", "dcterms_modified"})
_CREATED = frozenset({"created", "dcterms_created"})
_DATES = _PUBLISHED | _UPDATED | _CREATED
_AGE = "nb_agehours"

# Elements whose feedparser handler cannot touch the kept fields (author details, tags,
# enclosures, rights, media thumbnails...), wherever they are.
_INERT_HANDLED = frozenset(
    """
    author dc_author dc_creator contributor name email uri url homepage category dc_subject
    enclosure rights copyright dc_rights language dc_language managingeditor webmaster
    dc_publisher generator cloud expirationdate media_thumbnail media_content media_group
    media_credit media_category width height
    """.split()
)
# ... and, as direct children of the channel or feed, the feed's own link, dates, etc.
_FEED_INERT_HANDLED = (
    _INERT_HANDLED | _DATES | frozenset({"link", "description", "subtitle", "tagline", "id"})
)
# An element without a handler is stored under its name: these names are kept fields
# (or feedparser's aliases of them).
_SENSITIVE = frozenset(
    """
    title link links id guid summary description content published_parsed updated_parsed
    created_parsed date_parsed modified_parsed issued_parsed nb_agehours
    """.split()
)
# What feedparser keeps in an image or text input element's own context.
_CONTAINED = {
    "image": frozenset({"title", "url", "link", "width", "height", "description"}),
    "textinput": frozenset({"title", "link", "description", "name"}),
}

_handler_cache: dict[str, bool] = {}


def _has_handler(key: str) -> bool:
    known = _handler_cache.get(key)
    if known is None:
        known = _handler_cache[key] = hasattr(StrictFeedParser, "_start_" + key) or hasattr(
            StrictFeedParser, "_end_" + key
        )
    return known


# --- the string pipeline of feedparser's pop() ---------------------------------------

_C1 = re.compile("[\x80-\x9f]")


def _repair(text: str) -> str:
    """feedparser's last steps on every string: undo UTF-8 read as latin-1, map cp1252."""
    if text.isascii():
        return text
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    if _C1.search(text):
        text = text.translate(_cp1252)
    return text


# HTML that feedparser's relative-URI pass (an SGML re-serialisation) may rewrite but
# whose text, as `html_to_text` reads it, it leaves alone: text, entity and character
# references, and plain tags with quoted ASCII attribute values.
_ANGLED = re.compile(r"<[^<>]*>")
_REFS = re.compile(r"&[^&]{0,40}?;|&")
_SPACE = r"[ \t\r\n\f]"
_SAFE_TAG = re.compile(
    rf"<(?P<name>[A-Za-z][A-Za-z0-9]*)"
    rf"(?:{_SPACE}+[A-Za-z_][-A-Za-z0-9_:.]*"
    rf"""(?:{_SPACE}*={_SPACE}*(?:"[^"<>&\x80-\U0010ffff]*"|'[^'<>&\x80-\U0010ffff]*'))?)*"""
    rf"{_SPACE}*(?P<slash>/?)>"
    r"|</(?P<end>[A-Za-z][A-Za-z0-9]*)>"
)
_SAFE_REF = re.compile(r"&(?:(?P<name>[A-Za-z][A-Za-z0-9]*)|#[0-9]+|#[xX][0-9A-Fa-f]+);")
_VOID = _NO_END_TAG
_NOT_TEXT_TAGS = frozenset({"script", "style", "noscript", "template"})
_ENTITY_NAMES = frozenset(html.entities.name2codepoint) | {"apos"}
_safe_pieces: set[str] = set()


def _safe_piece(piece: str) -> bool:
    if piece in _safe_pieces:
        return True
    if piece[0] == "&":
        ref = _SAFE_REF.fullmatch(piece)
        ok = ref is not None and (ref["name"] is None or ref["name"] in _ENTITY_NAMES)
    else:
        tag = _SAFE_TAG.fullmatch(piece)
        if tag is None:
            ok = False
        elif tag["end"] is not None:
            ok = tag["end"].lower() not in _VOID | _NOT_TEXT_TAGS
        else:
            name = tag["name"].lower()
            ok = name not in _NOT_TEXT_TAGS and (not tag["slash"] or name in _VOID)
    if ok and len(_safe_pieces) < 4096:
        _safe_pieces.add(piece)
    return ok


def _text_unchanged_by_resolver(markup: str) -> bool:
    """True when `html_to_text` reads the same text from `markup` as from feedparser's
    `resolve_relative_uris(markup, ...)` (given an ASCII base URI)."""
    if "<" in markup:
        tags = _ANGLED.findall(markup)
        if len(tags) != markup.count("<"):
            return False  # a "<" that starts no tag
        distinct = set(tags)
        if not distinct <= _safe_pieces and not all(_safe_piece(t) for t in distinct):
            return False
    if "&" in markup:
        refs = set(_REFS.findall(markup))
        return refs <= _safe_pieces or all(_safe_piece(ref) for ref in refs)
    return True


# --- the reader ---------------------------------------------------------------------

_XMLNS_DECLARATION = re.compile(
    rb"""xmlns(?::([A-Za-z_][-.\w]*))?\s*=\s*(?:"([^"<&]*)"|'([^'<&]*)')"""
)
_BASE_ATTRIBUTE = re.compile(rb"base\s*=")  # xml:base, BASE... (searched in lower case)
_QUERY_FIX = re.compile("&([A-Za-z0-9_]+);")
# An absolute http(s) URL that urllib's urlparse/urlunparse give back unchanged: lower
# case scheme, plain host, no params (;), no empty query or fragment, no white space.
_URL_CHARS = r"-A-Za-z0-9._~!$&'()*+,=:@%/"
_PLAIN_URL = re.compile(
    rf"https?://[A-Za-z0-9.-]+(?::[0-9]*)?(?:/[{_URL_CHARS}]*)?"
    rf"(?:\?[{_URL_CHARS}?]+)?(?:#[{_URL_CHARS}?#]+)?"
)
_RSS_VERSIONS = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}


class _Reader:
    """One document's reading: feedparser's state (depth, title lock, base URI) replayed
    over the elements that matter, in document order."""

    def __init__(self, data: bytes, base: str) -> None:
        self.data = data
        self.base = base
        self.is_atom = False
        self.title_depth = -1  # feedparser's: a title at this depth or deeper is ignored
        self.feed_title = ""
        self.entries: list[RawEntry] = []
        self.keys: dict[str, str] = {}
        self.prefixes = self._prefixes(data)
        # With xml:base, each element's base URI when it opens and when it closes.
        self.start_base: dict[Any, str] | None = None
        self.end_base: dict[Any, str] | None = None
        self.plain_urls_kept = False  # see _join

    # --- names

    @staticmethod
    def _prefixes(data: bytes) -> dict[str, str]:
        """The prefix of each namespace feedparser does not know, after checking that the
        document's prefixes leave feedparser's element names as `key` computes them
        (feedparser names an element by the first prefix declared for its namespace, and
        maps a known namespace's prefix through the document's own prefixes)."""
        found = list(_XMLNS_DECLARATION.finditer(data))
        if len(found) != data.count(b"xmlns"):
            raise Unsupported("a namespace declaration not understood")
        uri_of: dict[str | None, str] = {}
        unknown: dict[str, str] = {}  # uri -> prefix
        known_prefixes: set[str] = set()
        for match in found:
            prefix = match[1].decode() if match[1] is not None else None
            uri = (match[2] if match[2] is not None else match[3]).decode()
            if uri_of.setdefault(prefix, uri) != uri:
                raise Unsupported(f"prefix {prefix} bound to two namespaces")
            standard = _NAMESPACES.get(_standard_uri(uri))
            if standard is None:
                if prefix is None:
                    raise Unsupported("an unknown default namespace")
                if prefix.lower() in _STANDARD_PREFIXES:
                    raise Unsupported(f"feedparser's prefix {prefix} used for {uri}")
                if unknown.setdefault(uri, prefix) != prefix:
                    raise Unsupported(f"two prefixes for {uri}")
            elif prefix is not None:
                # feedparser looks standard prefixes up (lower case) among the document's
                if prefix in _STANDARD_PREFIXES and prefix != standard:
                    raise Unsupported(f"prefix {prefix} used for {uri}")
                known_prefixes.add(prefix)
        if any(prefix.lower() in known_prefixes for prefix in unknown.values()):
            raise Unsupported("a prefix used for a known and an unknown namespace")
        return unknown

    def key(self, tag: str) -> str:
        """feedparser's name for an element, as in its `_start_<name>` handlers."""
        known = self.keys.get(tag)
        if known is not None:
            return known
        if tag[0] == "{":
            uri, local = tag[1:].split("}", 1)
            prefix = _NAMESPACES.get(_standard_uri(uri))
            if prefix is None:
                prefix = self.prefixes.get(uri)
                if prefix is None:
                    raise Unsupported(f"no prefix for {uri}")
                name = f"{prefix}_{local}".lower()
            else:
                name = f"{prefix.lower()}_{local.lower()}" if prefix else local.lower()
        else:
            name = tag.lower()
        self.keys[tag] = name
        return name

    @staticmethod
    def attributes(el: Any) -> dict[str, str]:
        """The attributes as feedparser's strict parser hands them to its handlers: by
        local name, and by standard prefix and local name when the namespace is known."""
        items = el.items()
        if not items:
            return {}
        attrs: dict[str, str] = {}
        local_names = []
        for name, value in items:
            if name[0] == "{":
                uri, local = name[1:].split("}", 1)
                prefix = _NAMESPACES.get(uri.lower(), "")
                attrs[(f"{prefix}:{local}" if prefix else local).lower()] = value
            else:
                local = name
                attrs[local.lower()] = value
            local_names.append((local.lower(), value))
        for local, value in local_names:
            attrs[local] = value
        for name in ("rel", "type"):
            if name in attrs:
                attrs[name] = attrs[name].lower() or attrs[name]
        return attrs

    # --- base URIs

    def _track_bases(self, root: Any) -> None:
        """feedparser's base URI as it stands at each element's start and end. (It leaks:
        leaving an element restores the parent's base only if the parent has one.)"""
        start: dict[Any, str] = {}
        end: dict[Any, str] = {}
        current = self.base
        stack: list[str] = []
        for event, el in etree.iterwalk(root, events=("start", "end")):
            if event == "start":
                attrs = self.attributes(el)
                given = attrs.get("xml:base", attrs.get("base")) or current
                if current:
                    current = make_safe_absolute_uri(current, given) or current
                else:
                    current = _urljoin(current, given)
                if not current.isascii():
                    raise Unsupported("a base URI that is not ASCII")
                stack.append(current)
                start[el] = current
            else:
                end[el] = current
                stack.pop()
                if stack and stack[-1]:
                    current = stack[-1]
        self.start_base, self.end_base = start, end

    def _base_at_start(self, el: Any) -> str:
        return self.base if self.start_base is None else self.start_base[el]

    def _base_at_end(self, el: Any) -> str:
        return self.base if self.end_base is None else self.end_base[el]

    # --- the document

    def read(self, root: Any) -> RawFeed:
        if not self.base.isascii():
            raise Unsupported("a base URI that is not ASCII")
        if _BASE_ATTRIBUTE.search(self.data.lower()):  # faster than re.IGNORECASE
            self._track_bases(root)
        elif self.base:
            # Every element joins the base URI to itself: it must settle at once.
            settled = make_safe_absolute_uri(self.base, self.base) or self.base
            if (make_safe_absolute_uri(settled, settled) or settled) != settled:
                raise Unsupported("a base URI that changes when joined to itself")
            self.base = settled
        if self.start_base is None:  # one base for all: check once that it parses
            self.plain_urls_kept = _urljoin(self.base, "http://a/") == "http://a/"
        key = self.key(root.tag)
        declared = {uri.lower() for uri in root.nsmap.values()}
        netscape = root.nsmap.get(None, "").lower() == _RSS090
        # feedparser takes the version from the first feed namespace declared, then from
        # the root element (which always wins for <rss>).
        if key == "rss":
            given = root.get("version", "")
            version = _RSS_VERSIONS.get(given) or ("rss20" if given.startswith("2.") else "rss")
            channels = list(root)
            if len(channels) != 1 or self.key(channels[0].tag) != "channel":
                raise Unsupported("not one channel in <rss>")
            self._channel(channels[0], 2)
        elif root.tag == "{http://www.w3.org/2005/Atom}feed":
            if _RSS10 in declared or netscape:
                raise Unsupported("Atom declaring RSS namespaces")
            version, self.is_atom = "atom10", True
            self._feed_children(root, 1)
        elif key == "rdf_rdf" and _RSS10 in declared:
            if _ATOM in declared or netscape:
                raise Unsupported("RSS 1.0 declaring other feed namespaces")
            version = "rss10"
            self._rdf(root)
        else:
            raise Unsupported(f"root element {root.tag}")
        return RawFeed(version=version, title=self.feed_title, entries=self.entries)

    def _channel(self, channel: Any, depth: int) -> None:
        attrs = self.attributes(channel)
        if "lastmod" in attrs or "href" in attrs:
            raise Unsupported("channel attributes")
        self._feed_children(channel, depth)

    def _rdf(self, root: Any) -> None:
        """RSS 1.0: channel, items, image and text input side by side (outside the
        channel, feedparser stores no title but still counts it in its title lock)."""
        channels = 0
        for el in root:
            key = self.key(el.tag)
            if key == "channel":
                channels += 1
                self._channel(el, 2)
            elif key in ("item", "entry"):
                self._entry(el, 2)
            elif key in _CONTAINED:
                self._contained(el, key, 2, expecting_text=False)
            elif not self._inert(el, _INERT_HANDLED):
                raise Unsupported(f"{key} beside the channel")
        if channels != 1:
            raise Unsupported("not one channel")

    def _feed_children(self, parent: Any, depth: int) -> None:
        """The children of a channel (RSS) or feed (Atom) element at `depth`."""
        depth += 1
        for el in parent:
            key = self.key(el.tag)
            if key in ("title", "dc_title"):
                value = self._title(el, depth)
                if value is not None:
                    self.feed_title = value
            elif key in ("item", "entry"):
                self._entry(el, depth)
            elif key in _CONTAINED:
                self._contained(el, key, depth, expecting_text=True)
            elif not self._inert(el, _FEED_INERT_HANDLED):
                raise Unsupported(f"feed element {key}")

    def _inert(self, el: Any, handled: frozenset[str]) -> bool:
        """True if feedparser's handling of `el` and all inside it leaves the kept fields
        and the state they depend on as they were."""
        key = self.key(el.tag)
        if not (key in handled or (not _has_handler(key) and key not in _SENSITIVE)):
            return False
        return all(self._inert(child, _INERT_HANDLED) for child in el)

    def _contained(self, el: Any, key: str, depth: int, *, expecting_text: bool) -> None:
        """An image or text input: its title goes to its own context, but resets and
        then sets feedparser's title lock."""
        self.title_depth = -1
        for child in el:
            name = self.key(child.tag)
            if name not in _CONTAINED[key]:
                raise Unsupported(f"{name} in {key}")
            if name == "title":
                self._title(child, depth + 1, expecting_text=expecting_text)
            elif len(child):
                raise Unsupported(f"markup in {key}")

    # --- text elements

    @staticmethod
    def _text(el: Any) -> str:
        if len(el):
            raise Unsupported(f"markup in {el.tag}")
        text: str = el.text or ""
        return text

    def _content(self, el: Any, element: str, default_type: str, *, for_text: bool) -> str:
        """A text construct (title, summary, content) as feedparser's pop() leaves it.

        `for_text`: only `html_to_text` reads the value, so HTML whose text feedparser's
        relative-URI pass (an SGML re-serialisation) leaves alone can skip that pass.
        """
        attrs = self.attributes(el)
        if attrs.get("mode") == "base64" or "src" in attrs:
            raise Unsupported("base64 or out-of-line content")
        content_type = _map_content_type(attrs.get("type", default_type))
        if content_type not in ("text/plain", "text/html"):
            raise Unsupported(f"content of type {content_type}")
        value = self._text(el).strip()
        if (
            not self.is_atom
            and content_type == "text/plain"
            and ("<" in value or "&" in value)  # without either it cannot look like HTML
            and _looks_like_html(value)
        ):
            content_type = "text/html"
        if (
            content_type == "text/html"
            and element in _CAN_CONTAIN_RELATIVE_URIS
            and not (for_text and _text_unchanged_by_resolver(value))
        ):
            value = resolve_relative_uris(value, self._base_at_end(el), "utf-8", content_type)
        return _repair(value)

    def _title(
        self, el: Any, depth: int, *, for_text: bool = False, expecting_text: bool = True
    ) -> str | None:
        """The title's value if feedparser stores it; None while an earlier one holds."""
        value = self._content(el, "title", "text/plain", for_text=for_text)
        stored = expecting_text and not (-1 < self.title_depth <= depth)
        if value:
            self.title_depth = depth
        return value if stored else None

    def _plain(self, el: Any, *, resolve: bool = False) -> str:
        """A plain element's value (link, guid, date...) as feedparser's pop() leaves it."""
        value = self._text(el).strip()
        if resolve and value:
            value = self._join(self._base_at_end(el), value)
        return _repair(value)

    def _join(self, base: str, uri: str) -> str:
        """feedparser's `_urljoin(base, uri)`, without the call for a plain absolute URL
        (which urljoin gives back as it is, whatever the base, once the base parses)."""
        if self.plain_urls_kept and _PLAIN_URL.fullmatch(uri):
            return uri
        joined: str = _urljoin(base or "", uri)
        return joined

    # --- entries

    def _entry(self, item: Any, depth: int) -> None:
        entry = RawEntry()
        self.entries.append(entry)
        self.title_depth = -1
        attrs = self.attributes(item)
        if "lastmod" in attrs or "href" in attrs:
            raise Unsupported("item attributes")
        about = attrs.get("rdf:about")
        if about:
            entry.guid = about
        has_link = has_summary = has_content = False
        depth += 1
        for el in item:
            key = self.key(el.tag)
            if key in ("title", "dc_title"):
                title = self._title(el, depth, for_text=True)
                if title is not None:
                    entry.title = title
            elif key == "link":
                link = self._link(el)
                if link is not None:
                    entry.link, has_link = link, True
            elif key in ("guid", "id"):
                is_link = self.attributes(el).get("ispermalink", "true") == "true"
                entry.guid = self._plain(el, resolve=is_link)
                if is_link and not has_link:  # a permalink guid is the link until one comes
                    entry.link, has_link = entry.guid, True
            elif key in ("description", "dc_description", "summary"):
                if has_summary and not has_content:
                    raise Unsupported("a second summary (feedparser makes it content)")
                default = "text/plain" if key == "summary" else "text/html"
                entry.summary = self._content(el, "description", default, for_text=True)
                has_summary = True
            elif key in ("content_encoded", "content"):
                default = "text/html" if key == "content_encoded" else "text/plain"
                value = self._content(el, "content", default, for_text=True)
                entry.contents.append(value)
                has_content = True
                if not has_summary:  # content stands in for a missing summary
                    entry.summary, has_summary = value, True
            elif key in _DATES:
                stamp = _parse_date(self._plain(el))
                if key in _PUBLISHED:
                    entry.published = stamp
                elif key in _UPDATED:
                    entry.updated = stamp
                else:
                    entry.created = stamp
            elif key == _AGE:
                if el.items():
                    raise Unsupported("nb:ageHours with attributes")
                entry.age_hours = self._plain(el)
            elif not self._inert(el, _INERT_HANDLED):
                raise Unsupported(f"entry element {key}")

    def _link(self, el: Any) -> str | None:
        """The entry's link as this element leaves it; None if it sets none."""
        attrs = self.attributes(el)
        attrs.setdefault("rel", "alternate")
        attrs.setdefault("type", "application/atom+xml" if attrs["rel"] == "self" else "text/html")
        attrs = _enforce_href(attrs)
        if "href" in attrs:  # Atom: the text, if any, is not read
            if len(el):
                raise Unsupported("markup in a link")
            href = self._join(self._base_at_start(el), attrs["href"])
            if attrs["rel"] == "alternate" and _map_content_type(attrs["type"]) in _HTML_TYPES:
                return href
            return None
        # feedparser undoes what it takes for mangled query strings ("?a=1&b;=2").
        link = self._plain(el, resolve=True)
        if "&" in link:
            link = _QUERY_FIX.sub(r"&\g<1>", link.replace("&amp;", "&"))
        return link


def _standard_uri(uri: str) -> str:
    lower = uri.lower()
    return _USERLAND if "backend.userland.com/rss" in lower else lower

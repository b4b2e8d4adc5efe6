"""The lxml fast path reads a feed exactly as feedparser does, or leaves it to feedparser.

Differential: every feed here is parsed both ways (`parse_feed_fast`, and
`parse_feed_with_feedparser`, the reference) and the results compared field for field.
Both are `parse_feed` with one reader each.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import random
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from feedparser.urls import _urljoin, resolve_relative_uris

import bot.config
import bot.ingest.parse
from bench.scale_corpus import Corpus, rss
from bot.domain import FeedError
from bot.ingest import fastparse
from bot.ingest.parse import ParsedFeed, parse_feed, parsed_feed, read_with_feedparser
from bot.text import html_to_text
from tests.ingest.feeds import RSS_TYPE, rss_feed, rss_item
from tests.ingest.test_parse import AGED, ATOM

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ATOM_TYPE = "application/atom+xml"
SITE = "https://site.example/feeds/rss.xml"
SAMPLES = sorted(Path(bot.config.SAMPLES_DIR).glob("*.xml"))


Options = dict[str, Any]  # parse_feed's keyword arguments but `now`


def parse_feed_fast(
    body: bytes, *, now: datetime, sample_ages: bool = False, **where: Any
) -> ParsedFeed | None:
    """`parse_feed` by the lxml reader alone; None where it leaves the feed to feedparser."""
    raw = fastparse.read_fast(
        body, content_type=where.get("content_type"), base_url=where.get("base_url")
    )
    return None if raw is None else parsed_feed(raw, now, sample_ages)


def parse_feed_with_feedparser(
    body: bytes, *, now: datetime, sample_ages: bool = False, **where: Any
) -> ParsedFeed:
    """`parse_feed` by feedparser alone: the reference the lxml reader must match."""
    raw = read_with_feedparser(
        body, content_type=where.get("content_type"), base_url=where.get("base_url")
    )
    return parsed_feed(raw, now, sample_ages)


def outcome(parse: Callable[..., ParsedFeed | None], body: bytes, options: Options) -> object:
    """What a parse function makes of the feed; a FeedError as its message."""
    try:
        return parse(body, now=NOW, **options)
    except FeedError as exc:
        return f"FeedError: {exc}"


def assert_fast_path_matches(body: bytes, **options: Any) -> ParsedFeed:
    fast = outcome(parse_feed_fast, body, options)
    assert fast is not None, "the fast path left this feed to feedparser"
    assert fast == outcome(parse_feed_with_feedparser, body, options)
    assert isinstance(fast, ParsedFeed)
    return fast


def assert_left_to_feedparser(body: bytes, **options: Any) -> None:
    assert parse_feed_fast(body, now=NOW, **options) is None
    assert outcome(parse_feed, body, options) == outcome(parse_feed_with_feedparser, body, options)


# --- the bundled samples and the feeds other tests use ---------------------------------


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
@pytest.mark.parametrize(
    "options",
    [
        {"content_type": None, "sample_ages": True},
        {"content_type": None},
        {"content_type": RSS_TYPE, "base_url": SITE},
        {"content_type": None, "base_url": SITE},  # feedparser notes the missing type
    ],
    ids=["as-sample", "local", "served", "served-untyped"],
)
def test_bundled_samples_read_the_same(path: Path, options: Options) -> None:
    """Each bundled sample gives on the fast path what feedparser gives, dates and all."""
    fast = assert_fast_path_matches(path.read_bytes(), **options)
    assert len(fast.entries) == 9


def _long_item_feed() -> bytes:
    long_html = "<p>" + " ".join(["word"] * 120) + "</p><p>End.</p>"
    return (
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>T</title>'
        "<item><title>Long</title><link>https://t.example/long</link>"
        "<description>Short.</description>"
        f"<content:encoded><![CDATA[{long_html}]]></content:encoded></item>"
        "<item><title>Short</title><link>https://t.example/short</link>"
        "<description>&lt;b&gt;Only&lt;/b&gt; a line.</description></item>"
        "</channel></rss>"
    ).encode()


LATIN1 = rss_feed(
    rss_item("Élection à Zürich: façade", "https://e.example/1"),
    title="Café Crème",
    encoding="ISO-8859-1",
)
BAD_BYTES = rss_feed(rss_item("Caf\ufffd au lait", "https://b.example/1", guid="b-1")).replace(
    "\ufffd".encode(), b"\xe9\xff\xfe"
)
LINK = "https://dup.example/port-strike?id=7"

FIXTURES = {
    # tests/ingest/test_parse.py
    "atom": (ATOM, ATOM_TYPE, None),
    "aged": (AGED, RSS_TYPE, None),
    "dated": (
        rss_feed(rss_item("D", "https://d.example/1", pub_date="Sat, 28 Feb 2026 08:15:00 +0100")),
        RSS_TYPE,
        None,
    ),
    "far-and-near-future": (
        rss_feed(
            rss_item("Far", "https://f.example/far", pub_date="Fri, 01 Jan 2100 00:00:00 GMT"),
            rss_item("Near", "https://f.example/near", pub_date="Sun, 01 Mar 2026 12:30:00 GMT"),
        ),
        RSS_TYPE,
        None,
    ),
    "undated": (rss_feed(rss_item("Undated", "https://u.example/1")), RSS_TYPE, None),
    "linkless": (
        rss_feed(
            rss_item("Linkless", None, guid="not-a-url"), rss_item("Linked", "https://l.example/1")
        ),
        RSS_TYPE,
        None,
    ),
    "guid-only": (
        rss_feed(
            "<item><title>Guid only</title><guid>https://g.example/post</guid>"
            "<description>d</description></item>"
        ),
        RSS_TYPE,
        None,
    ),
    "full-text-threshold": (_long_item_feed(), RSS_TYPE, None),
    "latin-1": (LATIN1, RSS_TYPE, None),
    "latin-1-as-text-xml": (LATIN1, "text/xml", None),
    "latin-1-untyped": (LATIN1, None, None),
    "bad-utf8": (BAD_BYTES, RSS_TYPE, None),
    "bad-utf8-text-xml": (BAD_BYTES, "text/xml; charset=utf-8", None),
    "empty-feed": (rss_feed(title="Quiet"), RSS_TYPE, None),
    "empty-latin-1-feed": (rss_feed(title="Café vide", encoding="ISO-8859-1"), "text/xml", None),
    "relative-links": (
        rss_feed(rss_item("Rel", "/articles/1"), rss_item("Rel2", "posts/2")),
        RSS_TYPE,
        SITE,
    ),
    "relative-links-no-base": (
        rss_feed(rss_item("Rel", "/articles/1"), rss_item("Rel2", "posts/2")),
        RSS_TYPE,
        None,
    ),
    "script-in-description": (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item>'
        b"<title>Port reopens</title><link>https://example.com/a</link><description>"
        b"&lt;p&gt;Ships move.&lt;/p&gt;&lt;script&gt;steal(document.cookie)&lt;/script&gt;"
        b"&lt;style&gt;.x{}&lt;/style&gt;</description></item></channel></rss>",
        RSS_TYPE,
        None,
    ),
    # tests/ingest/test_ingest_service.py
    "service-feed-a": (
        rss_feed(
            rss_item("Port strike ends", LINK, guid="a-1", description="Dockers return."),
            rss_item("Only in A", "https://dup.example/a-only", guid="a-2"),
            title="Feed A",
        ),
        RSS_TYPE,
        "http://127.0.0.1:8123/a.xml",
    ),
    "service-feed-b": (
        rss_feed(
            rss_item(
                "Port strike is over after nine days",
                f"{LINK}&utm_source=rss&utm_medium=feed&utm_campaign=b#top",
                guid="b-77",
                description="The dockers' strike has ended.",
            ),
            title="Feed B",
        ),
        RSS_TYPE,
        "http://127.0.0.1:8123/b.xml",
    ),
    "service-relative-story": (
        rss_feed(rss_item("Story A", "story.html", guid="s", description="Short A.")),
        RSS_TYPE,
        "http://127.0.0.1:8123/a/feed.xml",
    ),
    "service-long-description": (
        rss_feed(rss_item("Already whole", "http://p.example/", guid="w", description="x " * 130)),
        RSS_TYPE,
        "http://127.0.0.1:8123/full.xml",
    ),
    "service-file-link": (
        rss_feed(rss_item("Local link", "file:///etc/secret", guid="l", description="Teaser.")),
        RSS_TYPE,
        "http://127.0.0.1:8123/feed.xml",
    ),
    # tests/test_cli.py
    "cli-extra": (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Extra</title>'
        b"<item><title>Zeppelin racing returns</title><link>https://extra.example/z</link>"
        b"<description>Airships race over the lake again.</description></item>"
        b"</channel></rss>",
        None,
        None,
    ),
}


@pytest.mark.parametrize("name", list(FIXTURES))
@pytest.mark.parametrize("sample_ages", [False, True], ids=["", "ages"])
def test_feeds_of_other_tests_read_the_same(name: str, sample_ages: bool) -> None:
    """The feeds the parse, ingest and CLI tests use give the same result on the fast path."""
    body, content_type, base_url = FIXTURES[name]
    assert_fast_path_matches(
        body, content_type=content_type, base_url=base_url, sample_ages=sample_ages
    )


# --- the bench corpus ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def bench_feeds() -> list[bytes]:
    corpus = Corpus()
    rng = random.Random(99)
    feeds = []
    for feed in range(3):
        pieces = [corpus.piece(rng) for _ in range(20)]
        times = sorted(
            (NOW - timedelta(seconds=rng.random() * 24 * 3600) for _ in pieces), reverse=True
        )
        feeds.append(rss("http://127.0.0.1:8080", "bench", feed, pieces, times))
    return feeds


def test_bench_corpus_feeds_read_the_same(bench_feeds: list[bytes]) -> None:
    """The synthetic feeds bench_scale serves give the same 20 entries on the fast path."""
    for body in bench_feeds:
        fast = assert_fast_path_matches(
            body, content_type=RSS_TYPE, base_url="http://127.0.0.1:8080/bench/0.xml"
        )
        assert len(fast.entries) == 20
        assert all(e.is_full_text and e.published_at for e in fast.entries)


# --- tricky feeds, written by hand ---------------------------------------------------------

RSS_HEAD = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:nb="urn:newsbrief:sample" '
    'xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
)
RSS_TAIL = "</channel></rss>"


def rss_doc(channel: str) -> bytes:
    return (RSS_HEAD + channel + RSS_TAIL).encode()


def atom_doc(body: str, attributes: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<feed xmlns="http://www.w3.org/2005/Atom"{attributes}>{body}</feed>'
    ).encode()


TRICKY = {
    "xml-base-relative-links": (
        rss_doc(
            '<title>Based</title><item xml:base="http://base.example/dir/">'
            "<title>One</title><link>../up/1</link><guid>g/1</guid></item>"
            "<item><title>Two</title><link>two</link></item>"  # feedparser's base leaks here
            '<item><title>Three</title><link xml:base="https://other.example/x/">y</link></item>'
        ),
        None,
    ),
    "xml-base-with-feed-url": (
        rss_doc(
            '<title>Based</title><item xml:base="sub/"><title>One</title><link>a</link></item>'
            "<item><title>Two</title><link>b</link></item>"
        ),
        SITE,
    ),
    "upper-case-base": (  # feedparser lower-cases attribute names
        rss_doc(
            '<title>Up</title><item BASE="http://up.example/d/"><title>U</title><link>u</link></item>'
        ),
        SITE,
    ),
    "atom-xml-base": (
        atom_doc(
            "<title>A</title><id>urn:f</id>"
            '<entry xml:base="https://atom.example/posts/"><title>E</title>'
            '<link href="1"/><id>e1</id><updated>2026-02-28T10:00:00Z</updated></entry>'
            '<entry><title>F</title><link href="/2" xml:base="http://x.example/a/"/></entry>',
            ' xml:base="http://feed.example/root/"',
        ),
        None,
    ),
    "cdata": (
        rss_doc(
            "<title><![CDATA[Feed <i>with</i> CDATA]]></title><item>"
            "<title><![CDATA[AT&T <b>buys</b> a port]]></title><link>https://c.example/1</link>"
            "<description><![CDATA[<p>One &amp; two</p><p>three</p>]]></description></item>"
        ),
        None,
    ),
    "entities": (
        rss_doc(
            "<title>News &amp;amp; Views &#8217;24</title><item>"
            "<title>Q&amp;amp;A: it&#8217;s &#150; &quot;fine&quot;</title>"
            "<link>https://e.example/?a=1&amp;b=2&amp;amp;c=3</link>"
            "<description>Caf&#233; &amp;copy 2024 &amp;nbsp;&amp;foo; AT&amp;T &#x27;x&#x27;"
            "</description></item>"
        ),
        None,
    ),
    "html-in-titles": (
        rss_doc(
            "<title>&lt;b&gt;Bold&lt;/b&gt; feed</title><item>"
            '<title>&lt;em&gt;Markup&lt;/em&gt; in &lt;a href="/x"&gt;title&lt;/a&gt;</title>'
            "<link>https://h.example/1</link></item>"
            "<item><title>Not &lt;html&gt; really</title><link>https://h.example/2</link></item>"
        ),
        SITE,
    ),
    "atom-html-and-text": (
        atom_doc(
            '<title type="html">Atom &amp;amp; &lt;i&gt;HTML&lt;/i&gt;</title><id>urn:f</id>'
            '<entry><title type="html">&lt;b&gt;Hi&lt;/b&gt; there</title>'
            '<link href="https://a.example/1"/><id>urn:e1</id>'
            '<summary type="text">&lt;b&gt;not bold&lt;/b&gt; text</summary>'
            '<content type="html">&lt;p&gt;Para one.&lt;/p&gt;&lt;p&gt;Two&lt;/p&gt;</content>'
            "<published>2026-02-27T08:00:00+02:00</published></entry>"
            '<entry><title type="text">Plain &lt;tag&gt;</title><link href="/rel"/>'
            '<id>tag:a.example,2026:2</id><content type="text">A &amp;amp; B</content></entry>'
        ),
        "https://a.example/atom.xml",
    ),
    "dc-dates-missing-and-future": (
        rss_doc(
            "<title>Dates</title>"
            "<item><title>dc</title><link>https://d.example/1</link>"
            "<dc:date>2026-02-28T09:30:00Z</dc:date></item>"
            "<item><title>none</title><link>https://d.example/2</link></item>"
            "<item><title>future</title><link>https://d.example/3</link>"
            "<pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item>"
            "<item><title>bad then good</title><link>https://d.example/4</link>"
            "<pubDate>not a date</pubDate><dc:date>2026-02-01</dc:date></item>"
            "<item><title>two</title><link>https://d.example/5</link>"
            "<pubDate>Sun, 01 Mar 2026 08:00:00 GMT</pubDate>"
            "<pubDate>Sun, 01 Mar 2026 09:00:00 GMT</pubDate></item>"
        ),
        None,
    ),
    "guids-and-links": (
        rss_doc(
            "<title>Guids</title>"
            '<item><title>p-false</title><guid isPermaLink="false">g1</guid></item>'
            "<item><title>permalink guid, no link</title><guid>/post/2</guid></item>"
            "<item><title>guid then link</title><guid>https://g.example/3</guid>"
            "<link>https://l.example/3</link></item>"
            '<item><title>True</title><guid isPermaLink="True">rel/4</guid></item>'
            "<item><title>empty link</title><link></link><guid>https://g.example/5</guid></item>"
            "<item><title>blank link</title><link>  \n </link></item>"
            "<item><description>no title, no link</description></item>"
            '<item><atom:link rel="alternate" href="/alt/7"/><title>atom link</title>'
            '<atom:link rel="self" href="/self/7"/></item>'
        ),
        SITE,
    ),
    "odd-prefixes": (
        b'<?xml version="1.0"?><rss version="2.0" '
        b'xmlns:c="http://purl.org/rss/1.0/modules/content/" '
        b'xmlns:dublin="http://purl.org/dc/elements/1.1/" xmlns:NB="urn:newsbrief:sample" '
        b'xmlns:x="urn:other"><channel><title>Odd</title><item><title>Odd</title>'
        b"<link>https://o.example/1</link><dublin:date>2026-02-01T00:00:00Z</dublin:date>"
        b"<NB:ageHours>2</NB:ageHours><x:extra>z</x:extra>"
        b"<c:encoded>&lt;p&gt;Encoded.&lt;/p&gt;</c:encoded></item></channel></rss>",
        None,
    ),
    "atom-prefixed": (
        b'<?xml version="1.0"?><a:feed xmlns:a="http://www.w3.org/2005/Atom"><a:title>P</a:title>'
        b'<a:entry><a:title>E</a:title><a:link href="https://p.example/1"/>'
        b"<a:id>urn:p1</a:id><a:summary>S</a:summary></a:entry></a:feed>",
        None,
    ),
    "content-longer-and-shorter": (
        rss_doc(
            "<title>Lengths</title>"
            "<item><title>longer</title><link>https://l.example/1</link>"
            "<description>Short teaser.</description>"
            "<content:encoded>&lt;p&gt;A much longer body, which wins.&lt;/p&gt;</content:encoded>"
            "</item><item><title>shorter</title><link>https://l.example/2</link>"
            "<content:encoded>&lt;p&gt;Stub&lt;/p&gt;</content:encoded>"
            "<description>A description longer than the content.</description></item>"
            "<item><title>content only</title><link>https://l.example/3</link>"
            "<content:encoded>Only content.</content:encoded>"
            "<content:encoded>Second, longer content.</content:encoded></item>"
            "<item><title>non-ASCII summary</title><link>https://l.example/4</link>"
            "<description>Caf&#233; &#8220;longer&#8221; than it</description>"
            "<content:encoded>Tiny</content:encoded></item>"
            # the first content stands in for the summary: its text is the longer one
            "<item><title>first content</title><link>https://l.example/5</link>"
            "<content:encoded>Plain text that reads longer.</content:encoded>"
            "<content:encoded>" + "&lt;b&gt;&lt;/b&gt;" * 9 + "Short</content:encoded></item>"
        ),
        None,
    ),
    "titles": (
        rss_doc(
            "<image><title>Image title first</title><url>/i.png</url><link>/</link></image>"
            "<title>  Channel\n  title  </title>"
            "<item><title></title><title>Second wins</title><link>https://t.example/1</link></item>"
            "<item><title>First</title><title>Second ignored</title>"
            "<link>https://t.example/2</link></item>"
            "<item><link>https://t.example/3</link><description>Words for a title "
            "when there is none at all here</description></item>"
            "<item><title>Comment <!-- dropped --> joined</title>"
            "<link>https://t.example/4</link></item>"
        ),
        None,
    ),
    "mojibake-and-cp1252": (
        rss_doc(
            "<title>Caf\u00c3\u00a9</title><item><title>Ca\u00c3\u00a7a \u0096 dash</title>"
            "<link>https://m.example/1</link><description>\u00c2\u00a3 5m &#151;</description>"
            "</item>"
        ),
        None,
    ),
    "harmless-extras": (
        rss_doc(
            "<title>Extras</title><language>en</language><ttl>5</ttl>"
            '<atom:link rel="self" href="https://x.example/feed"/>'
            "<item><title>Extras</title><link>https://x.example/1</link>"
            '<category domain="d">C</category><author>a@x.example (A)</author>'
            "<dc:creator>Someone</dc:creator><comments>https://x.example/1#c</comments>"
            '<enclosure url="https://x.example/1.mp3" length="1" type="audio/mpeg"/>'
            '<media:thumbnail xmlns:media="http://search.yahoo.com/mrss/" url="t.png"/></item>'
        ),
        None,
    ),
    "rss-1.0": (
        b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        b'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        b'<channel rdf:about="https://r.example/"><title>RDF</title><link>https://r.example/</link>'
        b"<description>d</description><items><rdf:Seq>"
        b'<rdf:li rdf:resource="https://r.example/1"/></rdf:Seq></items></channel>'
        b'<image rdf:about="https://r.example/i.png"><title>Img</title>'
        b"<url>https://r.example/i.png</url><link>https://r.example/</link></image>"
        b'<item rdf:about="https://r.example/1"><title>One</title>'
        b"<link>https://r.example/1</link><dc:date>2026-02-28T10:00:00Z</dc:date>"
        b"<description>First.</description></item>"
        b'<item rdf:about="https://r.example/2"><title>Two</title>'
        b"<description>No link: rdf:about is only the guid.</description></item>"
        b"</rdf:RDF>",
        None,
    ),
    "sloppy-html": (
        rss_doc(
            "<title>Sloppy</title><item><title>Sloppy</title><link>https://s.example/1</link>"
            '<description>&lt;p/&gt;odd&lt;/br&gt;x &lt;span title="a&gt;b"&gt;t&lt;/span&gt;'
            " a &lt; b &lt;!-- c --&gt; &lt;P&gt;UP&lt;BR/&gt;&lt;/P&gt;&amp;notit; &amp;foo;"
            "</description></item>"
        ),
        SITE,
    ),
}


@pytest.mark.parametrize("name", list(TRICKY))
@pytest.mark.parametrize("sample_ages", [False, True], ids=["", "ages"])
def test_tricky_feeds_read_the_same(name: str, sample_ages: bool) -> None:
    """Hand-written feeds with every construct feedparser treats specially read the same."""
    body, base_url = TRICKY[name]
    for content_type in (RSS_TYPE, None):
        assert_fast_path_matches(
            body, content_type=content_type, base_url=base_url, sample_ages=sample_ages
        )


FALLBACKS = {
    "not-xml": b"not xml at all",
    "empty": b"",
    "html-page": b"<html><head><title>Hi</title></head><body><p>A web page</p></body></html>",
    "truncated": b"<rss><channel><item><title>broken",
    "truncated-item": rss_feed(rss_item("First", "https://c.example/1"))[:-30],
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "doctype-entities": (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY co "Company">]><rss version="2.0">'
        b"<channel><title>&co;</title><item><title>&co; news</title>"
        b"<link>https://d.example/1</link></item></channel></rss>"
    ),
    "external-entity": (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<rss version="2.0"><channel><title>&x;</title></channel></rss>'
    ),
    "undefined-entity": rss_doc("<title>A&nbsp;B</title>"),
    "atom-xhtml": atom_doc(
        '<title>X</title><entry><title>E</title><link href="https://x.example/1"/>'
        '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Hi</p></div>'
        "</content></entry>"
    ),
    "atom-base64": atom_doc(
        '<title>B</title><entry><title>E</title><link href="https://x.example/1"/>'
        '<content type="application/octet-stream">aGk=</content></entry>'
    ),
    "itunes-summary": rss_doc(
        "<title>Pod</title><item><title>E</title><link>https://p.example/1</link>"
        '<itunes:summary xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">S'
        "</itunes:summary><description>D</description></item>"
    ),
    "media-title": rss_doc(
        "<title>M</title><item><link>https://m.example/1</link>"
        '<media:title xmlns:media="http://search.yahoo.com/mrss/">Media</media:title></item>'
    ),
    "source": rss_doc(
        "<title>S</title><item><title>E</title><link>https://s.example/1</link>"
        '<source url="https://o.example/rss">Other</source></item>'
    ),
    "two-descriptions": rss_doc(
        "<title>D</title><item><title>E</title><link>https://d.example/1</link>"
        "<description>One</description><description>Two, made content</description></item>"
    ),
    "markup-in-title": rss_doc(
        "<title>M</title><item><title>Un<b>escaped</b></title><link>https://m.example/1</link>"
        "</item>"
    ),
    "unknown-root": b'<?xml version="1.0"?><opml version="2.0"><body/></opml>',
    "unknown-default-namespace": (
        b'<?xml version="1.0"?><rss version="2.0" xmlns="urn:not-rss"><channel><title>N</title>'
        b"<item><title>E</title><link>https://n.example/1</link></item></channel></rss>"
    ),
    "prefix-of-feedparser-for-other-namespace": rss_doc(
        '<title>P</title><item xmlns:dc="urn:not-dc"><title>E</title>'
        "<link>https://p.example/1</link><dc:date>2026-01-01T00:00:00Z</dc:date></item>"
    ),
}


@pytest.mark.parametrize("name", list(FALLBACKS))
def test_what_the_fast_path_does_not_handle_goes_to_feedparser(name: str) -> None:
    """What the fast path does not reproduce it declines, and parse_feed gives feedparser's."""
    assert_left_to_feedparser(FALLBACKS[name], content_type=RSS_TYPE, base_url=SITE)


def test_parse_feed_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """parse_feed reads a well-formed feed without feedparser at all."""

    def no_feedparser(*args: object, **kwargs: object) -> None:
        raise AssertionError("feedparser was called")

    monkeypatch.setattr(bot.ingest.parse.feedparser, "parse", no_feedparser)
    feed = parse_feed(SAMPLES[0].read_bytes(), content_type=None, now=NOW, sample_ages=True)
    assert len(feed.entries) == 9


# --- a feedparser without the internals the fast path replays -----------------------

# The private names fastparse reads from feedparser (pinned only below 7), by owner:
# a module, or "module:class".
PRIVATE_NAMES = [
    ("feedparser.datetimes", "_parse_date"),
    ("feedparser.html", "_BaseHTMLProcessor"),
    ("feedparser.html", "_cp1252"),
    ("feedparser.mixin", "_FeedParserMixin"),
    ("feedparser.mixin:_FeedParserMixin", "_enforce_href"),
    ("feedparser.urls", "_urljoin"),
]


def _fastparse_without(monkeypatch: pytest.MonkeyPatch, owner: str, name: str) -> Any:
    """A fresh copy of bot/ingest/fastparse.py, imported while feedparser lacks `name`
    (the module in use stays as it is); feedparser is whole again on return."""
    module_name, _, class_name = owner.partition(":")
    holder: Any = importlib.import_module(module_name)
    if class_name:
        holder = getattr(holder, class_name)
    spec = importlib.util.spec_from_file_location("fastparse_copy", fastparse.__file__)
    assert spec is not None and spec.loader is not None
    copy = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "fastparse_copy", copy)
    with monkeypatch.context() as patched:
        patched.delattr(holder, name)
        spec.loader.exec_module(copy)
    return copy


@pytest.mark.parametrize("owner, name", PRIVATE_NAMES, ids=[n for _, n in PRIVATE_NAMES])
def test_without_feedparsers_private_names_feeds_are_read_by_feedparser(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, owner: str, name: str
) -> None:
    """A feedparser release without one of the names: fastparse still imports, says so
    once, and parse_feed reads every feed through feedparser, with feedparser's result."""
    copy = _fastparse_without(monkeypatch, owner, name)
    assert copy.UNAVAILABLE is not None and name in copy.UNAVAILABLE
    monkeypatch.setattr(bot.ingest.parse, "read_fast", copy.read_fast)
    caplog.set_level(logging.WARNING, logger=copy.__name__)
    samples = [(p.read_bytes(), None, None) for p in SAMPLES]
    for body, content_type, base_url in samples + list(FIXTURES.values()):
        options = {"content_type": content_type, "base_url": base_url}
        assert copy.read_fast(body, **options) is None
        read = outcome(parse_feed, body, options)
        assert read == outcome(parse_feed_with_feedparser, body, options)
        if (body, content_type, base_url) in samples:
            assert isinstance(read, ParsedFeed) and len(read.entries) == 9
    said = [r for r in caplog.records if "every feed is read by feedparser" in r.getMessage()]
    assert len(said) == 1 and name in said[0].getMessage()


# --- random feeds -----------------------------------------------------------------------

TEXTS = [
    "Plain words",
    "  padded \n text ",
    "AT&amp;T",
    "Q&amp;amp;A",
    "it&#8217;s &#150; done",
    "caf\u00e9 \u00a3",
    "Caf\u00c3\u00a9",
    "&lt;b&gt;Bold&lt;/b&gt; &lt;p&gt;a&lt;/p&gt;&lt;p&gt;b&lt;/p&gt;",
    "&lt;a href=\"rel/x\"&gt;link&lt;/a&gt; &lt;img src='i.png'/&gt;",
    "&lt;p/&gt;&lt;/br&gt;&amp;notit;",
    "<![CDATA[<p>CDATA <b>html</b> &amp; more</p>]]>",
    "",
    "x<!--c-->y",
    " ".join(["word"] * 125),
]
URLS = ["https://a.example/p/1", "/rel/2", "rel/3", "http://b.example/x?a=1&amp;b=2", "", "urn:u:1"]
DATES = ["Sun, 01 Mar 2026 08:15:00 +0100", "2026-02-28T09:30:00Z", "2100-01-01T00:00:00Z", "junk"]


def _random_item(rng: random.Random, atom: bool) -> str:
    def base() -> str:
        return rng.choice(["", "", "", ' xml:base="http://b.example/d/"', ' xml:base="s/"'])

    text_type = ["", ' type="html"', ' type="text"'] if atom else [""]
    guid, date = ("id", "updated") if atom else ("guid", "pubDate")
    pool = [
        lambda: f"<title{rng.choice(text_type)}{base()}>{rng.choice(TEXTS)}</title>",
        lambda: (
            f'<link{base()} href="{rng.choice(URLS)}"/>'
            if atom
            else f"<link{base()}>{rng.choice(URLS)}</link>"
        ),
        lambda: f"<{guid}{base()}>{rng.choice([*URLS, 'g-1'])}</{guid}>",
        lambda: (
            f"<summary{rng.choice(text_type)}>{rng.choice(TEXTS)}</summary>"
            if atom
            else f"<description{base()}>{rng.choice(TEXTS)}</description>"
        ),
        lambda: (
            f"<content{rng.choice(text_type)}>{rng.choice(TEXTS)}</content>"
            if atom
            else f"<content:encoded>{rng.choice(TEXTS)}</content:encoded>"
        ),
        lambda: f"<{date}>{rng.choice(DATES)}</{date}>",
        lambda: "" if atom else f"<nb:ageHours>{rng.choice(['3', 'x', ''])}</nb:ageHours>",
        lambda: "<category>c</category>",
    ]
    parts = [make() for make in rng.sample(pool, rng.randint(0, len(pool)))]
    tag = "entry" if atom else "item"
    return f"<{tag}{base()}>{''.join(parts)}</{tag}>"


def random_feeds(seed: int, count: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    for _ in range(count):
        atom = rng.random() < 0.35
        title = f"<title>{rng.choice(TEXTS)}</title>" if rng.random() < 0.9 else ""
        items = "".join(_random_item(rng, atom) for _ in range(rng.randint(0, 4)))
        if atom:
            yield atom_doc(title + items)
        else:
            yield rss_doc(title + items if rng.random() < 0.8 else items + title)


def test_random_feeds_read_the_same() -> None:
    """On random feeds mixing these constructs the fast path, nearly always taken, agrees."""
    taken = 0
    for number, body in enumerate(random_feeds(seed=11, count=250)):
        options = {"content_type": RSS_TYPE, "base_url": (None, SITE)[number % 2]}
        fast = parse_feed_fast(body, now=NOW, sample_ages=True, **options)
        if fast is not None:
            taken += 1
            reference = parse_feed_with_feedparser(body, now=NOW, sample_ages=True, **options)
            assert fast == reference, body
    assert taken >= 240


# --- the shortcuts -------------------------------------------------------------------------

HTML_PIECES = [
    "text ", "AT&T", "&amp;", "&#8217;", "&#150;", "&#x27;", "&nbsp;", "&foo;", "&copy", "&",
    "<p>", "</p>", "<P>", "</P>", "<br>", "<br/>", "<BR />", "</br>", "<p/>", "<hr/>", "</hr>",
    '<img src="a.png"/>', '<a href="/x">', "</a>", "<a href='x&amp;y'>", '<span title="a>b">',
    "<script>x()</script>", "<style>p{}</style>", "<!-- c -->", "<div>", "</div>", "\n\n",
    " < ", " > ", "<", "é", "Ã©", "\u2019", "<li>", "</li>", '<h2 class="x">', "<b>", "</b>",
    "<input disabled/>", "<!DOCTYPE x>", "<?pi?>", "<a/b>", '<a href="caf\u00e9">',
]  # fmt: skip


def test_resolver_shortcut_keeps_the_text() -> None:
    """HTML spared feedparser's relative-URI resolver reads as the resolver's output would."""
    rng = random.Random(7)
    checked = 0
    for _ in range(3000):
        markup = "".join(rng.choice(HTML_PIECES) for _ in range(rng.randint(1, 10)))
        if fastparse._text_unchanged_by_resolver(markup):
            checked += 1
            resolved = resolve_relative_uris(markup, "https://b.example/d/", "utf-8", "text/html")
            assert html_to_text(fastparse._repair(resolved)) == html_to_text(
                fastparse._repair(markup)
            ), markup
    assert checked > 300


@pytest.mark.parametrize(
    "markup",
    ["<p/>", "a</br>b", "AT&T", "&foo;", "<script>x</script>", "<!-- c -->", "a < b",
     '<a title="x>y">', "<a href='x&amp;y'>", '<a href="caf\u00e9">', "&copy 2024"],
)  # fmt: skip
def test_resolver_shortcut_is_not_taken_for_what_the_resolver_rewrites(markup: str) -> None:
    """Markup whose text feedparser's resolver may change always goes through it."""
    assert not fastparse._text_unchanged_by_resolver(markup)


def test_plain_urls_are_what_urljoin_gives_back() -> None:
    """A URL the fast path keeps as it is, urljoin (as feedparser calls it) gives back as is."""
    rng = random.Random(3)
    parts = (
        ["http://", "https://", "HTTP://", "ftp://", "http:///"],
        ["a.example", "a.example:8080", "a.example:", "[::1]", "b_c.example", "é.example"],
        ["", "/", "/p/q", "/p;x", "/c%C3%A9", "/a b", "/é", "/a/../b"],
        ["", "?", "?a=1&b=2", "?a=1;b", "?q?r"],
        ["", "#", "#f", "#f#g"],
    )
    bases = ["", "https://site.example/feed", "http://o.example/x/", "ftp://f.example/"]
    kept = 0
    for _ in range(2000):
        url = "".join(rng.choice(choices) for choices in parts)
        if fastparse._PLAIN_URL.fullmatch(url):
            kept += 1
            assert all(_urljoin(base, url) == url for base in bases), url
    assert kept > 80

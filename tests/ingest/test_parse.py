"""parse_feed: RSS and Atom in, entries out; broken input is a FeedError or a warning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import FeedError
from bot.ingest.parse import FULL_TEXT_MIN_WORDS, parse_feed
from tests.ingest.feeds import RSS_TYPE, rss_feed, rss_item, sample

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Atom Example</title>
  <id>urn:uuid:feed</id>
  <updated>2026-02-28T10:00:00Z</updated>
  <entry>
    <title>Atom entry</title>
    <link rel="alternate" href="https://atom.example/posts/1"/>
    <id>urn:uuid:entry-1</id>
    <updated>2026-02-28T09:30:00Z</updated>
    <summary>An atom summary.</summary>
  </entry>
</feed>
"""


AGED = b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:nb="urn:newsbrief:sample"><channel><title>Aged</title>
<item><title>Three hours old</title><link>https://aged.example/1</link>
<nb:ageHours>3</nb:ageHours><description>x</description></item>
<item><title>Half an hour old</title><link>https://aged.example/2</link>
<nb:ageHours>0.5</nb:ageHours><description>y</description>
<pubDate>Tue, 01 Oct 2024 08:00:00 GMT</pubDate></item>
</channel></rss>"""


def test_age_hours_dates_sample_entries_relative_to_now() -> None:
    """In a bundled sample, nb:ageHours N dates the entry N hours before `now`."""
    feed = parse_feed(AGED, content_type=RSS_TYPE, now=NOW, sample_ages=True)
    assert [e.published_at for e in feed.entries] == [
        NOW - timedelta(hours=3),
        NOW - timedelta(minutes=30),
    ]
    assert feed.warnings == ()


def test_age_hours_is_ignored_in_any_other_feed() -> None:
    """A remote feed cannot keep its entries new for ever with nb:ageHours: its dates count."""
    feed = parse_feed(AGED, content_type=RSS_TYPE, now=NOW)
    assert [e.published_at for e in feed.entries] == [
        None,
        datetime(2024, 10, 1, 8, 0, tzinfo=UTC),
    ]


def test_sample_feed_dates_follow_now() -> None:
    """The bundled samples stay recent: every entry is dated within a week before `now`."""
    feed = parse_feed(
        sample("harbour_ledger.xml"), content_type=RSS_TYPE, now=NOW, sample_ages=True
    )
    assert feed.title == "The Harbour Ledger"
    assert len(feed.entries) == 9
    for entry in feed.entries:
        assert entry.published_at is not None
        assert NOW - timedelta(days=7) <= entry.published_at <= NOW


def test_pub_date_is_read() -> None:
    """An RFC 822 pubDate becomes an aware UTC datetime."""
    body = rss_feed(
        rss_item("Dated", "https://d.example/1", pub_date="Sat, 28 Feb 2026 08:15:00 +0100")
    )
    (entry,) = parse_feed(body, content_type=RSS_TYPE, now=NOW).entries
    assert entry.published_at == datetime(2026, 2, 28, 7, 15, tzinfo=UTC)


def test_far_future_dates_are_clamped_to_now() -> None:
    """A published date far in the future is replaced by `now`; a near one is kept."""
    body = rss_feed(
        rss_item("Far", "https://f.example/far", pub_date="Fri, 01 Jan 2100 00:00:00 GMT"),
        rss_item("Near", "https://f.example/near", pub_date="Sun, 01 Mar 2026 12:30:00 GMT"),
    )
    far, near = parse_feed(body, content_type=RSS_TYPE, now=NOW).entries
    assert far.published_at == NOW
    assert near.published_at == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


def test_entry_without_a_date_has_none() -> None:
    """No date at all leaves published_at None (the service uses the fetch time)."""
    (entry,) = parse_feed(
        rss_feed(rss_item("Undated", "https://u.example/1")), content_type=RSS_TYPE, now=NOW
    ).entries
    assert entry.published_at is None


def test_entry_without_link_is_skipped_with_warning() -> None:
    """An item with no link (and no URL guid) is dropped and a warning says so."""
    body = rss_feed(
        rss_item("Linkless", None, guid="not-a-url"),
        rss_item("Linked", "https://l.example/1"),
    )
    feed = parse_feed(body, content_type=RSS_TYPE, now=NOW)
    assert [e.title for e in feed.entries] == ["Linked"]
    assert "skipped an entry with no link" in feed.warnings


def test_url_guid_stands_in_for_a_missing_link() -> None:
    """An item with no <link> but a URL guid uses the guid as its link."""
    body = rss_feed(
        "<item><title>Guid only</title><guid>https://g.example/post</guid>"
        "<description>d</description></item>"
    )
    (entry,) = parse_feed(body, content_type=RSS_TYPE, now=NOW).entries
    assert entry.url == "https://g.example/post"


def test_atom_feed_parses() -> None:
    """An Atom feed gives its title, entry link, id, summary and updated date."""
    feed = parse_feed(ATOM, content_type="application/atom+xml", now=NOW)
    assert feed.title == "Atom Example"
    (entry,) = feed.entries
    assert entry.title == "Atom entry"
    assert entry.url == "https://atom.example/posts/1"
    assert entry.guid == "urn:uuid:entry-1"
    assert entry.text == "An atom summary."
    assert entry.published_at == datetime(2026, 2, 28, 9, 30, tzinfo=UTC)
    assert not entry.is_full_text


def test_atom_sample_parses() -> None:
    """The bundled Atom sample (Civic Signal) parses with all its entries in full text."""
    feed = parse_feed(sample("civic_signal.xml"), content_type=None, now=NOW)
    assert feed.title == "Civic Signal"
    assert len(feed.entries) == 9
    assert all(e.is_full_text for e in feed.entries)


def test_full_text_threshold_and_html_stripped() -> None:
    """Long content:encoded is full text, tags are stripped; a short description is not."""
    long_html = "<p>" + " ".join(["word"] * FULL_TEXT_MIN_WORDS) + "</p><p>End.</p>"
    body = (
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>T</title>'
        "<item><title>Long</title><link>https://t.example/long</link>"
        "<description>Short.</description>"
        f"<content:encoded><![CDATA[{long_html}]]></content:encoded></item>"
        "<item><title>Short</title><link>https://t.example/short</link>"
        "<description>&lt;b&gt;Only&lt;/b&gt; a line.</description></item>"
        "</channel></rss>"
    ).encode()
    long, short = parse_feed(body, content_type=RSS_TYPE, now=NOW).entries
    assert long.is_full_text
    assert "<p>" not in long.text and long.text.endswith("End.")
    assert not short.is_full_text
    assert short.text == "Only a line."


def test_iso_8859_1_feed_keeps_accents() -> None:
    """A feed encoded and declared as ISO-8859-1 keeps its accented characters."""
    body = rss_feed(
        rss_item("Élection à Zürich: façade", "https://e.example/1"),
        title="Café Crème",
        encoding="ISO-8859-1",
    )
    assert "é".encode("latin-1") in body
    for content_type in (RSS_TYPE, "text/xml", None):
        feed = parse_feed(body, content_type=content_type, now=NOW)
        assert feed.title == "Café Crème"
        assert feed.entries[0].title == "Élection à Zürich: façade"


def test_invalid_utf8_is_read_with_a_warning() -> None:
    """Bytes that are not UTF-8 in a feed declared UTF-8 are still read, with a warning."""
    body = rss_feed(rss_item("Caf\ufffd", "https://b.example/1")).replace(
        "\ufffd".encode(), b"\xe9\xff"
    )
    feed = parse_feed(body, content_type=RSS_TYPE, now=NOW)
    assert len(feed.entries) == 1
    assert feed.entries[0].title.startswith("Caf")
    assert feed.warnings


@pytest.mark.parametrize(
    "body",
    [
        b"not xml at all",
        b"",
        b"<html><head><title>Hi</title></head><body><p>A web page</p></body></html>",
        b"<rss><channel><item><title>broken",
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Cut</title><item><title>x',
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    ],
)
def test_non_feeds_raise_feed_error(body: bytes) -> None:
    """Input with no readable feed entries - garbage, HTML, truncated XML - is a FeedError."""
    with pytest.raises(FeedError):
        parse_feed(body, content_type=RSS_TYPE, now=NOW)


def test_truncated_feed_keeps_entries_it_could_read() -> None:
    """A feed cut off mid-way still yields the complete entries, with a warning."""
    whole = rss_feed(rss_item("First", "https://c.example/1"), rss_item("Second", None))
    cut = whole[: whole.index(b"<item>", whole.index(b"</item>"))] + b"<item><title>Sec"
    feed = parse_feed(cut, content_type=RSS_TYPE, now=NOW)
    assert [e.title for e in feed.entries] == ["First"]
    assert any("not well-formed" in w for w in feed.warnings)


def test_empty_but_valid_feed_is_fine() -> None:
    """A well-formed feed with no items is not an error: it just has no entries."""
    feed = parse_feed(rss_feed(title="Quiet"), content_type=RSS_TYPE, now=NOW)
    assert feed.title == "Quiet"
    assert feed.entries == ()
    assert feed.warnings == ()


def test_empty_feed_with_only_an_encoding_note_is_not_an_error() -> None:
    """feedparser's harmless notes (here an encoding override) do not fail an empty feed."""
    body = rss_feed(title="Café vide", encoding="ISO-8859-1")
    feed = parse_feed(body, content_type="text/xml", now=NOW)
    assert feed.title == "Café vide"
    assert feed.entries == ()
    assert feed.warnings  # the override is still noted


def test_relative_links_resolve_against_the_feed_url() -> None:
    """Relative entry links are made absolute with base_url; without one they stay as given."""
    body = rss_feed(rss_item("Rel", "/articles/1"), rss_item("Rel2", "posts/2"))
    first, second = parse_feed(
        body, content_type=RSS_TYPE, now=NOW, base_url="https://site.example/feeds/rss.xml"
    ).entries
    assert first.url == "https://site.example/articles/1"
    assert second.url == "https://site.example/feeds/posts/2"
    assert parse_feed(body, content_type=RSS_TYPE, now=NOW).entries[0].url == "/articles/1"


def test_a_script_in_an_entry_never_reaches_its_text() -> None:
    """An entry's HTML is read as text: a script or style in it leaves nothing behind."""
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item>'
        b"<title>Port reopens</title><link>https://example.com/a</link><description>"
        b"&lt;p&gt;Ships move.&lt;/p&gt;&lt;script&gt;steal(document.cookie)&lt;/script&gt;"
        b"&lt;style&gt;.x{}&lt;/style&gt;</description></item></channel></rss>"
    )
    (entry,) = parse_feed(body, content_type="application/rss+xml", now=NOW).entries
    assert entry.text == "Ships move."


def test_an_unreadable_encoding_name_is_a_feed_error() -> None:
    """A feed declaring an encoding with a broken byte in its name is a FeedError, not a crash."""
    body = (
        b'<?xml version="1.0" encoding="utf\xe9-8"?><rss version="2.0"><channel><title>T'
        b"</title><item><title>A</title><link>https://a.example/1</link></item></channel></rss>"
    )
    with pytest.raises(FeedError, match="encoding cannot be read"):
        parse_feed(body, content_type="application/rss+xml", now=NOW)

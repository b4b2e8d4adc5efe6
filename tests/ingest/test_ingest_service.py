"""IngestService with the real SQLite store, the real HttpFeedSource and a loopback server."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from aiohttp import web

from bot.config import SAMPLES_DIR
from bot.domain import CONSOLE_SCOPE, Article, Feed, FeedError
from bot.ingest.fetch import Fetcher
from bot.ingest.source import HttpFeedSource
from bot.placement import PlacedArticle
from bot.services.ingest import IngestService
from bot.services.stories import StoryDesk
from bot.services.typed import typed_url
from bot.timeutil import utcnow
from tests.fakes.feed_server import FeedServer
from tests.fakes.store import InMemoryStore
from tests.ingest.feeds import RSS_TYPE, rss_feed, rss_item, sample, static
from tests.ingest.test_fetch import open_fetcher

# The ingest service is core: its tests run on the in-memory store.
pytestmark = pytest.mark.usefixtures("no_sqlite")

SAMPLE = sample("harbour_ledger.xml")
SAMPLE_ENTRIES = 9
POLL_INTERVAL = timedelta(minutes=30)
MAX_BACKOFF = timedelta(hours=6)


def make_service(
    store: InMemoryStore,
    fetcher: Fetcher,
    *,
    full_text: bool = False,
    poll_interval: timedelta = POLL_INTERVAL,
) -> IngestService:
    return IngestService(
        store,
        HttpFeedSource(fetcher, fetch_full_text=full_text),
        StoryDesk(store),
        poll_interval=poll_interval,
        max_backoff=MAX_BACKOFF,
        settings_in_force=fetcher.settings_in_force(),
        jitter=lambda: 0.5,
    )


async def reread(store: InMemoryStore, url: str) -> Feed:
    feed = await store.get_feed(url)
    assert feed is not None
    return feed


async def scope_articles(store: InMemoryStore) -> list[Article]:
    return await store.recent_articles(CONSOLE_SCOPE, since=utcnow() - timedelta(days=30), limit=50)


@pytest.fixture
def store() -> InMemoryStore:
    """IngestService is core: tested on the in-memory store (SQLite keeps to the contract)."""
    return InMemoryStore()


@pytest.fixture
async def private_refusing_fetcher() -> AsyncIterator[Fetcher]:
    opened = Fetcher(
        timeout_seconds=2.0,
        max_bytes=200_000,
        max_redirects=3,
        per_host_concurrency=2,
        allow_private=False,
    )
    yield opened
    await opened.aclose()


# --- conditional GET -------------------------------------------------------------------


async def test_etag_then_304_adds_nothing(
    store: InMemoryStore, server: FeedServer, fetcher: Fetcher
) -> None:
    """An ETag is stored, sent back as If-None-Match, and the 304 is 'not-modified', adding none."""

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        return web.Response(body=SAMPLE, headers={"Content-Type": RSS_TYPE, "ETag": '"v1"'})

    url = server.serve("/feed.xml", handler)
    await store.sync_default_feeds([url])
    service = make_service(store, fetcher)

    (first,) = await service.poll_all()
    assert first.status == "ok"
    assert first.new_articles == SAMPLE_ENTRIES
    assert len(store.articles) == SAMPLE_ENTRIES
    assert (await reread(store, url)).etag == '"v1"'

    (second,) = await service.poll_all()
    assert second.status == "not-modified"
    assert second.new_articles == 0
    assert len(store.articles) == SAMPLE_ENTRIES

    (_, first_headers), (_, second_headers) = server.hits
    assert "If-None-Match" not in first_headers
    assert second_headers["If-None-Match"] == '"v1"'
    feed = await reread(store, url)
    assert feed.etag == '"v1"'
    assert feed.consecutive_failures == 0
    assert feed.next_poll_at is not None and feed.next_poll_at > utcnow()


async def test_last_modified_then_304_keeps_the_validator(
    store: InMemoryStore, server: FeedServer, fetcher: Fetcher
) -> None:
    """Last-Modified goes back as If-Modified-Since; a bare 304 keeps it for the next poll."""
    stamp = "Wed, 21 Oct 2015 07:28:00 GMT"

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.headers.get("If-Modified-Since") == stamp:
            return web.Response(status=304)  # no validators repeated
        return web.Response(body=SAMPLE, headers={"Content-Type": RSS_TYPE, "Last-Modified": stamp})

    url = server.serve("/feed.xml", handler)
    feed = await store.add_feed(url)
    service = make_service(store, fetcher)

    assert (await service.poll_feed(feed)).new_articles == SAMPLE_ENTRIES
    assert (await reread(store, url)).last_modified == stamp
    for _ in range(2):
        report = await service.poll_feed(await reread(store, url))
        assert report.status == "not-modified"
        assert report.new_articles == 0
        assert (await reread(store, url)).last_modified == stamp
    assert [h.get("If-Modified-Since") for _, h in server.hits] == [None, stamp, stamp]
    assert len(store.articles) == SAMPLE_ENTRIES


# --- deduplication ----------------------------------------------------------------------


async def test_second_ingest_of_same_body_adds_nothing(
    store: InMemoryStore, server: FeedServer, fetcher: Fetcher
) -> None:
    """A server that ignores conditional headers: the second full body adds no articles."""
    url = server.serve("/feed.xml", static(SAMPLE))
    await store.sync_default_feeds([url])
    service = make_service(store, fetcher)

    (first,) = await service.poll_all()
    (second,) = await service.poll_all()
    assert first.status == second.status == "ok"
    assert first.new_articles == SAMPLE_ENTRIES
    assert second.new_articles == 0
    assert second.details == {"entries": SAMPLE_ENTRIES}
    assert len(store.articles) == SAMPLE_ENTRIES
    assert server.count("/feed.xml") == 2


async def test_same_article_in_two_feeds_is_stored_once(
    store: InMemoryStore, server: FeedServer, fetcher: Fetcher
) -> None:
    """One link in two feeds, once with utm_ tracking parameters, is one stored article."""
    link = "https://dup.example/world/story?id=42"
    feed_a = server.serve(
        "/a.xml",
        static(
            rss_feed(
                rss_item("Port strike ends", link, guid="a-1", description="Dockers return."),
                rss_item("Only in A", "https://dup.example/a-only", guid="a-2"),
                title="Feed A",
            )
        ),
    )
    feed_b = server.serve(
        "/b.xml",
        static(
            rss_feed(
                rss_item(
                    "Port strike is over after nine days",
                    f"{link}&utm_source=rss&utm_medium=feed&utm_campaign=b#top",
                    guid="b-77",
                    description="Workers went back to the docks on Monday morning.",
                ),
                title="Feed B",
            )
        ),
    )
    await store.sync_default_feeds([feed_a, feed_b])
    reports = await make_service(store, fetcher).poll_all()

    # The feeds are polled concurrently, so either may be credited with the shared story.
    assert {r.status for r in reports} == {"ok"}
    assert sum(r.new_articles for r in reports) == 2
    assert len(store.articles) == 2
    stories = [a for a in await scope_articles(store) if a.canonical_url == link]
    assert len(stories) == 1


async def test_relative_links_are_stored_absolute_and_not_merged(
    store: InMemoryStore, server: FeedServer, fetcher: Fetcher
) -> None:
    """Relative links resolve per feed URL: same path in two feeds is two articles, fetchable."""
    page = article_page()
    server.serve("/a/story.html", static(page, content_type="text/html"))
    feed_a = server.serve(
        "/a/feed.xml",
        static(rss_feed(rss_item("Story A", "story.html", guid="s", description="Short A."))),
    )
    feed_b = server.serve(
        "/b/feed.xml",
        static(rss_feed(rss_item("Story B", "story.html", guid="s", description="Short B."))),
    )
    await store.sync_default_feeds([feed_a, feed_b])
    reports = await make_service(store, fetcher, full_text=True).poll_all()
    assert [r.new_articles for r in reports] == [1, 1]
    by_url = {a.url: a for a in await scope_articles(store)}
    assert set(by_url) == {server.url("/a/story.html"), server.url("/b/story.html")}
    assert by_url[server.url("/a/story.html")].is_full_text
    assert by_url[server.url("/b/story.html")].text == "Short B."  # 404 page: excerpt kept


# --- failures ---------------------------------------------------------------------------

MALFORMED = [
    pytest.param(b"<rss><channel><item><title>broken", RSS_TYPE, id="truncated-rss"),
    pytest.param(
        b"<html><body><h1>Oops</h1><p>Not <b>a feed</p></div></body>", "text/html", id="html"
    ),
    pytest.param(b"not xml at all", "text/xml", id="text"),
]


@pytest.mark.parametrize(("body", "content_type"), MALFORMED)
async def test_malformed_feed_is_recorded_and_others_still_ingest(
    store: InMemoryStore, server: FeedServer, fetcher: Fetcher, body: bytes, content_type: str
) -> None:
    """A malformed feed is an 'error' with a readable last_error and a backoff; others ingest."""
    good = server.serve("/good.xml", static(SAMPLE))
    bad = server.serve("/bad.xml", static(body, content_type=content_type))
    await store.sync_default_feeds([bad, good])
    before = utcnow()

    reports = {r.url: r for r in await make_service(store, fetcher).poll_all()}

    assert reports[good].status == "ok"
    assert reports[good].new_articles == SAMPLE_ENTRIES
    assert len(store.articles) == SAMPLE_ENTRIES
    assert reports[bad].status == "error"
    assert reports[bad].error
    feed = await reread(store, bad)
    assert feed.last_error == reports[bad].error
    assert "feed" in feed.last_error.lower()
    assert "Traceback" not in feed.last_error and "internal error" not in feed.last_error
    assert feed.consecutive_failures == 1
    assert feed.next_poll_at is not None and feed.next_poll_at > before + POLL_INTERVAL
    assert (await reread(store, good)).consecutive_failures == 0


async def test_a_store_error_on_one_feed_is_that_feeds_error_and_the_others_ingest(
    store: InMemoryStore, server: FeedServer, fetcher: Fetcher, caplog: pytest.LogCaptureFixture
) -> None:
    """A write that fails for one feed is reported and logged; the poll goes on, and the
    entries are stored on the next poll."""
    first = server.serve("/first.xml", static(SAMPLE))
    second = server.serve("/second.xml", static(sample("northwind_wire.xml")))
    await store.sync_default_feeds([first, second])
    refused = (await reread(store, first)).id
    real_add = store.add_articles

    async def refuse_first_feed(feed: Feed, placed: Sequence[PlacedArticle]) -> list[int | None]:
        if feed.id == refused:
            raise sqlite3.OperationalError("database is locked")
        return await real_add(feed, placed)

    service = make_service(store, fetcher)
    with patch.object(store, "add_articles", side_effect=refuse_first_feed):
        reports = {r.url: r for r in await service.poll_all()}
    assert reports[first].status == "error" and "database is locked" in str(reports[first].error)
    assert reports[second].status == "ok" and reports[second].new_articles > 0
    assert "database is locked" in caplog.text

    again = {r.url: r for r in await service.poll_all(force=True)}
    assert again[first].new_articles == SAMPLE_ENTRIES


async def test_failing_feed_backs_off_then_recovers(
    store: InMemoryStore, server: FeedServer, fetcher: Fetcher
) -> None:
    """Failures count up and back off (poll_all skips the feed); a success clears the error."""
    state = {"body": b"not a feed"}

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=state["body"], headers={"Content-Type": RSS_TYPE})

    url = server.serve("/flaky.xml", handler)
    await store.sync_default_feeds([url])
    service = make_service(store, fetcher)

    (first,) = await service.poll_all()
    assert first.status == "error"
    after_one = await reread(store, url)
    assert after_one.consecutive_failures == 1
    assert await service.poll_all() == []  # still backing off: not fetched again
    assert server.count("/flaky.xml") == 1

    assert (await service.poll_feed(after_one)).status == "error"
    after_two = await reread(store, url)
    assert after_two.consecutive_failures == 2
    assert after_one.next_poll_at is not None and after_two.next_poll_at is not None
    assert after_two.next_poll_at - after_one.next_poll_at > POLL_INTERVAL

    state["body"] = SAMPLE
    report = await service.poll_feed(after_two)
    assert report.status == "ok"
    healed = await reread(store, url)
    assert healed.consecutive_failures == 0
    assert healed.last_error is None
    assert healed.title == "The Harbour Ledger"


async def test_slow_feed_is_an_error_that_says_timed_out(
    store: InMemoryStore, server: FeedServer
) -> None:
    """A feed slower than the time limit is recorded as failing with 'timed out', quickly."""
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.wait_for(release.wait(), 10)
        return web.Response(body=SAMPLE, headers={"Content-Type": RSS_TYPE})

    url = server.serve("/slow.xml", slow)
    feed = await store.add_feed(url)
    quick = Fetcher(
        timeout_seconds=0.5,
        max_bytes=200_000,
        max_redirects=3,
        per_host_concurrency=2,
        allow_private=True,
    )
    try:
        report = await make_service(store, quick).poll_feed(feed)
    finally:
        release.set()
        await quick.aclose()
    assert report.status == "error"
    assert report.error is not None and "timed out" in report.error
    assert (await reread(store, url)).consecutive_failures == 1


async def test_http_500_is_recorded(
    store: InMemoryStore, server: FeedServer, fetcher: Fetcher
) -> None:
    """An HTTP 500 is an 'error' whose last_error says 'HTTP 500'."""
    url = server.serve("/feed.xml", static(b"boom", content_type="text/plain", status=500))
    feed = await store.add_feed(url)
    report = await make_service(store, fetcher).poll_feed(feed)
    assert report.status == "error"
    stored = await reread(store, url)
    assert stored.last_error is not None and "HTTP 500" in stored.last_error
    assert stored.consecutive_failures == 1


async def test_image_content_type_is_recorded(
    store: InMemoryStore, server: FeedServer, fetcher: Fetcher
) -> None:
    """A feed URL answering image/png is an 'error' naming the content type."""
    url = server.serve("/feed.xml", static(b"\x89PNG\r\n\x1a\n", content_type="image/png"))
    report = await make_service(store, fetcher).poll_feed(await store.add_feed(url))
    assert report.status == "error"
    assert report.error is not None and "image/png" in report.error


async def test_429_retry_after_pushes_next_poll_an_hour_out(
    store: InMemoryStore, server: FeedServer, fetcher: Fetcher
) -> None:
    """A 429 with Retry-After: 3600 sets next_poll_at at least about an hour later."""
    url = server.serve(
        "/feed.xml",
        static(b"busy", content_type="text/plain", status=429, headers={"Retry-After": "3600"}),
    )
    feed = await store.add_feed(url)
    before = utcnow()
    service = make_service(store, fetcher, poll_interval=timedelta(minutes=5))
    report = await service.poll_feed(feed)
    assert report.status == "error"
    assert report.error is not None and "HTTP 429" in report.error
    stored = await reread(store, url)
    assert stored.next_poll_at is not None
    assert stored.next_poll_at >= before + timedelta(seconds=3600)
    assert stored.next_poll_at <= utcnow() + timedelta(seconds=3600 + 60)


# --- encodings --------------------------------------------------------------------------


async def test_iso_8859_1_feed_over_http_keeps_accents(
    store: InMemoryStore, server: FeedServer, fetcher: Fetcher
) -> None:
    """An ISO-8859-1 feed declaring its encoding is stored with its accents intact."""
    body = rss_feed(
        rss_item("Élection à Zürich: la façade tient", "https://fr.example/1", guid="fr-1"),
        title="Café Crème",
        encoding="ISO-8859-1",
    )
    url = server.serve("/latin1.xml", static(body, content_type="application/rss+xml"))
    await store.sync_default_feeds([url])
    (report,) = await make_service(store, fetcher).poll_all()
    assert report.status == "ok"
    assert (await reread(store, url)).title == "Café Crème"
    (article,) = await scope_articles(store)
    assert article.title == "Élection à Zürich: la façade tient"
    assert article.source == "Café Crème"


async def test_invalid_utf8_is_recorded_without_raising(
    store: InMemoryStore, server: FeedServer, fetcher: Fetcher, caplog: pytest.LogCaptureFixture
) -> None:
    """Invalid bytes in a feed declared UTF-8 are read (with a logged warning), never raised."""
    body = rss_feed(rss_item("Caf\ufffd au lait", "https://b.example/1", guid="b-1")).replace(
        "\ufffd".encode(), b"\xe9\xff\xfe"
    )
    url = server.serve("/bad-bytes.xml", static(body, content_type="text/xml; charset=utf-8"))
    feed = await store.add_feed(url)
    with caplog.at_level(logging.WARNING, logger="bot.services.ingest"):
        report = await make_service(store, fetcher).poll_feed(feed)
    assert report.status == "ok"
    assert report.new_articles == 1
    assert any(url in r.getMessage() for r in caplog.records)
    assert (await reread(store, url)).consecutive_failures == 0


# --- private addresses ------------------------------------------------------------------


async def test_private_feed_refused_and_recorded(
    store: InMemoryStore, server: FeedServer, private_refusing_fetcher: Fetcher
) -> None:
    """With private URLs off, a loopback feed fails naming the setting, and no request is made."""
    url = server.serve("/feed.xml", static(SAMPLE))
    feed = await store.add_feed(url)
    source = HttpFeedSource(private_refusing_fetcher, fetch_full_text=True)
    with pytest.raises(FeedError, match="NEWSBRIEF_ALLOW_PRIVATE_URLS"):
        await source.check_url(url)

    report = await make_service(store, private_refusing_fetcher).poll_feed(feed)
    assert report.status == "error"
    stored = await reread(store, url)
    assert stored.consecutive_failures == 1
    assert stored.last_error is not None
    assert "NEWSBRIEF_ALLOW_PRIVATE_URLS" in stored.last_error
    assert server.hits == []
    assert len(store.articles) == 0


async def test_feed_refused_by_a_setting_is_fetched_as_soon_as_the_setting_changes(
    store: InMemoryStore, server: FeedServer, private_refusing_fetcher: Fetcher, fetcher: Fetcher
) -> None:
    """Refused under ALLOW_PRIVATE_URLS=false, the feed is due at once when it turns true."""
    url = server.serve("/feed.xml", static(SAMPLE))
    await store.sync_default_feeds([url])
    refusing = make_service(store, private_refusing_fetcher)
    (report,) = await refusing.poll_all()
    assert report.status == "error"
    stored = await reread(store, url)
    assert stored.blocked_by == "NEWSBRIEF_ALLOW_PRIVATE_URLS=false"
    assert stored.next_poll_at is not None
    # Blaming our own setting, the retry is one poll interval away, not a growing backoff.
    assert stored.next_poll_at - utcnow() <= POLL_INTERVAL
    assert await refusing.poll_due() == []  # same settings: nothing is due yet

    (retried,) = await make_service(store, fetcher).poll_due()  # the operator allowed it
    assert retried.status == "ok" and retried.new_articles == SAMPLE_ENTRIES
    healed = await reread(store, url)
    assert healed.blocked_by is None and healed.consecutive_failures == 0


async def test_forced_poll_fetches_feeds_in_backoff(
    store: InMemoryStore, server: FeedServer, fetcher: Fetcher
) -> None:
    """`ingest` fetches every feed now, the failing ones in backoff included."""
    url = server.serve("/broken.xml", static(b"not a feed"))
    await store.sync_default_feeds([url])
    service = make_service(store, fetcher)
    (first,) = await service.poll_all()
    assert first.status == "error"
    assert await service.poll_all() == []  # backing off
    (forced,) = await service.poll_all(force=True)
    assert forced.status == "error"
    assert server.count("/broken.xml") == 2


async def test_check_url_normalises_and_guards_local_paths(
    tmp_path: Path, fetcher: Fetcher, server: FeedServer
) -> None:
    """check_url strips white space, accepts loopback when allowed, and only takes files if
    allow_local; a URL as typed in a chat loses its brackets and label (typed_url)."""
    source = HttpFeedSource(fetcher, fetch_full_text=False)
    url = server.url("/feed.xml")
    assert await source.check_url(f" {url} ") == url
    assert typed_url(f" <{url}> ") == typed_url(f"<{url}|{url}>") == url
    path = tmp_path / "feed.xml"
    path.write_bytes(SAMPLE)
    with pytest.raises(FeedError, match="only http"):
        await source.check_url(str(path))
    assert await source.check_url(path.as_uri(), allow_local=True) == str(path.resolve())
    with pytest.raises(FeedError, match="no feed file"):
        await source.check_url(str(tmp_path / "absent.xml"), allow_local=True)
    with pytest.raises(FeedError):
        await source.check_url("   ")
    assert server.hits == []


# --- full text --------------------------------------------------------------------------

ARTICLE_PARAGRAPHS = [
    "The harbour authority confirmed on Thursday that the new container terminal on the "
    "eastern quay will open to commercial traffic in the spring, two years later than first "
    "planned and well over its original budget.",
    "Officials blamed the delay on a shortage of specialised cranes, a long dispute with the "
    "main contractor over drainage works and the discovery of an old shipwreck during the "
    "dredging of the approach channel last summer.",
    "Local business groups welcomed the announcement but warned that road connections to the "
    "terminal remain inadequate. They said lorries queuing on the coast road already cause "
    "delays for commuters every morning and evening.",
    "The authority said it would publish a separate plan for a rail spur within the next six "
    "months, and that it had asked the regional government to fund a study of a bypass around "
    "the old town centre.",
    "Environmental campaigners repeated their concerns about noise and light pollution for the "
    "residents of the fishing village across the bay, and about the effect of increased ship "
    "traffic on the seagrass meadows near the breakwater.",
    "Once running at full capacity, the terminal is expected to handle around four hundred "
    "thousand containers a year and to create roughly nine hundred permanent jobs, according "
    "to figures published by the port's board.",
    "The chair of the board said the project would secure the future of the port for a "
    "generation and allow the largest modern vessels to call directly rather than transferring "
    "cargo at hubs further along the coast.",
    "A final inspection by the maritime safety agency is scheduled for February, after which "
    "the first scheduled service, a weekly connection to three Mediterranean ports, is due to "
    "begin operating.",
]
LAST_SENTENCE = "the first scheduled service, a weekly connection to three Mediterranean ports"


def article_page(lead: str = "", body: Sequence[str] = ARTICLE_PARAGRAPHS) -> bytes:
    paragraphs = "".join(f"<p>{p}</p>" for p in [lead, *body] if p)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Harbour terminal to open in spring</title></head><body>"
        "<header><nav><a href='/'>Home</a> | <a href='/world'>World</a></nav></header>"
        "<main><article><h1>Harbour terminal to open in spring</h1>"
        f"{paragraphs}</article></main>"
        "<footer><p>Copyright The Loopback Times. All rights reserved.</p></footer>"
        "</body></html>"
    ).encode()


async def test_excerpt_is_filled_with_the_article_page_text(
    store: InMemoryStore, server: FeedServer, fetcher: Fetcher
) -> None:
    """A one-sentence excerpt becomes the linked page's full text; a 404 keeps the excerpt."""
    page = server.serve("/articles/terminal.html", static(article_page(), content_type="text/html"))
    missing = server.url("/articles/gone.html")
    excerpt_ok = "The new terminal will open in spring, the harbour authority said."
    excerpt_gone = "A story whose page has been taken down."
    feed_url = server.serve(
        "/feed.xml",
        static(
            rss_feed(
                rss_item("Harbour terminal to open in spring", page, description=excerpt_ok),
                rss_item("Vanished story", missing, description=excerpt_gone),
                title="Loopback Times",
            )
        ),
    )
    await store.sync_default_feeds([feed_url])
    (report,) = await make_service(store, fetcher, full_text=True).poll_all()
    assert report.status == "ok"
    assert report.new_articles == 2

    by_url = {a.url: a for a in await scope_articles(store)}
    full = by_url[page]
    assert full.is_full_text
    assert LAST_SENTENCE in full.text
    assert ARTICLE_PARAGRAPHS[0][:60] in full.text
    assert len(full.text.split()) >= 200
    assert "All rights reserved" not in full.text

    kept = by_url[missing]
    assert not kept.is_full_text
    assert kept.text == excerpt_gone
    assert server.count("/articles/terminal.html") == 1
    assert server.count("/articles/gone.html") == 1


async def test_full_text_entries_and_disabled_option_fetch_no_pages(
    store: InMemoryStore, server: FeedServer, fetcher: Fetcher
) -> None:
    """Entries already in full text, or a source with full text off, fetch no article pages."""
    page = server.serve("/articles/p.html", static(article_page(), content_type="text/html"))
    long_text = " ".join(ARTICLE_PARAGRAPHS)
    feed_full = server.serve(
        "/full.xml",
        static(rss_feed(rss_item("Already whole", page, guid="w", description=long_text))),
    )
    feed_short = server.serve(
        "/short.xml", static(rss_feed(rss_item("Excerpt", f"{page}?x=1", guid="s")))
    )
    await make_service(store, fetcher, full_text=True).poll_feed(await store.add_feed(feed_full))
    await make_service(store, fetcher, full_text=False).poll_feed(await store.add_feed(feed_short))
    assert server.count("/articles/p.html") == 0
    assert len(store.articles) == 2


async def test_non_http_entry_links_are_never_fetched_for_full_text(
    store: InMemoryStore, server: FeedServer, fetcher: Fetcher, tmp_path: Path
) -> None:
    """An item linking to file:// keeps its excerpt: the full-text step never reads local files."""
    secret = tmp_path / "secret.html"
    secret.write_text("<html><body><article><p>" + "secret " * 300 + "</p></article></body></html>")
    url = server.serve(
        "/feed.xml",
        static(rss_feed(rss_item("Local link", secret.as_uri(), guid="l", description="Teaser."))),
    )
    (feed,) = await store.sync_default_feeds([url])
    report = await make_service(store, fetcher, full_text=True).poll_feed(feed)
    assert report.new_articles == 1
    (article,) = await scope_articles(store)
    assert article.text == "Teaser."
    assert not article.is_full_text


# --- local files ------------------------------------------------------------------------


async def test_local_feed_files_by_path_and_file_url(
    store: InMemoryStore, fetcher: Fetcher, tmp_path: Path
) -> None:
    """A plain path and a file:// URL both ingest; unchanged files are 'not-modified' next time."""
    folder = tmp_path / "my feeds"
    folder.mkdir()
    by_path = folder / "harbour.xml"
    by_path.write_bytes(SAMPLE)
    by_url_file = folder / "civic signal.xml"
    by_url_file.write_bytes(sample("civic_signal.xml"))
    file_url = by_url_file.as_uri()
    assert "%20" in file_url
    await store.sync_default_feeds([str(by_path), file_url])
    service = make_service(store, fetcher, full_text=True)

    first = {r.url: r for r in await service.poll_all()}
    assert first[str(by_path)].status == "ok"
    assert first[str(by_path)].new_articles == SAMPLE_ENTRIES
    assert first[file_url].status == "ok"
    assert first[file_url].new_articles == 9
    assert len(store.articles) == SAMPLE_ENTRIES + 9
    assert (await reread(store, file_url)).title == "Civic Signal"

    second = {r.url: r.status for r in await service.poll_all()}
    assert second == {str(by_path): "not-modified", file_url: "not-modified"}


async def test_missing_local_file_is_an_error(
    store: InMemoryStore, fetcher: Fetcher, tmp_path: Path
) -> None:
    """A feed path with no file behind it is recorded as an error, not raised."""
    path = str(tmp_path / "nowhere.xml")
    report = await make_service(store, fetcher).poll_feed(await store.add_feed(path))
    assert report.status == "error"
    assert report.error is not None and "cannot read" in report.error
    assert (await reread(store, path)).consecutive_failures == 1


# --- scheduling -------------------------------------------------------------------------


async def test_poll_due_waits_for_next_poll_at(
    store: InMemoryStore, server: FeedServer, fetcher: Fetcher
) -> None:
    """poll_due skips a feed until its next_poll_at has come, then polls it."""
    url = server.serve("/feed.xml", static(SAMPLE))
    await store.sync_default_feeds([url])
    assert len(await make_service(store, fetcher).poll_due()) == 1
    assert await make_service(store, fetcher).poll_due() == []
    later = IngestService(
        store,
        HttpFeedSource(fetcher, fetch_full_text=False),
        StoryDesk(store),
        poll_interval=POLL_INTERVAL,
        max_backoff=MAX_BACKOFF,
        clock=lambda: utcnow() + POLL_INTERVAL + timedelta(minutes=1),
    )
    (report,) = await later.poll_due()
    assert report.status == "ok"
    assert server.count("/feed.xml") == 2


async def test_overlapping_polls_of_one_feed_are_skipped(
    store: InMemoryStore, server: FeedServer, fetcher: Fetcher
) -> None:
    """A feed already being polled is 'skipped' by an overlapping poll, not fetched twice."""
    url = server.serve("/feed.xml", static(SAMPLE))
    feed = await store.add_feed(url)
    reports = await make_service(store, fetcher).poll([feed, feed])
    assert sorted(r.status for r in reports) == ["ok", "skipped"]
    assert server.count("/feed.xml") == 1


# --- backoff ----------------------------------------------------------------------------


def backoff_service(jitter: float) -> IngestService:
    return IngestService(
        store=None,  # type: ignore[arg-type]  # backoff() touches neither store nor source
        source=None,  # type: ignore[arg-type]
        stories=None,  # type: ignore[arg-type]
        poll_interval=timedelta(minutes=10),
        max_backoff=timedelta(hours=2),
        jitter=lambda: jitter,
    )


def test_backoff_doubles_and_is_capped_deterministically() -> None:
    """With jitter 0.5 the first failure waits one interval, then doubling up to the cap."""
    service = backoff_service(0.5)
    delays = [service.backoff(n) for n in range(1, 9)]
    assert delays[:4] == [
        timedelta(minutes=10),
        timedelta(minutes=20),
        timedelta(minutes=40),
        timedelta(minutes=80),
    ]
    assert delays[4:] == [timedelta(hours=2)] * 4
    assert delays == sorted(delays)
    assert service.backoff(10_000) == timedelta(hours=2)
    assert service.backoff(3) == service.backoff(3)


def test_backoff_jitter_bounds() -> None:
    """Jitter spreads a delay between 75% and 125% of the base, also at the cap."""
    assert backoff_service(0.0).backoff(2) == timedelta(minutes=15)
    assert backoff_service(1.0).backoff(2) == timedelta(minutes=25)
    assert backoff_service(0.0).backoff(50) == timedelta(minutes=90)
    assert backoff_service(1.0).backoff(50) == timedelta(minutes=150)
    real = IngestService(
        store=None,  # type: ignore[arg-type]
        source=None,  # type: ignore[arg-type]
        stories=None,  # type: ignore[arg-type]
        poll_interval=timedelta(minutes=10),
        max_backoff=timedelta(hours=2),
    )
    for failures in (1, 2, 3, 20):
        base = min(timedelta(minutes=10) * 2 ** (failures - 1), timedelta(hours=2))
        for _ in range(50):
            assert base * 0.75 <= real.backoff(failures) <= base * 1.25


def test_backoff_honours_retry_after() -> None:
    """Retry-After lengthens a shorter backoff, never shortens a longer one, and is capped."""
    service = backoff_service(0.5)
    assert service.backoff(1, 3600) == timedelta(hours=1)
    assert service.backoff(1, 60) == timedelta(minutes=10)
    assert service.backoff(6, 60) == timedelta(hours=2)
    assert service.backoff(1, 30 * 86400) == timedelta(days=7)
    assert service.backoff(2, 0) == timedelta(minutes=20)


async def test_repoll_fetches_article_pages_for_new_excerpts_only(
    store: InMemoryStore, server: FeedServer, fetcher: Fetcher
) -> None:
    """A changed feed re-polled loads the page of its new excerpt, not of the stored one."""
    # Two stories, not one story's page twice (that would be a reprint, folded into the first).
    old_body = [
        "The ferry company that ran the old terminal for forty years said the building had "
        "become too costly to heat, and that its staff would move to the new site.",
        "Local historians have asked the council to keep the old clock tower, which has "
        "stood over the quay since 1911, whatever becomes of the rest of the building.",
    ]
    old_page = article_page("The old terminal closes for good this winter.", old_body * 3)
    new_page = article_page("The new terminal opens to passengers in the spring, its owners said.")
    server.serve("/old.html", static(old_page, content_type="text/html"))
    server.serve("/new.html", static(new_page, content_type="text/html"))
    old_item = rss_item("Old story", server.url("/old.html"), guid="old", description="Old.")
    new_item = rss_item("New story", server.url("/new.html"), guid="new", description="New.")
    bodies = [rss_feed(old_item), rss_feed(new_item, old_item)]

    async def growing(request: web.Request) -> web.StreamResponse:
        return web.Response(body=bodies.pop(0), content_type="application/rss+xml")

    url = server.serve("/feed.xml", growing)
    (feed,) = await store.sync_default_feeds([url])
    service = make_service(store, fetcher, full_text=True)
    assert (await service.poll_feed(feed)).new_articles == 1
    assert (await service.poll_feed(await reread(store, url))).new_articles == 1
    assert server.count("/old.html") == 1
    assert server.count("/new.html") == 1


async def test_sample_ages_count_only_for_the_bundled_samples(
    store: InMemoryStore, server: FeedServer, fetcher: Fetcher
) -> None:
    """The sample file dates entries by nb:ageHours; the same XML from a web server does not."""
    local = HttpFeedSource(fetcher, fetch_full_text=False, samples_dir=SAMPLES_DIR)
    on_disk = await local.fetch(await store.add_feed(str(SAMPLES_DIR / "harbour_ledger.xml")))
    remote = await local.fetch(await store.add_feed(server.serve("/aged.xml", static(SAMPLE))))
    now = utcnow()
    assert min(e.published_at or now for e in on_disk.entries) < now - timedelta(hours=48)
    assert all(e.published_at is None for e in remote.entries)  # dated when fetched instead


async def test_feeds_are_fetched_as_many_at_once_as_the_ingest_concurrency_allows(
    store: InMemoryStore, server: FeedServer
) -> None:
    """NEWSBRIEF_INGEST_CONCURRENCY bounds the feeds in flight across hosts."""
    in_flight = peak = 0

    async def slow(request: web.Request) -> web.StreamResponse:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return web.Response(body=SAMPLE, content_type="application/rss+xml")

    urls = [server.serve(f"/feed{n}.xml", slow) for n in range(8)]
    await store.sync_default_feeds(urls)
    async with open_fetcher(per_host_concurrency=32) as fetcher:
        service = IngestService(
            store,
            HttpFeedSource(fetcher, fetch_full_text=False),
            StoryDesk(store),
            poll_interval=POLL_INTERVAL,
            max_backoff=MAX_BACKOFF,
            concurrency=3,
        )
        reports = await service.poll_all()
    assert [r.status for r in reports] == ["ok"] * 8
    assert peak == 3


async def test_a_lease_lasts_a_poll_interval_from_when_it_is_taken(
    store: InMemoryStore, fetcher: Fetcher
) -> None:
    """Sharing the database, a long poll's later leases still last a whole interval: each
    is timed from when it is taken, not from when the poll began."""
    await store.sync_default_feeds([str(p) for p in sorted(SAMPLES_DIR.glob("*.xml"))])
    moments = iter(utcnow() + n * POLL_INTERVAL for n in range(1000))
    taken: list[tuple[datetime, datetime]] = []
    lease_feeds = store.lease_feeds

    async def spy(due: Sequence[Feed], owner: str, *, now: datetime, until: datetime) -> Any:
        taken.append((now, until))
        return await lease_feeds(due, owner, now=now, until=until)

    with patch("bot.services.ingest.LEASE_CHUNK", 1), patch.object(store, "lease_feeds", spy):
        service = IngestService(
            store,
            HttpFeedSource(fetcher, fetch_full_text=False),
            StoryDesk(store),
            poll_interval=POLL_INTERVAL,
            max_backoff=MAX_BACKOFF,
            concurrency=1,  # one worker: the feeds are leased one after another
            clock=lambda: next(moments),
            owner="me",
            shared=True,
        )
        reports = await service.poll_all()
    assert [r.status for r in reports] == ["ok"] * 4
    assert len(taken) == 4 and all(until == now + POLL_INTERVAL for now, until in taken)
    assert sorted(now for now, _ in taken) == [now for now, _ in taken]  # later and later
    assert taken[-1][0] >= taken[0][1]  # the first lease would be over by the last one

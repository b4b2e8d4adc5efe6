"""The Fetcher over real HTTP on loopback: validators, limits, redirects, address checks."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.domain import FeedError
from bot.ingest.fetch import Fetcher, retry_after_seconds
from bot.timeutil import utcnow
from tests.fakes.feed_server import FeedServer
from tests.ingest.feeds import RSS_TYPE, redirect, rss_feed, rss_item, static

FEED = rss_feed(rss_item("One", "http://127.0.0.1/one", guid="one"))


@asynccontextmanager
async def open_fetcher(**overrides: Any) -> AsyncIterator[Fetcher]:
    options: dict[str, Any] = {
        "timeout_seconds": 2.0,
        "max_bytes": 200_000,
        "max_redirects": 3,
        "per_host_concurrency": 2,
        "allow_private": True,
    }
    options.update(overrides)
    fetcher = Fetcher(**options)
    try:
        yield fetcher
    finally:
        await fetcher.aclose()


# --- bodies and validators --------------------------------------------------------------


async def test_fetch_returns_body_type_and_validators(server: FeedServer, fetcher: Fetcher) -> None:
    """A 200 gives the body, its content type and the ETag / Last-Modified validators."""
    url = server.serve(
        "/feed.xml",
        static(FEED, headers={"ETag": '"v1"', "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"}),
    )
    fetched = await fetcher.fetch(url)
    assert not fetched.not_modified
    assert fetched.body == FEED
    assert fetched.content_type is not None and fetched.content_type.startswith(RSS_TYPE)
    assert fetched.etag == '"v1"'
    assert fetched.last_modified == "Mon, 01 Jan 2024 00:00:00 GMT"


async def test_conditional_get_sends_validators_and_reads_304(
    server: FeedServer, fetcher: Fetcher
) -> None:
    """Known validators go out as If-None-Match / If-Modified-Since and a 304 is not_modified."""

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        return web.Response(body=FEED, headers={"Content-Type": RSS_TYPE, "ETag": '"v1"'})

    url = server.serve("/feed.xml", handler)
    fetched = await fetcher.fetch(url, etag='"v1"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
    assert fetched.not_modified
    assert fetched.body == b""
    assert fetched.etag == '"v1"'
    _, headers = server.hits[-1]
    assert headers["If-None-Match"] == '"v1"'
    assert headers["If-Modified-Since"] == "Mon, 01 Jan 2024 00:00:00 GMT"


async def test_plain_fetch_sends_no_conditional_headers(
    server: FeedServer, fetcher: Fetcher
) -> None:
    """Without stored validators the request carries no If-None-Match or If-Modified-Since."""
    url = server.serve("/feed.xml", static(FEED))
    await fetcher.fetch(url)
    _, headers = server.hits[-1]
    assert "If-None-Match" not in headers
    assert "If-Modified-Since" not in headers
    assert headers["User-Agent"].startswith("newsbrief/")


# --- time limits ------------------------------------------------------------------------


async def test_slow_server_times_out_quickly(server: FeedServer) -> None:
    """A server slower than the time limit gives a 'timed out' FeedError, promptly."""
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await release.wait()
        return web.Response(body=FEED, headers={"Content-Type": RSS_TYPE})

    url = server.serve("/slow.xml", slow)
    try:
        async with open_fetcher(timeout_seconds=0.5) as fetcher:
            started = time.monotonic()
            with pytest.raises(FeedError, match="timed out"):
                await fetcher.fetch(url)
            assert time.monotonic() - started < 2.0
    finally:
        release.set()


async def test_slow_drip_body_hits_the_total_time_limit(server: FeedServer) -> None:
    """A body that trickles in faster than the read timeout still stops at the total limit."""
    release = asyncio.Event()

    async def drip(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": RSS_TYPE})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            while not release.is_set():
                await response.write(b" ")
                await asyncio.sleep(0.1)
        return response

    url = server.serve("/drip.xml", drip)
    try:
        async with open_fetcher(timeout_seconds=0.5) as fetcher:
            started = time.monotonic()
            with pytest.raises(FeedError, match="timed out"):
                await fetcher.fetch(url)
            assert time.monotonic() - started < 2.0
    finally:
        release.set()


# --- redirects --------------------------------------------------------------------------


async def test_single_redirect_is_followed(server: FeedServer, fetcher: Fetcher) -> None:
    """A 301 to another path is followed and the final URL's body is returned."""
    server.serve("/old.xml", redirect("/new.xml", status=301))
    final = server.serve("/new.xml", static(FEED))
    fetched = await fetcher.fetch(server.url("/old.xml"))
    assert fetched.body == FEED
    assert fetched.url == final
    assert server.count("/old.xml") == 1
    assert server.count("/new.xml") == 1


async def test_redirect_keeps_conditional_headers(server: FeedServer, fetcher: Fetcher) -> None:
    """The validators are still sent to the redirect target, so a 304 there counts."""

    async def target(request: web.Request) -> web.StreamResponse:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)
        return web.Response(body=FEED, headers={"Content-Type": RSS_TYPE})

    server.serve("/moved.xml", redirect("/feed.xml", status=308))
    server.serve("/feed.xml", target)
    fetched = await fetcher.fetch(server.url("/moved.xml"), etag='"v1"')
    assert fetched.not_modified


async def test_redirect_loop_is_detected(server: FeedServer, fetcher: Fetcher) -> None:
    """/a -> /b -> /a stops with a 'redirect loop' error instead of going round."""
    server.serve("/a", redirect("/b"))
    server.serve("/b", redirect("/a"))
    with pytest.raises(FeedError, match="redirect loop"):
        await fetcher.fetch(server.url("/a"))
    assert server.count("/a") == 1
    assert server.count("/b") == 1


async def test_too_many_redirects(server: FeedServer) -> None:
    """A chain longer than max_redirects stops with 'too many redirects'."""
    for i in range(5):
        server.serve(f"/r{i}", redirect(f"/r{i + 1}"))
    server.serve("/r5", static(FEED))
    async with open_fetcher(max_redirects=2) as fetcher:
        with pytest.raises(FeedError, match="too many redirects"):
            await fetcher.fetch(server.url("/r0"))
        # Exactly max_redirects hops are still fine.
        fetched = await fetcher.fetch(server.url("/r3"))
        assert fetched.body == FEED
    assert server.count("/r5") == 1


async def test_redirect_without_location_is_an_error(server: FeedServer, fetcher: Fetcher) -> None:
    """A 302 with no Location header is reported, not followed."""

    async def broken(request: web.Request) -> web.StreamResponse:
        return web.Response(status=302)

    url = server.serve("/nowhere", broken)
    with pytest.raises(FeedError, match="no Location"):
        await fetcher.fetch(url)


async def test_redirect_to_another_scheme_is_refused(server: FeedServer, fetcher: Fetcher) -> None:
    """A redirect to file:// (or any non-http scheme) is refused, never read from disk."""
    server.serve("/to-file", redirect("file:///etc/passwd"))
    server.serve("/to-ftp", redirect("ftp://127.0.0.1/feed.xml"))
    for path in ("/to-file", "/to-ftp"):
        with pytest.raises(FeedError, match="only http and https"):
            await fetcher.fetch(server.url(path))


async def test_per_host_concurrency_is_capped(server: FeedServer) -> None:
    """No more than per_host_concurrency requests to one host are in flight at once."""
    in_flight = 0
    peak = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return web.Response(body=FEED, headers={"Content-Type": RSS_TYPE})

    url = server.serve("/feed.xml", handler)
    async with open_fetcher(per_host_concurrency=2) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(url) for _ in range(6)))
    assert all(r.body == FEED for r in results)
    assert peak == 2
    assert server.count("/feed.xml") == 6


# --- size cap ---------------------------------------------------------------------------


async def test_declared_oversized_body_is_refused(server: FeedServer) -> None:
    """A Content-Length over the cap is refused, naming the cap."""
    url = server.serve("/big.xml", static(b"x" * 5_000))
    async with open_fetcher(max_bytes=1_000) as fetcher:
        with pytest.raises(FeedError, match=r"over the 1,000 cap"):
            await fetcher.fetch(url)


async def test_streamed_oversized_body_is_refused(server: FeedServer) -> None:
    """A chunked body with no Content-Length is cut off once it passes the cap."""

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": RSS_TYPE})
        response.enable_chunked_encoding()
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            for _ in range(64):
                await response.write(b"<" * 4_096)
            await response.write_eof()
        return response

    url = server.serve("/stream.xml", chunked)
    async with open_fetcher(max_bytes=10_000) as fetcher:
        with pytest.raises(FeedError, match=r"over the 10,000 byte cap"):
            await fetcher.fetch(url)
    assert server.count("/stream.xml") == 1


async def test_compressed_body_is_capped_after_decoding(server: FeedServer) -> None:
    """A small gzip body that inflates past the cap is refused (the cap counts decoded bytes)."""
    bomb = gzip.compress(b"<" * 500_000)
    assert len(bomb) < 10_000
    url = server.serve("/bomb.xml", static(bomb, headers={"Content-Encoding": "gzip"}))
    async with open_fetcher(max_bytes=10_000) as fetcher:
        with pytest.raises(FeedError, match=r"over the 10,000 byte cap"):
            await fetcher.fetch(url)


async def test_body_at_the_cap_is_accepted(server: FeedServer) -> None:
    """A body of exactly max_bytes is read in full."""
    body = b"<" * 1_000
    url = server.serve("/exact.xml", static(body))
    async with open_fetcher(max_bytes=1_000) as fetcher:
        fetched = await fetcher.fetch(url)
    assert fetched.body == body


# --- statuses and types -----------------------------------------------------------------


async def test_image_content_type_is_refused(server: FeedServer, fetcher: Fetcher) -> None:
    """An image/png answer is not a feed and is refused by content type."""
    url = server.serve("/logo.png", static(b"\x89PNG\r\n\x1a\n", content_type="image/png"))
    with pytest.raises(FeedError, match="image/png"):
        await fetcher.fetch(url)


async def test_http_500_is_an_error(server: FeedServer, fetcher: Fetcher) -> None:
    """A 500 answer is a FeedError that says 'HTTP 500'."""
    url = server.serve("/feed.xml", static(b"oops", content_type="text/plain", status=500))
    with pytest.raises(FeedError, match="HTTP 500") as caught:
        await fetcher.fetch(url)
    assert caught.value.retry_after_seconds is None


async def test_429_carries_retry_after(server: FeedServer, fetcher: Fetcher) -> None:
    """A 429 with Retry-After: 3600 reports the wait in retry_after_seconds."""
    url = server.serve(
        "/feed.xml",
        static(
            b"slow down", content_type="text/plain", status=429, headers={"Retry-After": "3600"}
        ),
    )
    with pytest.raises(FeedError, match="HTTP 429") as caught:
        await fetcher.fetch(url)
    assert caught.value.retry_after_seconds == 3600.0


async def test_404_is_an_error(server: FeedServer, fetcher: Fetcher) -> None:
    """A path the server does not know gives 'HTTP 404'."""
    with pytest.raises(FeedError, match="HTTP 404"):
        await fetcher.fetch(server.url("/missing.xml"))


def test_retry_after_reads_both_forms() -> None:
    """Retry-After is read as delta-seconds or as an HTTP date; junk gives None."""
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    in_an_hour = format_datetime(utcnow() + timedelta(hours=1), usegmt=True)
    seconds = retry_after_seconds(in_an_hour)
    assert seconds is not None and 3500 < seconds <= 3600
    past = format_datetime(utcnow() - timedelta(hours=1), usegmt=True)
    assert retry_after_seconds(past) == 0.0


# --- private addresses ------------------------------------------------------------------


async def test_private_address_refused_before_any_request(server: FeedServer) -> None:
    """With allow_private off, a loopback URL is refused, naming the setting, with no request."""
    url = server.serve("/feed.xml", static(FEED))
    async with open_fetcher(allow_private=False) as fetcher:
        with pytest.raises(FeedError, match="NEWSBRIEF_ALLOW_PRIVATE_URLS"):
            await fetcher.fetch(url)
    assert server.hits == []


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1]/feed.xml",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://192.168.1.1:8080/rss",
        "https://172.16.0.1/",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",
    ],
)
async def test_check_public_refuses_internal_addresses(url: str) -> None:
    """check_public refuses loopback, link-local and private literal addresses (no DNS, no I/O)."""
    async with open_fetcher(allow_private=False) as fetcher:
        with pytest.raises(FeedError, match="NEWSBRIEF_ALLOW_PRIVATE_URLS"):
            await fetcher.check_public(url)


@pytest.mark.parametrize("allow_private", [False, True])
@pytest.mark.parametrize("url", ["ftp://127.0.0.1/feed.xml", "gopher://10.0.0.1/", "http:///x"])
async def test_check_public_refuses_other_schemes_and_no_host(
    url: str, allow_private: bool
) -> None:
    """Only http(s) URLs with a host pass check_public, whatever allow_private says."""
    async with open_fetcher(allow_private=allow_private) as fetcher:
        with pytest.raises(FeedError):
            await fetcher.check_public(url)


async def test_private_address_allowed_when_enabled(server: FeedServer) -> None:
    """With allow_private on, the loopback server is checked, fetched and seen."""
    url = server.serve("/feed.xml", static(FEED))
    async with open_fetcher(allow_private=True) as fetcher:
        await fetcher.check_public(url)
        fetched = await fetcher.fetch(url)
    assert fetched.body == FEED
    assert server.count("/feed.xml") == 1


# --- local files ------------------------------------------------------------------------


async def test_local_file_uses_mtime_as_validator(tmp_path: Path, fetcher: Fetcher) -> None:
    """A file is read with its mtime as Last-Modified; the same mtime again is not_modified."""
    path = tmp_path / "feed.xml"
    path.write_bytes(FEED)
    first = await fetcher.fetch(str(path))
    assert first.body == FEED and first.last_modified
    again = await fetcher.fetch(path.as_uri(), last_modified=first.last_modified)
    assert again.not_modified
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    changed = await fetcher.fetch(str(path), last_modified=first.last_modified)
    assert not changed.not_modified and changed.body == FEED


async def test_local_file_missing_or_too_big(tmp_path: Path) -> None:
    """A missing file and a file over the cap are FeedErrors."""
    async with open_fetcher(max_bytes=10) as fetcher:
        with pytest.raises(FeedError, match="cannot read"):
            await fetcher.fetch(str(tmp_path / "absent.xml"))
        big = tmp_path / "big.xml"
        big.write_bytes(FEED)
        with pytest.raises(FeedError, match="over the 10 cap"):
            await fetcher.fetch(str(big))


async def test_waiting_for_a_busy_host_does_not_count_against_the_time_limit(
    server: FeedServer,
) -> None:
    """Requests queued behind a per-host limit each get their full time once sent."""

    async def slowish(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.3)
        return web.Response(body=FEED, content_type=RSS_TYPE)

    url = server.serve("/slowish.xml", slowish)
    async with open_fetcher(timeout_seconds=0.6, per_host_concurrency=1) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(url) for _ in range(4)))
    assert [r.body for r in results] == [FEED] * 4

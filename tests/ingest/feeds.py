"""Small builders for feed bodies and aiohttp handlers used by the ingest tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from html import escape
from pathlib import Path

from aiohttp import web

import bot.config

RSS_TYPE = "application/rss+xml"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def sample(name: str) -> bytes:
    """The bytes of one bundled sample feed, e.g. "harbour_ledger.xml"."""
    return Path(bot.config.SAMPLES_DIR, name).read_bytes()


def rss_item(
    title: str,
    link: str | None,
    *,
    guid: str | None = None,
    description: str = "A short excerpt.",
    pub_date: str | None = None,
) -> str:
    parts = [f"<title>{escape(title)}</title>"]
    if link is not None:
        parts.append(f"<link>{escape(link)}</link>")
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{escape(guid)}</guid>')
    if pub_date is not None:
        parts.append(f"<pubDate>{pub_date}</pubDate>")
    parts.append(f"<description>{escape(description)}</description>")
    return "<item>" + "".join(parts) + "</item>"


def rss_feed(*items: str, title: str = "Loopback Feed", encoding: str = "utf-8") -> bytes:
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        '<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>http://127.0.0.1/</link>"
        "<description>test feed</description>" + "".join(items) + "</channel></rss>"
    )
    return text.encode(encoding)


def static(
    body: bytes,
    *,
    content_type: str = RSS_TYPE,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Handler:
    """A handler that always answers the same way, whatever the request says."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=body, status=status, headers={"Content-Type": content_type, **(headers or {})}
        )

    return handler


def redirect(location: str, status: int = 302) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": location})

    return handler

"""A read-only status page for the operator: feeds and their health, the latest posts and
how they went, and model tokens and claims dropped per day as a small chart.

Off unless NEWSBRIEF_STATUS_TOKEN is set, and then only for a request carrying that
token (`?token=` or `Authorization: Bearer`); served beside /healthz and /metrics. One
self-contained HTML document: no script, no outside asset, every value escaped.
"""

from __future__ import annotations

import hmac
import html
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from aiohttp import web

from bot.domain import Feed, StoreUnavailable
from bot.services.ledgers import DayClaims, DayTokens, RecentDelivery
from bot.services.ports import ClaimLedger, FeedStore, HealthStore, LlmLedger
from bot.services.render import ago, feed_health, plural
from bot.timeutil import utcnow

STATUS_PATH = "/status"
CHART_DAYS = 14
RECENT_POSTS = 30


class StatusStore(FeedStore, HealthStore, LlmLedger, ClaimLedger, Protocol):
    """What the page reads: feeds, posts, model calls and claim checks."""


class StatusPage:
    def __init__(
        self, store: StatusStore, token: str, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._store = store
        self._token = token
        self._clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [web.get(STATUS_PATH, self.page)]

    def _allowed(self, request: web.Request) -> bool:
        given = request.query.get("token") or ""
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            given = header.removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), self._token.encode())

    async def page(self, request: web.Request) -> web.Response:
        if not self._allowed(request):
            return web.Response(
                status=403,
                text="403: the status page needs its token (NEWSBRIEF_STATUS_TOKEN)\n",
                headers={"Cache-Control": "no-store"},
            )
        now = self._clock()
        try:
            feeds = await self._store.read_feeds()
            posts = await self._store.recent_deliveries(RECENT_POSTS)
            since = (now - timedelta(days=CHART_DAYS - 1)).replace(
                hour=0, minute=0, second=0, microsecond=0
            )
            tokens = await self._store.tokens_by_day(since)
            claims = await self._store.claims_by_day(since)
        except StoreUnavailable as exc:
            return web.Response(status=503, text=f"database unavailable: {exc}\n")
        body = render_status(feeds, posts, tokens, claims, now=now, days=CHART_DAYS)
        return web.Response(
            text=body,
            content_type="text/html",
            headers={
                "Cache-Control": "no-store",
                # Nothing on the page runs or loads anything: say so to the browser.
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                "Referrer-Policy": "no-referrer",
            },
        )


_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:70em}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;
padding:.3em .5em;text-align:left;vertical-align:top}th{background:#f4f4f4}
.ok{color:#176117}.bad{color:#a31515}.muted{color:#666}svg text{font-size:10px}
"""


def render_status(
    feeds: Sequence[Feed],
    posts: Sequence[RecentDelivery],
    tokens: Sequence[DayTokens],
    claims: Sequence[DayClaims],
    *,
    now: datetime,
    days: int,
) -> str:
    e = html.escape
    failing = sum(1 for f in feeds if f.consecutive_failures or f.paused)
    feed_rows = "".join(
        f"<tr><td>{e(f.title or f.url)}<br><span class=muted>{e(f.url)}</span></td>"
        f"<td class={'bad' if f.consecutive_failures or f.paused else 'ok'}>"
        f"{e(feed_health(f, now))}</td><td>{e(f.last_error or '')}</td></tr>"
        for f in feeds
    )
    post_rows = "".join(
        f"<tr><td>{e(p.key)}</td><td>{e(p.platform)} {e(p.channel)}</td>"
        f"<td class={'ok' if p.status == 'posted' else 'bad'}>{e(p.status)}"
        f"{' (late)' if p.late else ''}</td><td>{e(ago(p.created_at, now))}</td>"
        f"<td>{p.attempts}</td><td>{e(p.error or '')}</td></tr>"
        for p in posts
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>newsbrief status</title><style>{_STYLE}</style></head><body>"
        f"<h1>newsbrief status</h1><p class=muted>{e(now.strftime('%Y-%m-%d %H:%M UTC'))}"
        f" · {plural(len(feeds), 'feed', 'feeds')}, {failing} failing or paused · the latest "
        f"{plural(len(posts), 'post', 'posts')}</p>"
        "<h2>Feeds</h2><table id=feeds><tr><th>Feed</th><th>Health</th><th>Last error</th></tr>"
        f"{feed_rows or '<tr><td colspan=3>No feeds.</td></tr>'}</table>"
        "<h2>Latest posts</h2><table id=posts><tr><th>Post</th><th>Where</th><th>State</th>"
        f"<th>Made</th><th>Attempts</th><th>Error</th></tr>"
        f"{post_rows or '<tr><td colspan=6>Nothing posted yet.</td></tr>'}</table>"
        f"<h2>Model tokens and claims dropped, last {days} days (UTC)</h2>"
        f"{_chart(tokens, claims, now=now, days=days)}</body></html>"
    )


def _chart(
    tokens: Sequence[DayTokens], claims: Sequence[DayClaims], *, now: datetime, days: int
) -> str:
    """Tokens per day as bars, claims dropped per day as dots on their own scale: an
    inline SVG, drawn here (no script)."""
    width, height, pad = 700, 180, 30
    first = now.date() - timedelta(days=days - 1)
    used = {d.day: d.tokens_in + d.tokens_out for d in tokens}
    dropped = {d.day: d.dropped for d in claims}
    top_tokens = max(used.values(), default=0) or 1
    top_dropped = max(dropped.values(), default=0) or 1
    step = (width - 2 * pad) / days
    parts = [
        f"<svg id=chart role=img aria-label='model tokens and claims dropped per day' "
        f"width={width} height={height} viewBox='0 0 {width} {height}'>",
        f"<line x1={pad} y1={height - pad} x2={width - pad} y2={height - pad} stroke='#999'/>",
    ]
    for i in range(days):
        when = first + timedelta(days=i)
        x = pad + i * step
        bar = (height - 2 * pad) * used.get(when, 0) / top_tokens
        parts.append(
            f"<rect class=tokens x={x + 2:.1f} y={height - pad - bar:.1f} width={step - 4:.1f} "
            f"height={bar:.1f} fill='#4a7ab5'><title>{when}: {used.get(when, 0):,} tokens"
            "</title></rect>"
        )
        if when in dropped:
            y = height - pad - (height - 2 * pad) * dropped[when] / top_dropped
            parts.append(
                f"<circle class=dropped cx={x + step / 2:.1f} cy={y:.1f} r=4 fill='#c0392b'>"
                f"<title>{when}: {dropped[when]} claims dropped</title></circle>"
            )
        if i % 2 == 0:
            parts.append(
                f"<text x={x + step / 2:.1f} y={height - pad + 14} text-anchor=middle>"
                f"{when:%d %b}</text>"
            )
    parts.append(
        f"<text x={pad} y=14>bars: tokens (top {top_tokens:,}/day) · dots: claims dropped "
        f"(top {top_dropped}/day)</text></svg>"
    )
    return "".join(parts)

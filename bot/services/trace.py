"""`why <url>`: one URL traced through the pipeline, for an operator or admin asking why
an article did or did not appear: the feed that carried it and when it was fetched, the
article it was stored as (or the one it was folded into as a copy), its story, and the
digests and briefs that showed it, with links; or, where it stopped, the likely reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit

from bot.domain import Bullet, Feed, Hint, Message, Scope, Section, Subscription, ThreadKind
from bot.services.dedupe import canonical_url
from bot.services.digest import MAX_WINDOW
from bot.services.feed_alerts import PAUSE_REASONS
from bot.services.render import ago
from bot.services.typed import typed_url, url_problem
from bot.services.url_trace import UrlTrace
from bot.timeutil import utcnow


class TraceStore(Protocol):
    async def trace_url(self, url: str, canonical: str) -> UrlTrace: ...
    async def polled_feeds(self) -> list[Feed]: ...
    async def list_subscriptions(self) -> list[Subscription]: ...


# Turns a post into a link a person can open, for the platforms that make one from ids.
LinkMaker = Callable[[Scope, str, str], str | None]


class TraceService:
    def __init__(
        self,
        store: TraceStore,
        *,
        link: LinkMaker,
        digest_max_stories: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._link = link
        self._max_stories = digest_max_stories
        self._clock = clock

    async def why(self, url: str, scope: Scope | None = None) -> Message:
        """The trace of `url`; `scope` keeps an admin to their own workspace's posts
        (None: the operator, everything)."""
        url = typed_url(url)
        problem = url_problem(url)
        if problem is not None or not url:
            return _message(f"Why: {url[:80] or 'which URL?'}", [problem or "Give a URL."])
        trace = await self._store.trace_url(url, canonical_url(url))
        if trace.article is None:
            return _message(f"Why: {url}", await self._never_seen(url), found=False)
        now = self._clock()
        article = trace.article
        lines = []
        if trace.copy is not None:
            lines.append(
                f"A copy ({trace.copy.source}, {ago(trace.copy.published_at, now)}) of "
                f"{article.url} by {article.source}: copies of one text are folded into the "
                "first one stored, and cited as \u201calso in\u201d."
            )
        carried = ", ".join(f.title or f.url for f in trace.feeds) or "a feed no longer read"
        lines.append(
            f"Stored as article {article.id}, \u201c{article.title}\u201d ({article.source}), "
            f"published {ago(article.published_at, now)}, fetched {ago(article.fetched_at, now)} "
            f"from {carried}."
        )
        if article.story_id is not None:
            lines.append(
                f"In story {article.story_id} (version {trace.story_version}, "
                f"{trace.story_size} article{'s' if trace.story_size != 1 else ''})."
            )
        showings = [s for s in trace.showings if scope is None or s.scope == scope]
        for shown in showings:
            link = self._link(shown.scope, shown.channel, shown.thread_key)
            lines.append(
                f"Shown in a {shown.kind} in {_place(shown.scope, shown.channel)}, "
                f"{ago(shown.at, now)}{f': {link}' if link else ''}."
            )
        posted_channels = {(s.scope, s.channel) for s in showings}
        for post in trace.story_posts:
            if (scope is None or post.scope == scope) and (
                post.scope,
                post.channel,
            ) not in posted_channels:
                link = self._link(post.scope, post.channel, post.thread_key)
                lines.append(
                    f"Its story was posted in {_place(post.scope, post.channel)} "
                    f"{ago(post.at, now)} (version {post.version}), before this article "
                    f"joined it or without it{f': {link}' if link else ''}."
                )
        lines += await self._not_in_digests(trace, scope, now, posted_channels)
        return _message(f"Why: {url}", lines)

    async def _never_seen(self, url: str) -> list[str]:
        """A URL not in the database: the likeliest reasons, from the feeds read."""
        host = (urlsplit(url).hostname or "").removeprefix("www.")
        if not host:
            return ["Never seen, and it is not a web address (http:// or https://)."]
        same_site = [
            f
            for f in await self._store.polled_feeds()
            if (urlsplit(f.url).hostname or "").removeprefix("www.") == host
        ]
        if not same_site:
            return [
                f"Never seen: no feed read here is on {host}. Add its feed to follow it.",
            ]
        lines = ["Never seen, though feeds on the same site are read:"]
        for feed in same_site:
            if feed.paused:
                state = f"paused ({feed.paused}: {PAUSE_REASONS.get(feed.paused, '')})"
            elif feed.blocked_by:
                state = f"refused by the setting {feed.blocked_by}: {feed.last_error}"
            elif feed.consecutive_failures:
                state = f"failing: {feed.last_error}"
            else:
                state = "fetched fine: the entry was not in it when it was read (too old, or "
                state += "in another of the site's feeds)"
            lines.append(f"{feed.title or feed.url}: {state}.")
        return lines

    async def _not_in_digests(
        self,
        trace: UrlTrace,
        scope: Scope | None,
        now: datetime,
        posted: set[tuple[Scope, str]],
    ) -> list[str]:
        """For each daily digest that did not show it: why not, as far as can be told."""
        assert trace.article is not None
        article = trace.article
        lines = []
        for sub in await self._store.list_subscriptions():
            if (scope is not None and sub.scope != scope) or (sub.scope, sub.channel) in posted:
                continue
            where = f"The daily digest of {_place(sub.scope, sub.channel)}"
            if sub.last_digest_at is None or article.fetched_at > sub.last_digest_at:
                lines.append(f"{where} has not run since it was fetched: it comes next.")
            elif article.published_at < sub.last_digest_at - MAX_WINDOW:
                lines.append(
                    f"{where}: published before its window (the last {MAX_WINDOW.days} days)."
                )
            elif sub.topics and not _mentions(article.title, sub.topics):
                lines.append(f"{where}: its topics ({', '.join(sub.topics)}) may not match it.")
            else:
                lines.append(
                    f"{where} left it out: below the story cut (it shows the "
                    f"{self._max_stories} stories told by the most outlets, then the newest), "
                    "or its story was shown there before and has not grown."
                )
        return lines


def _mentions(title: str, topics: Sequence[str]) -> bool:
    words = title.lower()
    return any(word in words for topic in topics for word in topic.lower().split())


def _place(scope: Scope, channel: str) -> str:
    return f"{scope.platform} {channel}" if scope.platform != "console" else "the console"


def _message(title: str, lines: Sequence[str], *, found: bool = True) -> Message:
    return Message(
        ThreadKind.NOTICE,
        title,
        (Section(None, tuple(Bullet(line) for line in lines)),),
        (),
        found=found,
        hints=() if found else (Hint.LIST_FEEDS,),
    )

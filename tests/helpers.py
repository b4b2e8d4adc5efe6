"""Small helpers the tests share."""

from __future__ import annotations

import asyncio
import inspect
import os
import socket
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, overload

from bot.app import App
from bot.domain import (
    Feed,
    FeedReport,
    Message,
    NewArticle,
    Scope,
    Subscription,
    ThreadContext,
)
from bot.llm.extractive import ExtractiveSummarizer
from bot.placement import PlacedArticle
from bot.scheduler import Scheduler
from bot.services.chat import Where, command_key
from bot.services.dedupe import canonical_url, content_hash
from bot.services.digest import DigestService
from bot.services.outbox import Outbox
from bot.services.ports import ArticleStore, PartSender, StorageEngine, ThreadStore
from bot.services.story_index import Fingerprint, print_record
from bot.timeutil import utcnow

REPO = Path(__file__).resolve().parents[1]
_OUR_SETTINGS = ("NEWSBRIEF_", "DISCORD_", "SLACK_", "OPENAI_")
T = TypeVar("T")


def bot_env(**settings: str) -> dict[str, str]:
    """The environment for a `python -m bot` subprocess: none of the host's bot settings."""
    platform = ("PORT", "DATABASE_URL")  # what a Procfile platform sets, read by Settings
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(_OUR_SETTINGS) and k not in platform
    }
    env["PYTHONPATH"] = str(REPO)
    env.update(settings)
    return env


async def start_bot(
    env: dict[str, str], cwd: Path, *, log: Path | None = None
) -> asyncio.subprocess.Process:
    """`python -m bot run` as an operator starts it: its output to the file `log`, or
    piped to the test (read it with `communicate`)."""
    if log is None:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=cwd, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=cwd, env=env, stdout=out, stderr=out
        )


def posted(db: Path, key_like: str) -> bool:
    """Whether a bot's SQLite database (read beside the bot) has a delivery whose key is
    LIKE `key_like`, all of them posted: the bot is done with the post, and has recorded
    the thread it opened (a reply sooner might come to a thread it does not know yet)."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
        try:
            rows = conn.execute(
                "SELECT status FROM deliveries WHERE key LIKE ?", (key_like,)
            ).fetchall()
        except sqlite3.OperationalError:  # not there, or not migrated yet
            return False
    return bool(rows) and all(status == "posted" for (status,) in rows)


class NeverHappened(AssertionError):
    """What `until` waited for did not happen in time."""


@overload
async def until(
    check: Callable[[], Awaitable[T]],
    what: str | None = None,
    *,
    seconds: float = ...,
    every: float = ...,
) -> T: ...


@overload
async def until(
    check: Callable[[], T], what: str | None = None, *, seconds: float = ..., every: float = ...
) -> T: ...


async def until(
    check: Callable[[], Any],
    what: str | None = None,
    *,
    seconds: float = 10.0,
    every: float = 0.01,
) -> Any:
    """Wait for `check` (a function or a coroutine function, called every `every` s) to
    return something truthy, and return that; after `seconds`, fail saying what never
    happened (`what`, else the check's name or source line). The tests' one way to wait
    for something the code under test does."""
    found: Any = None
    try:
        async with asyncio.timeout(seconds) as limit:
            while True:
                found = check()
                if inspect.isawaitable(found):
                    found = await found
                if found:
                    return found
                await asyncio.sleep(every)
    except TimeoutError:
        if not limit.expired():
            raise  # the check's own
        last = repr(found)
        last = last if len(last) <= 200 else last[:200] + "..."
        raise NeverHappened(
            f"waited {seconds:g} s for {what or _described(check)} (the check last gave {last})"
        ) from None


def _described(check: Callable[[], Any]) -> str:
    """A check's name, or a lambda's source line."""
    name = getattr(check, "__name__", "")
    if name and name != "<lambda>":
        return name.replace("_", " ")
    try:
        return " ".join(inspect.getsource(check).split())
    except (OSError, TypeError):
        return repr(check)


def new_article(
    url: str,
    title: str = "Title",
    text: str | None = None,
    *,
    guid: str | None = None,
    source: str = "Test Outlet",
    published_at: datetime | None = None,
    fetched_at: datetime | None = None,
    is_full_text: bool = False,
) -> NewArticle:
    """An entry as ingest hands it to the store; times default to now."""
    text = f"Text of {url}." if text is None else text
    now = utcnow()
    return NewArticle(
        guid=guid,
        url=url,
        canonical_url=canonical_url(url),
        title=title,
        source=source,
        published_at=published_at or now,
        fetched_at=fetched_at or now,
        text=text,
        is_full_text=is_full_text,
        content_hash=content_hash(title, text),
    )


async def add_article(
    store: StorageEngine,
    *,
    title: str,
    text: str,
    url: str,
    source: str = "Test Outlet",
    feed: Feed | None = None,
) -> int | None:
    """Store one article now, in `feed` (default: the first polled feed)."""
    feed = feed or (await store.polled_feeds())[0]
    article = new_article(
        url, title, text, guid=url, source=source, is_full_text=len(text.split()) >= 120
    )
    return await store_article(store, feed, article)


async def store_article(
    store: ArticleStore,
    feed: Feed,
    article: NewArticle,
    *,
    story_id: int | None = None,
    print_: Fingerprint | None = None,
) -> int | None:
    """One entry stored as a batch of its own: in story `story_id`, else a new one; the
    new article's id, or None for a copy of one stored."""
    record = print_record(print_) if print_ is not None else None
    placed = PlacedArticle(article, story_id=story_id, record=record)
    (article_id,) = await store.add_articles(feed, [placed])
    return article_id


async def store_reprint(
    store: ArticleStore, feed: Feed, article_id: int, reprint: NewArticle
) -> bool:
    """Another outlet's copy of a stored article: one more source of it; False when the
    copy's URL or guid is stored already."""
    known = await store.known_articles(feed, [(reprint.guid, reprint.canonical_url)])
    placed = PlacedArticle(reprint, reprint_of=article_id)
    (stored,) = await store.add_articles(feed, [placed])
    assert stored is None  # a reprint is a source, not an article
    return known == [None]


async def open_thread(
    store: ThreadStore, scope: Scope, channel: str, thread_key: str, message: Message
) -> ThreadContext:
    """Record a post's thread as the outbox does once the post is on the platform, so
    questions under it are answered from the articles it shows."""
    assert message.opens_thread
    return await store.save_thread(scope, channel, thread_key, message.kind, message.article_ids)


def interaction_key(interaction: dict[str, Any]) -> str:
    """The delivery key of the reply to a Discord slash command used in a text channel
    (the fake Discord's INTERACTION_CREATE payload)."""
    scope = Scope("discord", str(interaction["guild_id"]))
    return command_key(Where(scope, str(interaction["channel_id"])), str(interaction["id"]))


async def poll_in_order(app: App) -> list[FeedReport]:
    """Every feed polled one after another, in feed order.

    Stories are placed as articles arrive, and feeds polled together arrive in whatever
    order their fetches finish; tests that look at how stories were grouped want the
    same order every run.
    """
    reports = []
    for feed in await app.store.polled_feeds():
        reports += await app.ingest.poll([feed])
    return reports


def battery_follow_up(source: str = "Test Outlet") -> NewArticle:
    """A later report of the bundled samples' battery story (civicsignal-0002): it joins
    that story as a new article, in other words (not a reprint)."""
    text = (
        "Brightwater Grid's new 600-megawatt battery plant near Red Mesa delivered its full "
        "output to the grid for the first time on Wednesday evening, discharging for four "
        "hours after sunset as the solar farms around it wound down, the utility said.\n\n"
        "The storage site, built from 880 container-sized units of lithium iron phosphate "
        "cells, had been switched on earlier in the day. Chief executive Olivia Tran said "
        "the evening run had gone exactly to plan and that the 2,400 megawatt-hours it holds "
        "would now be cycled every day.\n\n"
        "Red Mesa's mayor said firefighters had toured the fire breaks and the water supply "
        "before the plant opened. Analysts at Greymarket Energy said the project showed how "
        "quickly battery storage was spreading across the national grid."
    )
    return new_article(
        "https://followup.example/energy/red-mesa-battery-first-evening",
        "Red Mesa battery plant completes first evening run for Brightwater",
        text,
        source=source,
        is_full_text=True,
    )


def digest_scheduler(
    app: App, publisher: PartSender, *, max_stories: int = 5, outbox: Outbox | None = None
) -> Scheduler:
    """A scheduler over `app`'s store posting digests (offline summaries) through
    `publisher`, with the bot's own timings: what a test drives a daily digest with."""
    outbox = outbox or Outbox(app.store)
    return Scheduler(
        app.store,
        app.ingest,
        DigestService(app.store, ExtractiveSummarizer(), outbox, max_stories=max_stories),
        outbox,
        {publisher.platform: publisher},
        poll_interval=timedelta(minutes=30),
        grace=timedelta(hours=3),
    )


async def subscribe_due_now(app: App, scope: Scope, channel: str) -> Subscription:
    """A daily digest for `channel` due this minute (UTC): posted by `post_digest` now."""
    return await app.store.upsert_subscription(
        scope, channel, digest_time=f"{utcnow():%H:%M}", timezone="UTC", topics=()
    )


def closed_port() -> int:
    """A loopback port nothing listens on (bound once, then let go): a refused connection."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

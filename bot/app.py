"""The composition root: the one place that picks and wires the adapters."""

from __future__ import annotations

import asyncio
import gc
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from aiohttp import web

from bot.chat.links import message_link
from bot.config import SAMPLES_DIR, Settings, secret_value
from bot.domain import FeedReport, StartupError
from bot.ingest.fetch import Fetcher, is_local, local_path
from bot.ingest.source import HttpFeedSource
from bot.llm.extractive import ExtractiveSummarizer
from bot.llm.prompts import PromptLibrary
from bot.probes import LoopLag, Probes, serve_probes
from bot.scheduler import Scheduler
from bot.services.ask import AskService
from bot.services.brief import BriefService
from bot.services.chat import Chat, ChatServices
from bot.services.digest import DigestService
from bot.services.feed_alerts import FeedAlerts
from bot.services.feeds import FeedService
from bot.services.ingest import IngestService
from bot.services.outbox import Outbox, worker_name
from bot.services.ports import Embedder, PartSender, StorageEngine, Summarizer
from bot.services.stats import StatsService
from bot.services.stories import StoryDesk
from bot.services.subscriptions import SubscriptionService
from bot.services.trace import TraceService
from bot.services.verify import verified
from bot.status_page import StatusPage
from bot.store.base import SchemaTooNewError
from bot.store.sqlite import SqliteStore
from bot.workers import InProcesses, InThread, workers

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    store: StorageEngine
    fetcher: Fetcher
    source: HttpFeedSource
    summarizer: Summarizer
    ingest: IngestService
    stories: StoryDesk
    chat: ChatServices
    scheduler: Scheduler
    adapters: list[ChatAdapter]
    stats: StatsService
    stopping: asyncio.Event
    workers: InThread | InProcesses = field(default_factory=InThread)
    warnings: list[str] = field(default_factory=list)
    probes: Probes | None = None  # /healthz and /metrics

    def stop(self) -> None:
        """Ask `serve` to wind down (a signal, or the console's /quit)."""
        self.stopping.set()

    async def close(self) -> None:
        await self.workers.close()
        await self.fetcher.aclose()
        await self.summarizer.aclose()
        await self.stories.aclose()
        await self.store.close()


def build_summarizer(
    settings: Settings,
    store: StorageEngine,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Summarizer:
    """The LLM when a key or a server is configured, else the offline extractive one."""
    if not settings.llm_enabled:
        return ExtractiveSummarizer()
    # Imported here: the SDK takes most of a second to import, and the offline
    # path (the console, one-shot commands) should not pay for it.
    from openai import AsyncOpenAI

    from bot.llm.openai_client import PROMPT_NAMES, LlmSummarizer

    prompts = PromptLibrary(settings.prompts_dir)
    prompts.check(PROMPT_NAMES)
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    client = AsyncOpenAI(
        # Local servers (Ollama, llama.cpp) need no key, but the SDK insists on one.
        api_key=key or "not-needed",
        base_url=settings.openai_base_url,
        timeout=settings.llm_timeout_seconds,
        max_retries=0,  # retries are ours: bounded, logged, honouring Retry-After
    )
    return LlmSummarizer(
        client,
        store,
        prompts,
        model=settings.openai_model,
        output_mode=settings.llm_output,
        daily_token_budget=settings.llm_daily_tokens,
        max_retries=settings.llm_max_retries,
        concurrency=settings.llm_concurrency,
        context_tokens=settings.llm_context_tokens,
        sleep=sleep,
    )


def build_embedder(settings: Settings) -> Embedder | None:
    """The embeddings model, when one is named; else stories are placed by words alone."""
    if not settings.embeddings_model:
        return None
    from openai import AsyncOpenAI

    from bot.llm.embeddings import OpenAIEmbedder

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    client = AsyncOpenAI(
        api_key=key or "not-needed",
        base_url=settings.embeddings_url or settings.openai_base_url,
        timeout=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
    )
    return OpenAIEmbedder(client, settings.embeddings_model)


def default_feed_problems(settings: Settings) -> tuple[list[str], list[str]]:
    """Split NEWSBRIEF_FEEDS into usable entries and readable complaints about the rest."""
    usable, problems = [], []
    for entry in settings.feeds:
        if is_local(entry):
            path = local_path(entry)
            if not path.is_file():
                problems.append(f"NEWSBRIEF_FEEDS: no feed file at {path}; skipped")
                continue
            usable.append(str(path.resolve()))
        elif entry.startswith(("http://", "https://")):
            usable.append(entry)
        else:
            problems.append(f"NEWSBRIEF_FEEDS: {entry!r} is not an http(s) URL or a file; skipped")
    return usable, problems


def check_db_path(path: Path) -> None:
    """Say plainly when NEWSBRIEF_DB cannot be a database file, before SQLite's errno."""
    where = f"NEWSBRIEF_DB={path}"
    if path.is_dir():
        raise StartupError(f"{where} is a folder; give a file path, e.g. {path / 'newsbrief.db'}")
    blocker = next((p for p in path.parents if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise StartupError(f"{where}: {blocker} is a file, so the database cannot be put inside it")


async def open_store(settings: Settings) -> StorageEngine:
    """PostgreSQL when NEWSBRIEF_DATABASE_URL is set, else the SQLite file at NEWSBRIEF_DB;
    a StartupError that says what is wrong with the setting."""
    url = secret_value(settings.database_url)
    if url:
        return await open_postgres(url)
    path = settings.db_path
    check_db_path(path)
    where = f"NEWSBRIEF_DB={path}"
    try:
        return await SqliteStore.open(path)
    except SchemaTooNewError as exc:
        raise StartupError(f"{where}: {exc}") from exc
    except (OSError, sqlite3.Error) as exc:
        raise StartupError(f"{where}: cannot open the database ({exc})") from exc


async def open_postgres(url: str) -> StorageEngine:
    from bot.store.pg import PostgresStore

    where = f"NEWSBRIEF_DATABASE_URL ({database_name(url)})"
    try:
        return await PostgresStore.open(url)
    except SchemaTooNewError as exc:
        raise StartupError(f"{where}: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise StartupError(f"{where}: cannot connect ({exc})") from exc
    except Exception as exc:  # asyncpg's own errors: a wrong database, user or password
        raise StartupError(f"{where}: {type(exc).__name__}: {exc}") from exc


def database_name(url: str) -> str:
    """A database URL without its password, for messages and the banner."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"postgresql://{user}{host}{port}{parts.path}"


class ChatAdapter(PartSender, Protocol):
    """A chat platform the bot serves: started and stopped with the process.

    `opens_with_digest`: it shows the day's digest when it starts (the console),
    so a digest missed while the bot was down need not be posted to it.
    """

    opens_with_digest: bool

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


ChatFactory = Callable[[Chat, Callable[[], None]], Sequence[ChatAdapter]]


async def bootstrap(
    settings: Settings,
    *,
    store: StorageEngine | None = None,
    summarizer: Summarizer | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    chat: ChatFactory | None = None,
) -> App:
    """The whole app on `settings`: store, model, services, chat adapters, scheduler.

    Real adapters by default; a test hands in its own store, summarizer, the
    model client's sleep between retries, or `chat` (the chat service, stop -> the
    adapters to serve; `no_chat` for one-shot commands).
    """
    store = store or await open_store(settings)
    token = settings.status_token.get_secret_value() if settings.status_token else None
    probes = Probes(
        store, store, store, LoopLag(), status=StatusPage(store, token) if token else None
    )
    try:
        return await _wire(
            settings,
            store,
            summarizer or build_summarizer(settings, store, sleep=sleep),
            chat or partial(build_chat_adapters, settings, probes=probes.routes()),
            probes,
        )
    except BaseException:
        await store.close()
        raise


def no_chat(chat: Chat, stop: Callable[[], None]) -> Sequence[ChatAdapter]:
    """For one-shot commands: nothing to serve."""
    return ()


async def _wire(
    settings: Settings,
    store: StorageEngine,
    summarizer: Summarizer,
    chat: ChatFactory,
    probes: Probes,
) -> App:
    fetcher = Fetcher(
        timeout_seconds=settings.fetch_timeout_seconds,
        max_bytes=settings.max_feed_bytes,
        max_redirects=settings.max_redirects,
        per_host_concurrency=settings.per_host_concurrency,
        allow_private=settings.allow_private_urls,
    )
    cpu = workers(settings.cpu_workers)
    source = HttpFeedSource(
        fetcher, fetch_full_text=settings.fetch_full_text, samples_dir=SAMPLES_DIR, workers=cpu
    )
    summarizer = verified(summarizer, ExtractiveSummarizer(), store, settings.verify)
    stories = StoryDesk(
        store,
        workers=cpu,
        shared=not store.embedded,
        embedder=build_embedder(settings),
        same_event_meaning=settings.embeddings_same_event,
    )
    worker = worker_name()
    ingest = IngestService(
        store,
        source,
        stories,
        poll_interval=timedelta(minutes=settings.poll_minutes),
        max_backoff=timedelta(hours=settings.max_backoff_hours),
        concurrency=settings.ingest_concurrency,
        settings_in_force=fetcher.settings_in_force(),
        owner=worker,
        shared=not store.embedded,
    )
    outbox = Outbox(store, owner=worker)
    digests = DigestService(store, summarizer, outbox, max_stories=settings.digest_max_stories)
    # Filled once the adapters exist: they need the subscriptions, which need the scheduler.
    publishers: dict[str, PartSender] = {}
    scheduler = Scheduler(
        store,
        ingest,
        digests,
        outbox,
        publishers,
        poll_interval=timedelta(minutes=settings.poll_minutes),
        grace=timedelta(minutes=settings.digest_grace_minutes),
        alerts=FeedAlerts(
            store,
            outbox,
            publishers,
            down_after=timedelta(hours=settings.feed_down_hours),
            pause_after=timedelta(days=settings.feed_pause_days),
        ),
    )
    services = ChatServices(
        briefs=BriefService(
            store,
            summarizer,
            window=timedelta(days=settings.brief_days),
            max_stories=settings.brief_max_stories,
        ),
        digests=digests,
        asks=AskService(store, summarizer),
        feeds=FeedService(store, source, ingest),
        subscriptions=SubscriptionService(store, scheduler),
        outbox=outbox,
        trace=TraceService(
            store, link=message_link, digest_max_stories=settings.digest_max_stories
        ),
    )
    stopping = asyncio.Event()
    adapters = list(chat(Chat(services), stopping.set))
    publishers.update({adapter.platform: adapter for adapter in adapters})
    usable, warnings = default_feed_problems(settings)
    await store.sync_default_feeds(usable)
    for warning in warnings:
        log.warning("%s", warning)
    return App(
        settings=settings,
        store=store,
        fetcher=fetcher,
        source=source,
        summarizer=summarizer,
        ingest=ingest,
        stories=stories,
        chat=services,
        scheduler=scheduler,
        adapters=adapters,
        stats=StatsService(store, store, store),
        stopping=stopping,
        workers=cpu,
        warnings=warnings,
        probes=probes,
    )


def build_chat_adapters(
    settings: Settings,
    chat: Chat,
    stop: Callable[[], None],
    *,
    probes: Sequence[web.RouteDef] = (),
) -> list[ChatAdapter]:
    """The platforms whose tokens are set; none means the console, which may ask to stop."""
    adapters: list[ChatAdapter] = []
    if settings.slack_bot_token:
        from bot.chat.slack import SlackAdapter

        adapters.append(
            SlackAdapter(
                bot_token=settings.slack_bot_token.get_secret_value(),
                app_token=secret_value(settings.slack_app_token),
                signing_secret=secret_value(settings.slack_signing_secret),
                api_url=settings.slack_api_url,
                admin_users=settings.slack_admin_users,
                chat=chat,
                host=settings.slack_host,
                port=settings.slack_port,
                start_tries=settings.start_tries,
                extra_routes=probes,
            )
        )
    if settings.discord_token:
        from bot.chat.discord import DiscordAdapter

        adapters.append(
            DiscordAdapter(
                token=settings.discord_token.get_secret_value(),
                api_url=settings.discord_api_url,
                guild_id=settings.discord_guild_id,
                message_content=settings.discord_message_content,
                shard_count=settings.discord_shard_count,
                shard_ids=settings.discord_shard_ids,
                chat=chat,
                start_tries=settings.start_tries,
            )
        )
    if not adapters:
        from bot.chat.console import ConsoleAdapter

        adapters.append(
            ConsoleAdapter(
                chat=chat,
                digest_time=settings.digest_time,
                timezone=settings.timezone,
                on_quit=stop,
            )
        )
    return adapters


def freeze_long_lived() -> None:
    """Keep what start-up made (modules, the wiring, the story index of the first poll)
    out of the garbage collector's full passes. Each full pass walks every object it
    tracks, holding the event loop meanwhile: in a 1,000-feed poll the longest went from
    93 to 33 ms with start-up frozen. `gc.unfreeze()` undoes it when serving ends."""
    gc.collect()
    gc.freeze()


async def serve(
    app: App, *, on_ingest: Callable[[Sequence[FeedReport]], None] | None = None
) -> None:
    """Poll every feed, start the chat adapters and the scheduler, run until `app.stop()`."""
    # One process serves an embedded database: leases left by one that was killed (its
    # feeds, its unfinished posts) are not waited out. On a shared one, another process
    # may hold them: they expire.
    await app.store.claim_serving()
    if app.store.embedded:
        freed = await app.store.release_all_leases()
        if freed:
            log.info("%d leases left by the last run freed", freed)
    # The first poll may take minutes on many feeds: a stop asked meanwhile ends it (what
    # it stored stays; the feeds it had leased wait out their leases, or are freed at the
    # next start on an embedded database).
    polling = asyncio.create_task(app.ingest.poll_all())
    stop = asyncio.create_task(app.stopping.wait())
    await asyncio.wait({polling, stop}, return_when=asyncio.FIRST_COMPLETED)
    stop.cancel()
    if not polling.done():
        polling.cancel()
        with suppress(asyncio.CancelledError):
            await polling
        log.info("stopped during the start-up poll")
        return
    reports = polling.result()
    failed = [r for r in reports if r.status == "error"]
    log.info(
        "ingested %d feeds, %d new articles, %d failing",
        len(reports),
        sum(r.new_articles for r in reports),
        len(failed),
    )
    if on_ingest is not None:
        on_ingest(reports)
    started: list[ChatAdapter] = []
    probe_server = None
    try:
        if app.probes is not None:
            app.probes.lag.start()
            where = probe_address(app.settings)
            if where is not None:
                probe_server = await serve_probes(app.probes, *where)
        for adapter in app.adapters:
            await adapter.start()
            started.append(adapter)
        await app.scheduler.start(catch_up=not any(a.opens_with_digest for a in app.adapters))
        freeze_long_lived()
        await app.stopping.wait()
    finally:
        gc.unfreeze()
        app.scheduler.shutdown()
        for adapter in reversed(started):
            try:
                await adapter.stop()
            except Exception:
                log.exception("stopping the %s adapter failed", adapter.platform)
        if probe_server is not None:
            await probe_server.cleanup()
        if app.probes is not None:
            await app.probes.lag.stop()


def probe_address(settings: Settings) -> tuple[str, int] | None:
    """Where /healthz and /metrics get a server of their own: NEWSBRIEF_METRICS_PORT; else,
    on a Procfile platform (PORT set) with nothing else on that port, PORT on every
    address; else none (Slack's HTTP mode serves them on its own port)."""
    if settings.metrics_port is not None:
        return settings.metrics_host, settings.metrics_port
    slack_http = bool(settings.slack_bot_token) and not settings.slack_app_token
    if settings.port is not None and not slack_http:
        return "0.0.0.0", settings.port
    return None

"""Figures at scale (issue 12): each of ours beside a naive baseline run in the same process.

1. `/brief` latency p50/p99 over a 100k-article store from 1,000 feeds (offline
   summarizer); baseline: `LIKE '%topic%'` ordered by date, LIMIT 12, each article
   summarized as its own story by the same extractive summarizer.
2. A question over the whole store (`asks.ask`, no thread); baseline: `LIKE` on the
   question's words + the extractive summarizer's `answer`.
3. Ingest, first poll of 10,000 loopback feeds x 20 items through the full pipeline
   (`ingest.poll_all()`), new entries/s; baseline: httpx + `feedparser.parse` +
   `INSERT` into a plain table, with the same feed and per-host concurrency.
4. Second poll of the same feeds, all answering 304: seconds; baseline: the naive loop's
   conditional GETs.
5. The largest event-loop stall (a 10 ms ticker's worst lateness) while the 100k store
   takes a first poll of more feeds and a brief is asked every 100 ms; brief p99 then.
6. Resident memory: after the 100k store is open, and the process's peak.

Our first poll is cut off if it takes longer than `--poll-budget` seconds (default
0.05 s a feed, 20-600 s): its rate is then measured over what it stored, the naive
loop polls the same finished feeds, and the second poll covers every feed (ETags
written for the rest).
The stall figure runs each side for `--stall-budget` seconds.

Only loopback servers it starts (127.0.0.1, port 0, in a child process so serving is
not counted as the bot's work) and temp files; no network. Prints figures, asserts
nothing. Quick run:

    .venv/bin/python bench/bench_scale.py --articles 5000 --feeds 100 --poll-feeds 300
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing as mp
import os
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import feedparser
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_corpus import (
    CEASEFIRE_EVENTS,
    Corpus,
    etag_for,
    feed_path,
    fill_store,
    serve_feeds,
    stats_json,
    store_feed_url,
)

from bot.app import App, bootstrap, freeze_long_lived, no_chat
from bot.config import Settings
from bot.domain import CONSOLE_SCOPE, Article, Story
from bot.llm.extractive import ExtractiveSummarizer
from bot.store.sqlite import SqliteStore, fts_query
from bot.text import query_terms
from bot.timeutil import from_db

ITEMS_PER_FEED = 20
STORE_DAYS = 5.0  # articles spread over the last five days (NEWSBRIEF_BRIEF_DAYS is 7)
FEED_HOURS = 36.0  # polled feeds' items are from the last day and a half
NAIVE_LIMIT = 12
BRIEF_EVERY = 0.1
TICK = 0.01
T = TypeVar("T")

QUESTIONS = (
    "What did the mediators say about the ceasefire?",
    "Is the truce holding on the frontline?",
    "Will the central bank cut interest rates?",
    "How many buildings collapsed in the earthquake?",
    "Who won the election runoff?",
    "What happens next with the strike?",
    "How many people were evacuated because of the flood?",
    "What did the health regulator say about the vaccine booster?",
    "Why did shareholders reject the takeover bid?",
    "When will the chip plant open?",
    "What are the tariffs on imports?",
    "How did the hackers get in during the ransomware attack?",
    "What did the supreme court decide?",
    "Where were the heat alerts issued?",
    "What caused the outage?",
    "What is the recipe for banana bread?",
    "Who is the coach of the league final winners?",
    "How much did oil prices rise after the pipeline closed?",
    "Are the reservoirs running dry in the drought?",
    "What happens next?",
)


# --- small helpers ---------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker_rss_mb() -> float:
    """Resident memory of the bot's worker processes (spawned children of this process)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and b"spawn_main" in cmdline:
            pages = int((stat.parent / "statm").read_text().split()[1])
            total += pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    return total


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def p50(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def p99(samples: Sequence[float]) -> float:
    if len(samples) < 2:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


class Phases:
    def __init__(self) -> None:
        self.times: list[tuple[str, float]] = []
        self._start = time.perf_counter()
        self._name: str | None = None

    def begin(self, name: str) -> None:
        self._end()
        self._name, self._start = name, time.perf_counter()
        print(f"[{time.strftime('%H:%M:%S')}] {name} ...", flush=True)

    def _end(self) -> None:
        if self._name is not None:
            took = time.perf_counter() - self._start
            self.times.append((self._name, took))
            print(
                f"    ({self._name}: {took:.1f} s; RSS {rss_mb():.0f} MB, "
                f"peak so far {peak_rss_mb():.0f} MB)",
                flush=True,
            )
            self._name = None

    def done(self) -> None:
        self._end()


@dataclass
class Row:
    figure: str
    ours: float
    naive: float | None
    unit: str
    note: str = ""

    def cells(self) -> tuple[str, str, str, str]:
        def fmt(v: float) -> str:
            return f"{v:,.0f} {self.unit}" if abs(v) >= 100 else f"{v:,.2f} {self.unit}"

        ratio = f"{self.ours / self.naive:.2f}x" if self.naive else "-"
        return (
            self.figure,
            fmt(self.ours),
            fmt(self.naive) if self.naive is not None else "-",
            ratio,
        )


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --- the naive side ----------------------------------------------------------------------

_COLUMNS = (
    "id, guid, url, canonical_url, title, source, published_at, fetched_at, text, "
    "is_full_text, content_hash, story_id"
)


def _row_article(r: tuple[object, ...]) -> Article:
    return Article(
        id=int(r[0]),  # type: ignore[call-overload]
        guid=r[1],  # type: ignore[arg-type]
        url=str(r[2]),
        canonical_url=str(r[3]),
        title=str(r[4]),
        source=str(r[5]),
        published_at=from_db(str(r[6])),
        fetched_at=from_db(str(r[7])),
        text=str(r[8]),
        is_full_text=bool(r[9]),
        content_hash=str(r[10]),
        story_id=r[11],  # type: ignore[arg-type]
    )


class Naive:
    """What one would write first: LIKE scans, and the same summarizer on each hit."""

    def __init__(self, db: Path) -> None:
        self.conn = sqlite3.connect(str(db))
        self.summarizer = ExtractiveSummarizer()

    def like(self, words: Sequence[str], *, any_word: bool = False) -> list[Article]:
        joiner = " OR " if any_word else " AND "
        where = joiner.join("(title LIKE ? OR text LIKE ?)" for _ in words)
        params = [p for w in words for p in (f"%{w}%", f"%{w}%")]
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM articles WHERE {where} "
            f"ORDER BY published_at DESC LIMIT {NAIVE_LIMIT}",
            params,
        ).fetchall()
        return [_row_article(r) for r in rows]

    async def brief(self, topic: str) -> int:
        found = self.like([topic])
        for article in found:
            await self.summarizer.summarize(Story((article,)))
        return len(found)

    async def ask(self, question: str) -> int:
        words = query_terms(question)
        found = self.like(words) if words else []
        if not found and len(words) > 1:
            found = self.like(words, any_word=True)
        draft = await self.summarizer.answer(question, found, [])
        return len(draft.points)


@dataclass
class PollResult:
    seconds: float
    entries: int
    not_modified: int
    failed: int


async def naive_poll(
    urls: Sequence[str],
    db: Path,
    etags: dict[str, str],
    *,
    feed_concurrency: int,
    host_concurrency: int,
    conditional: bool,
    counts: dict[str, int] | None = None,
) -> PollResult:
    """httpx GET (conditional on the second poll), feedparser.parse, INSERT; with as many
    feeds in flight and requests per host as the bot allows."""
    conn = sqlite3.connect(str(db), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")  # the bot's own settings, to compare like with like
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS entries (id INTEGER PRIMARY KEY, feed TEXT, guid TEXT, "
        "link TEXT, title TEXT, published TEXT, text TEXT)"
    )
    feeds = asyncio.Semaphore(feed_concurrency)
    host = asyncio.Semaphore(host_concurrency)  # every feed here is on one host
    counts = {} if counts is None else counts  # the caller's, should it cancel us
    for key in ("entries", "304", "failed"):
        counts.setdefault(key, 0)

    async with httpx.AsyncClient(timeout=20.0, trust_env=False) as client:

        async def one(url: str) -> None:
            async with feeds:
                headers = {"If-None-Match": etags[url]} if conditional and url in etags else {}
                try:
                    async with host:
                        response = await client.get(url, headers=headers)
                except httpx.HTTPError:
                    counts["failed"] += 1
                    return
                if response.status_code == 304:
                    counts["304"] += 1
                    return
                if response.status_code != 200:
                    counts["failed"] += 1
                    return
                if "ETag" in response.headers:
                    etags[url] = response.headers["ETag"]
                parsed = feedparser.parse(response.content)
                rows = [
                    (
                        url,
                        e.get("id"),
                        e.get("link"),
                        e.get("title"),
                        e.get("published"),
                        (e.get("content") or [{}])[0].get("value") or e.get("summary", ""),
                    )
                    for e in parsed.entries
                ]
                conn.execute("BEGIN")
                conn.executemany(
                    "INSERT INTO entries (feed, guid, link, title, published, text) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
                conn.execute("COMMIT")
                counts["entries"] += len(rows)

        started = time.perf_counter()
        try:
            await asyncio.gather(*(one(u) for u in urls))
        finally:
            seconds = time.perf_counter() - started
            conn.close()
    return PollResult(seconds, counts["entries"], counts["304"], counts["failed"])


# --- the loopback feed server ------------------------------------------------------------


class FeedServer:
    def __init__(self, sets: dict[str, int]) -> None:
        ctx = mp.get_context("fork")
        self._conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=serve_feeds, args=(child, sets, ITEMS_PER_FEED, FEED_HOURS), daemon=True
        )
        self.process.start()
        self.base = ""
        self.bytes = 0

    def wait_ready(self) -> None:
        _, port, size = self._conn.recv()
        self.base, self.bytes = f"http://127.0.0.1:{port}", size

    def urls(self, prefix: str, count: int) -> list[str]:
        return [self.base + feed_path(prefix, i) for i in range(count)]

    async def stats(self, reset: bool = False) -> dict[str, int]:
        async with httpx.AsyncClient(trust_env=False) as client:
            r = await client.get(self.base + ("/_reset" if reset else "/_stats"))
            return stats_json(r.content)

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()  # our own child, by its handle
        self.process.join(5)


# --- the figures ---------------------------------------------------------------------------


def settings_for(db: Path, feeds: Sequence[str]) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        NEWSBRIEF_DB=db,
        NEWSBRIEF_FEEDS=",".join(feeds),
        NEWSBRIEF_ALLOW_PRIVATE_URLS=True,
        NEWSBRIEF_LOG_LEVEL="WARNING",
    )


async def open_app(db: Path, feeds: Sequence[str]) -> App:
    return await bootstrap(settings_for(db, feeds), summarizer=ExtractiveSummarizer(), chat=no_chat)


def concurrency_of(app: App) -> tuple[int, int]:
    """Feeds in flight and requests per host, as this build of the bot has them."""
    s = app.settings
    feeds = getattr(s, "ingest_concurrency", None)
    if feeds is None:
        semaphore = app.ingest._concurrency  # older builds: IngestService's default
        feeds = semaphore._value
    return int(feeds), int(s.per_host_concurrency)


def topics_for(corpus: Corpus) -> list[str]:
    ranked = sorted(corpus.events[CEASEFIRE_EVENTS:], key=lambda e: -corpus.share(e.id))
    top, mid, tail = ranked[0], ranked[len(ranked) // 3], ranked[-1]
    words = [
        "ceasefire",
        "officials",
        "government",
        "election",
        "inflation",
        "interest rates",
        "central bank",
        "earthquake",
        "vaccine",
        "strike",
        "tariffs",
        "merger",
        "protest",
        "oil prices",
        "wildfire",
        "football",
        "drought",
        "cyberattack",
        "space launch",
        "court ruling",
        "heatwave",
        f"{top.place} {top.kind}",
        top.people[0],
        f"ceasefire {corpus.events[0].place}",
        mid.people[1],
        mid.org,
        tail.people[2],
        f"{tail.place} {tail.people[0].split()[1]}",
        "zeppelin",
        "banana bread",
    ]
    return list(dict.fromkeys(words))


def match_count(db: Path, topic: str) -> int:
    query = fts_query(query_terms(topic), "all")
    if query is None:
        return 0
    with sqlite3.connect(str(db)) as conn:
        return int(
            conn.execute(
                "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?", (query,)
            ).fetchone()[0]
        )


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


async def bench_briefs(
    app: App, naive: Naive, topics: list[str], rounds: int, db: Path, res: Results
) -> None:
    ours: dict[str, list[float]] = {t: [] for t in topics}
    base: dict[str, list[float]] = {t: [] for t in topics}
    await app.chat.briefs.brief(CONSOLE_SCOPE, "ceasefire")  # warm caches on both sides
    await naive.brief("ceasefire")
    for r in range(rounds):
        order = topics if r % 2 == 0 else topics[::-1]
        for topic in order:
            ours[topic].append(
                await timed(lambda t=topic: app.chat.briefs.brief(CONSOLE_SCOPE, t))  # type: ignore[misc]
            )
            base[topic].append(await timed(lambda t=topic: naive.brief(t)))  # type: ignore[misc]
    print(f"    {'topic':<34} {'matches':>8} {'ours p50':>10} {'naive p50':>10}")
    for topic in topics:
        print(
            f"    {topic[:34]:<34} {match_count(db, topic):>8,} "
            f"{p50(ours[topic]) * 1000:>8.1f}ms {p50(base[topic]) * 1000:>8.1f}ms"
        )
    all_ours = [x for v in ours.values() for x in v]
    all_base = [x for v in base.values() for x in v]
    n = f"{len(topics)} topics x {rounds}"
    res.rows.append(Row(f"/brief p50 ({n})", p50(all_ours) * 1000, p50(all_base) * 1000, "ms"))
    res.rows.append(Row(f"/brief p99 ({n})", p99(all_ours) * 1000, p99(all_base) * 1000, "ms"))


async def bench_asks(app: App, naive: Naive, rounds: int, res: Results) -> None:
    ours: list[float] = []
    base: list[float] = []
    slowest: list[tuple[float, float, str]] = []
    for r in range(rounds):
        for question in QUESTIONS if r % 2 == 0 else QUESTIONS[::-1]:
            a = await timed(lambda q=question: app.chat.asks.ask(CONSOLE_SCOPE, q))  # type: ignore[misc]
            b = await timed(lambda q=question: naive.ask(q))  # type: ignore[misc]
            ours.append(a)
            base.append(b)
            slowest.append((a, b, question))
    slowest.sort(reverse=True)
    for a, b, q in slowest[:3]:
        print(f"    slowest for us: {a * 1000:.0f} ms (naive {b * 1000:.0f} ms): {q}")
    n = f"{len(QUESTIONS)} questions x {rounds}"
    res.rows.append(Row(f"ask, whole store, p50 ({n})", p50(ours) * 1000, p50(base) * 1000, "ms"))
    res.rows.append(Row(f"ask, whole store, p99 ({n})", p99(ours) * 1000, p99(base) * 1000, "ms"))


async def budgeted(work: Awaitable[T], budget: float) -> tuple[float, T | None]:
    """Run `work` for at most `budget` seconds: (seconds, result), or (budget, None) once
    cancelled. Our first polls at scale do not finish in any reasonable time (see the
    report), so they are cut off and measured over what they stored."""
    task = asyncio.ensure_future(work)
    started = time.perf_counter()
    done, _ = await asyncio.wait({task}, timeout=budget)
    seconds = time.perf_counter() - started
    if task in done:
        return seconds, task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return seconds, None


async def settle(app: App) -> None:
    """After a cancelled poll: let the store's queued statements finish, and roll back a
    transaction the cancellation left open (cancelled while awaiting its BEGIN)."""
    conn = app.store.db.conn  # type: ignore[attr-defined]
    await conn.execute("SELECT 1")
    if conn.in_transaction:
        await conn.execute("ROLLBACK")


async def progress(db: Path, every: float, stop: asyncio.Event) -> None:
    """Print what the store holds every `every` seconds: the rate falls as stories grow."""
    started, last_n, last_t = time.perf_counter(), 0, 0.0
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        t = time.perf_counter() - started
        n = await _count(db, STORED_SQL)
        print(
            f"      t={t:5.0f} s: {n:>7,} stored, {(n - last_n) / (t - last_t):6.1f} /s since last"
        )
        last_n, last_t = n, t


STORED_SQL = "SELECT (SELECT count(*) FROM articles) + (SELECT count(*) FROM reprints)"


async def bench_ingest(
    server: FeedServer, count: int, budget: float, tmp: Path, res: Results, phases: Phases
) -> None:
    urls = server.urls("p", count)
    db = tmp / "ingest.db"
    app = await open_app(db, urls)
    feed_conc, host_conc = concurrency_of(app)
    print(
        f"    concurrency: {feed_conc} feeds in flight, {host_conc} requests per host; "
        f"budget {budget:.0f} s"
    )
    try:
        await server.stats(reset=True)
        stop = asyncio.Event()
        watcher = asyncio.create_task(progress(db, max(5.0, budget / 8), stop))
        first, reports = await budgeted(app.ingest.poll_all(), budget)
        stop.set()
        await watcher
        await settle(app)
        stored = await _count(db, STORED_SQL)
        stories = await _count(db, "SELECT count(DISTINCT story_id) FROM articles")
        done = [f for f in await app.store.polled_feeds() if f.etag]
        served = await server.stats(reset=True)
        if reports is None:
            total = count * ITEMS_PER_FEED
            print(
                f"    ours, first poll: CUT OFF after {first:.0f} s: {len(done)} of {count} feeds "
                f"done, {stored:,} entries stored ({stories:,} stories). All {total:,} entries "
                f"would take {duration(total / (stored / first))} at the average rate so far"
            )
            res.notes.append(
                f"Our first poll was cut off at its {budget:.0f} s budget with {len(done):,} of "
                f"{count:,} feeds done ({stored:,} entries); the whole poll would take about "
                f"{duration(total / (stored / first))} at that rate. The first-poll rows compare "
                "both sides on the feeds it finished; the second poll is of every feed (ETags "
                "written for the rest)."
            )
        else:
            errors = [r for r in reports if r.status == "error"]
            print(
                f"    ours, first poll: {len(reports)} feeds in {first:.1f} s, {stored} entries "
                f"stored ({stories} stories), {len(errors)} errors"
            )
            if errors:
                print(f"    first error: {errors[0].error}")
        print(f"    server: {served['200']} x 200, {served['404']} article-page fetches")
        workers_mb = worker_rss_mb()
        print(
            f"    memory after the first poll: {rss_mb():.0f} MB (peak {peak_rss_mb():.0f} MB), "
            f"worker processes {workers_mb:.0f} MB"
        )
        res.notes.append(
            f"The bot's worker processes (parsing, fingerprinting) held {workers_mb:.0f} MB "
            "resident after the first poll, beside the bot's own process in the RSS rows."
        )
        done_urls = [f.url for f in done]

        naive_db = tmp / "naive_ingest.db"
        etags: dict[str, str] = {}
        naive_first = await naive_poll(
            done_urls,
            naive_db,
            etags,
            feed_concurrency=feed_conc,
            host_concurrency=host_conc,
            conditional=False,
        )
        await server.stats(reset=True)
        print(
            f"    naive, first poll of those {len(done_urls)} feeds: {naive_first.seconds:.1f} s, "
            f"{naive_first.entries} entries, {naive_first.failed} failed"
        )
        label = f"{len(done_urls):,} feeds" + ("" if reports is not None else f" of {count:,}")
        res.rows.append(
            Row(
                f"first poll, {label} x {ITEMS_PER_FEED} (higher is better)",
                stored / first,
                naive_first.entries / naive_first.seconds,
                "entries/s",
            )
        )
        res.rows.append(Row(f"first poll, {label}: wall time", first, naive_first.seconds, "s"))
        phases.begin("4. second poll, every feed 304")
        if reports is None:
            # The first poll did not reach every feed: give the rest the ETag it would have
            # stored, so the second poll is of all of them, every one answering 304.
            with sqlite3.connect(str(db)) as conn:
                conn.executemany(
                    "UPDATE feeds SET etag = ? WHERE url = ? AND etag IS NULL",
                    [(etag_for(urlsplit(u).path), u) for u in urls],
                )
            etags.update({u: etag_for(urlsplit(u).path) for u in urls})
            print(
                f"    ETags written for the {count - len(done):,} feeds the first poll "
                "did not finish (both sides)"
            )
        started = time.perf_counter()
        second_reports = await app.ingest.poll_all()
        second = time.perf_counter() - started
        served = await server.stats(reset=True)
        statuses = Counter(r.status for r in second_reports)
        print(f"    ours, second poll: {second:.2f} s, {dict(statuses)}; server: {served}")
        naive_second = await naive_poll(
            urls,
            naive_db,
            etags,
            feed_concurrency=feed_conc,
            host_concurrency=host_conc,
            conditional=True,
        )
        served = await server.stats(reset=True)
        print(
            f"    naive, second poll: {naive_second.seconds:.2f} s, "
            f"{naive_second.not_modified} x 304; server: {served}"
        )
        res.rows.append(
            Row(f"second poll, {count:,} feeds all 304", second, naive_second.seconds, "s")
        )
    finally:
        await app.close()


async def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(str(db)) as conn:
        return int(conn.execute(sql).fetchone()[0])


@dataclass
class Stall:
    seconds: float
    finished: bool
    lateness: list[float]
    briefs: list[float]

    @property
    def max_late(self) -> float:
        return max(self.lateness, default=0.0)


async def under_load(
    ingest: Awaitable[object],
    budget: float,
    brief: Callable[[str], Awaitable[object]],
    topics: list[str],
) -> Stall:
    """Run `ingest` (for at most `budget` s) while a 10 ms ticker measures the event loop's
    lateness and `brief` is called every 100 ms (back to back when one takes longer)."""
    stop = asyncio.Event()
    lateness: list[float] = []
    briefs: list[float] = []

    async def ticker() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            await asyncio.sleep(TICK)
            lateness.append(time.perf_counter() - started - TICK)

    async def briefer() -> None:
        i = 0
        due = time.perf_counter()
        while not stop.is_set():
            started = time.perf_counter()
            await brief(topics[i % len(topics)])
            briefs.append(time.perf_counter() - started)
            i += 1
            due += BRIEF_EVERY
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                due = time.perf_counter()

    tasks = [asyncio.create_task(ticker()), asyncio.create_task(briefer())]
    await asyncio.sleep(0)
    try:
        seconds, result = await budgeted(ingest, budget)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    return Stall(seconds, result is not None, lateness, briefs)


async def bench_stall(
    app: App,
    naive: Naive,
    server: FeedServer,
    count: int,
    budget: float,
    topics: list[str],
    db: Path,
    tmp: Path,
    res: Results,
) -> None:
    urls = server.urls("s", count)
    wanted = set(urls)
    feeds = [f for f in await app.store.polled_feeds() if f.url in wanted]
    feed_conc, host_conc = concurrency_of(app)

    async def ours_brief(topic: str) -> None:
        await app.chat.briefs.brief(CONSOLE_SCOPE, topic)

    # At rest first: what the ticker sees with nothing else running.
    idle: list[float] = []
    until = time.perf_counter() + 1.0
    while time.perf_counter() < until:
        started = time.perf_counter()
        await asyncio.sleep(TICK)
        idle.append(time.perf_counter() - started - TICK)
    print(f"    idle ticker: max lateness {max(idle) * 1000:.1f} ms over 1 s")

    await server.stats(reset=True)
    before = await _count(db, STORED_SQL)
    ours = await under_load(app.ingest.poll(feeds), budget, ours_brief, topics)
    await settle(app)
    ours_entries = await _count(db, STORED_SQL) - before
    served = await server.stats(reset=True)
    cut = "" if ours.finished else f" (CUT OFF at the {budget:.0f} s budget)"
    print(
        f"    ours: {len(feeds)} feeds, {ours_entries} entries stored into the big store in "
        f"{ours.seconds:.1f} s{cut}; {len(ours.briefs)} briefs; max stall "
        f"{ours.max_late * 1000:.0f} ms, p99 stall {p99(ours.lateness) * 1000:.1f} ms; "
        f"server {served}"
    )

    counts: dict[str, int] = {}

    async def naive_work() -> int:
        # The naive loop is done in a moment: it polls the same feeds again (a fresh table,
        # no ETags) until the same time has passed, so both sides are measured under load
        # for as long.
        rounds = 0
        while True:
            await naive_poll(
                urls,
                tmp / f"naive_stall{rounds}.db",
                {},
                feed_concurrency=feed_conc,
                host_concurrency=host_conc,
                conditional=False,
                counts=counts,
            )
            rounds += 1
            if time.perf_counter() - started >= budget:
                return rounds

    started = time.perf_counter()
    base = await under_load(naive_work(), budget, naive.brief, topics)
    cut = "" if base.finished else f" (cut off at the {budget:.0f} s budget)"
    print(
        f"    naive, polling them over and over: {counts['entries']} entries in "
        f"{base.seconds:.1f} s{cut}; "
        f"{len(base.briefs)} briefs; max stall {base.max_late * 1000:.0f} ms, "
        f"p99 stall {p99(base.lateness) * 1000:.1f} ms"
    )
    res.rows.append(
        Row(
            "max event-loop stall: first poll into the store + brief/100ms",
            ours.max_late * 1000,
            base.max_late * 1000,
            "ms",
        )
    )
    res.rows.append(
        Row(
            f"brief p99 during that ingest (n={len(ours.briefs)} / {len(base.briefs)})",
            p99(ours.briefs) * 1000,
            p99(base.briefs) * 1000,
            "ms",
        )
    )
    res.rows.append(
        Row(
            "ingest rate during that (higher is better)",
            ours_entries / ours.seconds,
            counts["entries"] / base.seconds,
            "entries/s",
        )
    )


def build_store(path: Path, articles: int, feeds: int) -> None:
    async def schema() -> None:
        store = await SqliteStore.open(path)  # the real schema and migrations
        await store.close()

    asyncio.run(schema())
    ctx = mp.get_context("fork")
    child = ctx.Process(
        target=fill_store,
        kwargs={
            "path": str(path),
            "articles": articles,
            "feeds": feeds,
            "days": STORE_DAYS,
            "now": datetime.now(UTC),
        },
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"building the store failed (exit code {child.exitcode})")


async def run(
    args: argparse.Namespace,
    tmp: Path,
    server: FeedServer,
    res: Results,
    phases: Phases,
    rss_start: float,
) -> None:
    db = tmp / "store.db"
    corpus = Corpus()
    topics = topics_for(corpus)
    store_urls = [store_feed_url(i) for i in range(args.feeds)]
    stall_urls = server.urls("s", args.stall_feeds)

    phases.begin(f"1. /brief over {args.articles:,} articles")
    app = await open_app(db, store_urls + stall_urls)
    naive = Naive(db)
    try:
        await app.chat.briefs.brief(CONSOLE_SCOPE, "ceasefire")
        freeze_long_lived()  # as `serve` does once the bot is up
        rss_store = rss_mb()
        print(f"    RSS with the store open: {rss_store:.0f} MB")
        await bench_briefs(app, naive, topics, args.rounds, db, res)
        phases.begin("2. ask over the whole store")
        await bench_asks(app, naive, args.rounds, res)
        rss_after_queries = rss_mb()
        phases.begin(f"3. first poll of {args.poll_feeds:,} loopback feeds")
        await bench_ingest(server, args.poll_feeds, args.poll_budget, tmp, res, phases)
        phases.begin(f"5. stall: first poll of {args.stall_feeds:,} feeds into the store + briefs")
        await bench_stall(
            app, naive, server, args.stall_feeds, args.stall_budget, topics, db, tmp, res
        )
    finally:
        naive.conn.close()
        await app.close()
    phases.done()
    res.rows.append(
        Row(
            f"RSS with the {args.articles // 1000}k store open, after a brief "
            "(baseline: at start, imports only)",
            rss_store,
            rss_start,
            "MB",
        )
    )
    res.rows.append(Row("peak RSS of the run (baseline: at start)", peak_rss_mb(), rss_start, "MB"))
    res.notes.append(f"RSS after briefs and asks: {rss_after_queries:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--feeds", type=int, default=1_000, help="feeds of the brief store")
    parser.add_argument("--poll-feeds", type=int, default=10_000)
    parser.add_argument(
        "--stall-feeds",
        type=int,
        default=None,
        help="feeds polled into the store during "
        "the stall figure (default: a fifth of --poll-feeds)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--poll-budget",
        type=float,
        default=None,
        help="seconds our first poll may take "
        "before it is cut off (default: 0.05 s a feed, 20 to 600 s)",
    )
    parser.add_argument(
        "--stall-budget",
        type=float,
        default=None,
        help="seconds of ingest under brief load, "
        "each side (default: a quarter of --poll-budget, at least 5)",
    )
    args = parser.parse_args()
    if args.stall_feeds is None:
        args.stall_feeds = max(1, args.poll_feeds // 5)
    if args.poll_budget is None:
        args.poll_budget = min(600.0, max(20.0, 0.05 * args.poll_feeds))
    if args.stall_budget is None:
        args.stall_budget = max(5.0, args.poll_budget / 4)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("bot").setLevel(logging.WARNING)
    random.seed(1)

    rss_start = rss_mb()
    print(
        f"options: articles={args.articles:,} feeds={args.feeds:,} "
        f"poll-feeds={args.poll_feeds:,} stall-feeds={args.stall_feeds:,} rounds={args.rounds} "
        f"poll-budget={args.poll_budget:.0f}s stall-budget={args.stall_budget:.0f}s "
        f"(cpus: {os.cpu_count()}, python {sys.version.split()[0]}, "
        f"sqlite {sqlite3.sqlite_version})",
        flush=True,
    )
    phases = Phases()
    res = Results()
    wall = time.perf_counter()
    phases.begin("0. setup: feed server renders feeds (child) while the store is built (child)")
    server = FeedServer({"p": args.poll_feeds, "s": args.stall_feeds})
    try:
        with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp_name:
            tmp = Path(tmp_name)
            build_store(tmp / "store.db", args.articles, args.feeds)
            size = (tmp / "store.db").stat().st_size
            print(f"    store: {size / 2**20:.0f} MB on disk")
            server.wait_ready()
            print(f"    feed server at {server.base}: {server.bytes / 2**20:.0f} MB of feeds")
            asyncio.run(run(args, tmp, server, res, phases, rss_start))
    finally:
        server.stop()
    total = time.perf_counter() - wall
    print_table(res, phases, total)


def print_table(res: Results, phases: Phases, total: float) -> None:
    header = ("figure", "newsbrief", "naive baseline", "ratio")
    rows = [header, *(r.cells() for r in res.rows)]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    print()
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows[1:]:
        cells = [
            row[0].ljust(widths[0]),
            *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)),
        ]
        print("| " + " | ".join(cells) + " |")
    print("\nratio = newsbrief / naive baseline (for times, lower is better).")
    for note in res.notes:
        print(note)
    print(
        "phases: "
        + ", ".join(f"{name.split(' ', 1)[0]} {t:.0f} s" for name, t in phases.times)
        + f"; total {total:.0f} s"
    )


if __name__ == "__main__":
    main()

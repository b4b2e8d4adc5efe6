"""The PostgreSQL store as the bot runs on it: chosen by NEWSBRIEF_DATABASE_URL, migrated
once however many processes start, and the whole app working on it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web

from bot.app import bootstrap, database_name, no_chat
from bot.config import Settings
from bot.domain import CONSOLE_SCOPE, StartupError
from bot.services.stories import StoryDesk
from bot.store.pg import PostgresStore
from bot.store.pg.schema import SCHEMA_VERSION
from tests.fakes.feed_server import Handler, feed_server
from tests.helpers import new_article, poll_in_order
from tests.pg import empty_database


async def test_processes_starting_at_once_migrate_the_database_once(pg_database: str) -> None:
    """Three stores opened together: one migrates, all find the current schema."""
    stores = await asyncio.gather(*(PostgresStore.open(pg_database) for _ in range(3)))
    try:
        assert [await s.schema_version() for s in stores] == [SCHEMA_VERSION] * 3
        conn = await asyncpg.connect(pg_database)
        try:
            assert await conn.fetchval("SELECT count(*) FROM newsbrief_schema") == 1
        finally:
            await conn.close()
    finally:
        for store in stores:
            await store.close()


async def test_the_bot_runs_on_postgresql_when_the_url_is_set(
    pg_database: str, tmp_path: Path
) -> None:
    """NEWSBRIEF_DATABASE_URL: feeds polled into PostgreSQL, a brief found there, no
    SQLite file made."""
    await empty_database(pg_database)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        NEWSBRIEF_DATABASE_URL=pg_database,
        NEWSBRIEF_DB=tmp_path / "unused.db",
    )
    app = await bootstrap(settings)
    try:
        assert isinstance(app.store, PostgresStore) and not app.store.embedded
        reports = await poll_in_order(app)
        assert all(r.status == "ok" for r in reports), reports
        brief = await app.chat.briefs.brief(CONSOLE_SCOPE, "battery")
        assert brief.found and brief.citations
    finally:
        await app.close()
    assert not (tmp_path / "unused.db").exists()


async def test_a_database_that_cannot_be_reached_is_a_startup_error_without_the_password(
    tmp_path: Path,
) -> None:
    """A dead server or a wrong URL says which setting, never the password."""
    url = "postgresql://bot:hunter2@127.0.0.1:1/newsbrief"
    settings = Settings(_env_file=None, NEWSBRIEF_DATABASE_URL=url)  # type: ignore[call-arg]
    with pytest.raises(StartupError) as caught:
        await bootstrap(settings)
    assert "NEWSBRIEF_DATABASE_URL (postgresql://bot@127.0.0.1:1/newsbrief)" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert database_name(url) == "postgresql://bot@127.0.0.1:1/newsbrief"


async def test_two_processes_polling_together_fetch_each_feed_once(pg_database: str) -> None:
    """Two bots on one database poll 60 due feeds at once: each feed is fetched by one of
    them, once; polled again at once, none is due."""
    await empty_database(pg_database)
    async with feed_server() as server:
        urls = [server.serve(f"/f{i}.xml", _slow_feed(i)) for i in range(60)]
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            NEWSBRIEF_DATABASE_URL=pg_database,
            NEWSBRIEF_FEEDS=",".join(urls),
            NEWSBRIEF_ALLOW_PRIVATE_URLS=True,
            NEWSBRIEF_CPU_WORKERS=0,
        )
        bots = [await bootstrap(settings, chat=no_chat) for _ in range(2)]
        try:
            first = await asyncio.gather(*(bot.ingest.poll_due() for bot in bots))
            assert sorted(server.count(f"/f{i}.xml") for i in range(60)) == [1] * 60
            assert all(r.status == "ok" for reports in first for r in reports)
            assert all(reports for reports in first)  # both took a share
            again = await asyncio.gather(*(bot.ingest.poll_due() for bot in bots))
            assert again == [[], []]
            assert len(server.hits) == 60
        finally:
            for bot in bots:
                await bot.close()


def _slow_feed(i: int) -> Handler:
    body = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {i}</title>'
        f"<item><title>Harbour cranes idle on day {i}</title>"
        f"<link>https://news.example/{i}</link><guid>g{i}</guid>"
        f"<description>Dock workers on day {i} kept the cranes idle.</description>"
        "</item></channel></rss>"
    )

    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(0.01)  # both bots' polls overlap
        return web.Response(text=body, content_type="application/rss+xml")

    return handler


STRIKE = (
    "Harbour cranes idle as Port Veland dock strike enters third day",
    "Dock workers at Port Veland walked out for a third day on Wednesday, leaving 40 cranes "
    "idle and 12 container ships waiting offshore. The Veland Dockers Union said talks with "
    "the port authority over pay had collapsed.",
)
STRIKE_RETOLD = (
    "Port Veland strike: 12 ships wait as cranes stand still",
    "Twelve container ships were waiting off Port Veland on Wednesday as a dock workers' "
    "strike over pay entered its third day, the Veland Dockers Union said. Forty cranes "
    "stood idle after talks with the port authority collapsed.",
)


async def test_two_processes_placing_one_event_at_once_make_one_story(
    pg_database: str,
) -> None:
    """Two outlets' reports of one event stored at the same moment by two bots on one
    database: the second is placed seeing the first, so they are one story."""
    await empty_database(pg_database)
    stores = [await PostgresStore.open(pg_database) for _ in range(2)]
    try:
        desks = [StoryDesk(store, shared=True) for store in stores]
        feeds = [await stores[0].add_feed(f"https://outlet{n}.example/feed") for n in (1, 2)]
        for n, (desk, feed) in enumerate(zip(desks, feeds, strict=True)):
            # Each bot has built its story index before either stores a report.
            other = new_article(f"https://outlet{n}.example/b", f"Library {n} reopens", "Books.")
            await desk.store_all(feed, [other])
        stored = await asyncio.gather(
            *(
                desk.store_all(feed, [new_article(f"https://outlet{n}.example/a", *text)])
                for n, (desk, feed, text) in enumerate(
                    zip(desks, feeds, (STRIKE, STRIKE_RETOLD), strict=True)
                )
            )
        )
        ids = [article_id for (article_id,) in stored]
        assert None not in ids
        articles = await stores[0].get_articles([i for i in ids if i is not None])
        assert len({a.story_id for a in articles}) == 1
    finally:
        for store in stores:
            await store.close()


async def test_search_ranks_from_the_rum_index_where_the_server_has_the_extension(
    pg_database: str,
) -> None:
    """With the rum extension the migration makes a RUM index and search reads matches
    from it in rank order; without it the store searches on GIN alone."""
    conn = await asyncpg.connect(pg_database)
    try:
        available = await conn.fetchval(
            "SELECT count(*) > 0 FROM pg_available_extensions WHERE name = 'rum'"
        )
        store = await PostgresStore.open(pg_database)
        try:
            assert store.ranked_index == available
            if not available:
                return  # .ci/run installs it: postgresql-NN-rum
            # On a near-empty table the planner may pick a sequential scan on cost
            # alone; with scans that cannot rank switched off, the plan shows whether
            # the RUM index can serve the ranked query at all.
            await conn.execute("SET enable_seqscan = off; SET enable_bitmapscan = off")
            plan = await conn.fetch(
                "EXPLAIN SELECT a.id FROM articles a "
                "WHERE a.search @@ to_tsquery('english', 'rail') "
                "ORDER BY a.search <=> to_tsquery('english', 'rail') LIMIT 100"
            )
            assert any("articles_search_rum" in row[0] for row in plan), plan
        finally:
            await store.close()
    finally:
        await conn.close()


async def test_syncing_the_same_default_feeds_writes_no_row(pg_database: str) -> None:
    """A process starting with the defaults already in place writes (and so locks) none of
    their rows, which the others' polls would skip while it starts; a changed flag is
    written."""
    await empty_database(pg_database)
    store = await PostgresStore.open(pg_database)
    conn = await asyncpg.connect(pg_database)
    try:
        urls = [f"https://news{i}.example/feed" for i in range(5)]
        await store.sync_default_feeds(urls)
        versions = "SELECT url, xmin::text AS v FROM feeds ORDER BY url"
        before = {r["url"]: r["v"] for r in await conn.fetch(versions)}
        defaults = await store.sync_default_feeds([*urls[1:], "https://new.example/feed"])
        after = {r["url"]: r["v"] for r in await conn.fetch(versions)}
        assert [f.url for f in defaults] == [*urls[1:], "https://new.example/feed"]
        assert {u for u in urls if after[u] != before[u]} == {urls[0]}  # no longer a default
    finally:
        await conn.close()
        await store.close()

"""The status page in a real headless browser (Debian's chromium, driven by playwright):
it renders feeds, posts and the chart with no console error, and refuses a wrong token.
The screenshot is kept as a test artifact."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.app import App, bootstrap, no_chat
from bot.config import Settings
from bot.domain import Scope
from bot.probes import serve_probes
from bot.services.ledgers import ClaimTally, LlmCall
from tests.fakes.publisher import RecordingPublisher
from tests.helpers import REPO, digest_scheduler, subscribe_due_now

TOKEN = "status-token-for-the-test"
CHROMIUM = os.environ.get("NEWSBRIEF_TEST_CHROMIUM", "/usr/bin/chromium")
# Where the screenshot is kept (CI may point it elsewhere); .artifacts/ is not committed.
ARTIFACTS = Path(os.environ.get("NEWSBRIEF_TEST_ARTIFACTS", REPO / ".artifacts"))
REQUIRED = os.environ.get("NEWSBRIEF_TEST_REQUIRE_BROWSER", "") == "1"


@pytest.fixture
async def status(tmp_path: Path) -> AsyncIterator[tuple[App, str]]:
    """The bot with some history (an ingest, a digest, model calls, a failing feed), its
    status page served on loopback."""
    broken = tmp_path / "broken.xml"
    broken.write_text("not a feed <at all>")
    samples = sorted((REPO / "bot" / "samples").glob("*.xml"))
    settings = Settings(
        NEWSBRIEF_DB=tmp_path / "status.db",
        NEWSBRIEF_FEEDS=",".join([*map(str, samples), str(broken)]),
        NEWSBRIEF_STATUS_TOKEN=TOKEN,
    )
    app = await bootstrap(settings, chat=no_chat)
    await app.ingest.poll_all()
    now = datetime.now(UTC)
    for days_ago, tokens, dropped in ((3, 1200, 2), (1, 800, 0), (0, 2500, 5)):
        at = now - timedelta(days=days_ago)
        await app.store.record_call(LlmCall("digest_item", "m", "v1", "ok", tokens, 200), at)
        await app.store.record_claims(ClaimTally("digest_item", 10, 1, dropped), at)
    sub = await subscribe_due_now(app, Scope("slack", "T1"), "C1")
    scheduler = digest_scheduler(app, RecordingPublisher(platform="slack"))
    assert await scheduler.post_digest(sub.id) == "posted"
    assert app.probes is not None
    runner = await serve_probes(app.probes, "127.0.0.1", 0)
    try:
        yield app, f"http://127.0.0.1:{runner.addresses[0][1]}/status"
    finally:
        await runner.cleanup()
        await app.close()


async def test_the_status_page_needs_its_token(status: tuple[App, str]) -> None:
    """No token or a wrong one: 403 and nothing of the page; the right one: 200."""
    _, url = status
    async with aiohttp.ClientSession() as http:
        for query in ("", "?token=wrong"):
            async with http.get(url + query) as response:
                assert response.status == 403
                assert "Feeds" not in await response.text()
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with http.get(url, headers=headers) as response:
            assert response.status == 200 and "text/html" in response.headers["Content-Type"]


async def test_the_status_page_is_off_without_a_token(tmp_path: Path) -> None:
    """NEWSBRIEF_STATUS_TOKEN unset: there is no /status at all."""
    app = await bootstrap(Settings(NEWSBRIEF_DB=tmp_path / "s.db"), chat=no_chat)
    assert app.probes is not None
    runner = await serve_probes(app.probes, "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/status?token="
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            assert response.status == 404
    finally:
        await runner.cleanup()
        await app.close()


async def test_the_status_page_renders_in_headless_chromium(status: tuple[App, str]) -> None:
    """Feeds (one failing), the digest posted, the chart's bars and dots; no console
    error; a wrong token shows the refusal; the screenshot is kept."""
    if not _have_chromium():
        if REQUIRED:
            pytest.fail(f"no chromium at {CHROMIUM} (NEWSBRIEF_TEST_REQUIRE_BROWSER=1)")
        pytest.skip(f"no chromium at {CHROMIUM}: apt install chromium (as .ci/run does)")
    from playwright.async_api import async_playwright

    _, url = status
    errors: list[str] = []
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 1200})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            response = await page.goto(f"{url}?token={TOKEN}")
            assert response is not None and response.status == 200
            assert await page.title() == "newsbrief status"
            feeds = await page.locator("#feeds tr").count()
            assert feeds == 1 + 5  # the header, four samples and the broken file
            assert "failing" in await page.locator("#feeds").inner_text()
            assert "digest:" in await page.locator("#posts").inner_text()
            assert await page.locator("#chart rect.tokens").count() == 14
            assert await page.locator("#chart circle.dropped").count() == 3
            shot = _artifact("status-page.png")
            await page.screenshot(path=str(shot), full_page=True)
            assert _size(shot) > 10_000
            assert errors == []  # (the refusal below logs its 403 as a console error)
            refused = await page.goto(f"{url}?token=wrong")
            assert refused is not None and refused.status == 403
        finally:
            await browser.close()


def _have_chromium() -> bool:
    return Path(CHROMIUM).exists() or shutil.which("chromium") is not None


def _artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


def _size(path: Path) -> int:
    return path.stat().st_size

"""/healthz and /metrics over real HTTP: what a platform probes and Prometheus scrapes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import App, bootstrap, no_chat, probe_address
from bot.config import Settings
from bot.domain import Scope
from bot.probes import serve_probes
from tests.fakes.publisher import RecordingPublisher
from tests.helpers import digest_scheduler, subscribe_due_now
from tests.pg_cluster import NoBinaries, private_cluster

SLACK = Scope("slack", "T1")


async def _get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, response.headers["Content-Type"], await response.text()


def _samples(text: str) -> dict[str, float]:
    """Every sample by name (and labels), parsed as Prometheus itself parses the text."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[App, str]]:
    app = await bootstrap(Settings(NEWSBRIEF_DB=tmp_path / "probes.db"), chat=no_chat)
    assert app.probes is not None
    runner = await serve_probes(app.probes, "127.0.0.1", 0)
    try:
        yield app, f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
        await app.close()


async def test_metrics_parse_and_move_after_an_ingest_and_a_digest(
    served: tuple[App, str],
) -> None:
    """Prometheus text that its parser reads; articles, stories and digests counted."""
    app, base = served
    status, kind, text = await _get(f"{base}/metrics")
    assert status == 200 and kind.startswith("text/plain")
    before = _samples(text)
    assert before["newsbrief_articles_stored_total"] == 0
    assert before["newsbrief_feeds"] == 4  # the bundled samples

    await app.ingest.poll_all()
    sub = await subscribe_due_now(app, SLACK, "C1")
    scheduler = digest_scheduler(app, RecordingPublisher(platform="slack"))
    assert await scheduler.post_digest(sub.id) == "posted"

    after = _samples((await _get(f"{base}/metrics"))[2])
    assert after["newsbrief_articles_stored_total"] == 36
    assert after["newsbrief_stories_formed_total"] > 0
    assert after["newsbrief_digests_posted_total"] == before["newsbrief_digests_posted_total"] + 1
    assert after["newsbrief_parts_sent_total"] >= 1
    assert after["newsbrief_model_requests_total{result=ok}"] == 0  # offline summarizer
    assert "newsbrief_event_loop_lag_seconds" in after


async def test_metrics_hold_no_secret_or_message_text(tmp_path: Path) -> None:
    """Tokens and the words of articles never appear in the scrape."""
    settings = Settings(NEWSBRIEF_DB=tmp_path / "p.db", OPENAI_API_KEY="sk-very-secret")
    app = await bootstrap(settings, chat=no_chat)
    assert app.probes is not None
    runner = await serve_probes(app.probes, "127.0.0.1", 0)
    try:
        await app.ingest.poll_all()
        _, _, text = await _get(f"http://127.0.0.1:{runner.addresses[0][1]}/metrics")
    finally:
        await runner.cleanup()
        await app.close()
    assert "sk-very-secret" not in text and "Tessera" not in text and "example" not in text


async def test_healthz_is_200_and_503_when_the_database_is_away(tmp_path: Path) -> None:
    """A real PostgreSQL stopped under the probe: 503; started again: 200."""
    try:
        cluster_cm = private_cluster()
        cluster: Any = await cluster_cm.__aenter__()
    except NoBinaries as exc:
        pytest.skip(str(exc))
    try:
        app = await bootstrap(Settings(NEWSBRIEF_DATABASE_URL=cluster.url), chat=no_chat)
        assert app.probes is not None
        runner = await serve_probes(app.probes, "127.0.0.1", 0)
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            assert (await _get(f"{base}/healthz"))[0] == 200
            await cluster.stop()
            assert (await _get(f"{base}/healthz"))[0] == 503
            assert (await _get(f"{base}/metrics"))[0] == 503
            await cluster.start()
            assert (await _get(f"{base}/healthz"))[0] == 200
        finally:
            await runner.cleanup()
            await app.close()
    finally:
        await cluster_cm.__aexit__(None, None, None)


def test_probe_server_is_the_metrics_port_or_a_platforms_port() -> None:
    """NEWSBRIEF_METRICS_PORT first; PORT when Slack's HTTP mode does not hold it."""
    assert probe_address(Settings()) is None
    assert probe_address(Settings(NEWSBRIEF_METRICS_PORT=9100)) == ("127.0.0.1", 9100)
    assert probe_address(Settings(PORT=8080)) == ("0.0.0.0", 8080)
    http_mode = Settings(PORT=8080, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s")
    assert probe_address(http_mode) is None  # HTTP mode listens on PORT itself

"""The LLM path wired for real against the fake OpenAI-compatible server on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App, build_app
from bot.config import Settings
from bot.llm.openai_client import LlmSummarizer
from bot.services.verify import VerifyingSummarizer
from tests.fakes.openai_server import FakeOpenAI, fake_openai


def llm_of(app: App) -> LlmSummarizer:
    """The model's summarizer inside the claim checker the composition wraps it in."""
    summarizer = app.summarizer
    if isinstance(summarizer, VerifyingSummarizer):
        summarizer = summarizer.inner
    assert isinstance(summarizer, LlmSummarizer)
    return summarizer


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with fake_openai() as server:
        yield server


@pytest.fixture
async def llm_app(fake: FakeOpenAI, tmp_path: Path) -> AsyncIterator[App]:
    """The real composition, its summarizer an LLM at the fake server; sleeps are instant."""
    settings = Settings(
        NEWSBRIEF_DB=tmp_path / "llm.db",
        OPENAI_BASE_URL=fake.base_url,
        OPENAI_MODEL="fake-small",
        NEWSBRIEF_LLM_TIMEOUT=0.5,
        NEWSBRIEF_LLM_MAX_RETRIES=2,
    )
    app = await build_app(settings)
    summarizer = llm_of(app)
    summarizer.sleeps = []  # type: ignore[attr-defined]

    async def instant(seconds: float) -> None:
        summarizer.sleeps.append(seconds)  # type: ignore[attr-defined]

    summarizer._sleep = instant
    await app.ingest.poll_all()
    yield app
    await app.close()

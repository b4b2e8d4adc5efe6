"""The LLM path wired for real against the fake OpenAI-compatible server on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, bootstrap
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


class Sleeps(list[float]):
    """The model client's waits between retries, recorded instead of slept."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


_SLEEPS: dict[int, Sleeps] = {}


def sleeps_of(app: App) -> Sleeps:
    """What the model client of `app` would have slept, in order."""
    return _SLEEPS[id(app)]


@asynccontextmanager
async def llm_app_with(fake: FakeOpenAI, tmp_path: Path, **settings: Any) -> AsyncIterator[App]:
    """The real composition, its summarizer an LLM at the fake server; sleeps are instant."""
    values: dict[str, Any] = {
        "NEWSBRIEF_DB": tmp_path / "llm.db",
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_MODEL": "fake-small",
        "NEWSBRIEF_LLM_TIMEOUT": 0.5,
        "NEWSBRIEF_LLM_MAX_RETRIES": 2,
        **settings,
    }
    sleeps = Sleeps()
    app = await bootstrap(Settings(**values), sleep=sleeps)
    _SLEEPS[id(app)] = sleeps
    try:
        await app.ingest.poll_all()
        yield app
    finally:
        _SLEEPS.pop(id(app), None)
        await app.close()


@pytest.fixture
async def llm_app(fake: FakeOpenAI, tmp_path: Path) -> AsyncIterator[App]:
    async with llm_app_with(fake, tmp_path) as app:
        yield app

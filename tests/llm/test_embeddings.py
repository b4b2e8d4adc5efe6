"""The Embedder on an OpenAI-compatible /v1/embeddings server (the fake on loopback), and
ingest with it wired in by the composition root."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openai import AsyncOpenAI
from pydantic import ValidationError

from bot.config import Settings
from bot.llm.embeddings import BATCH, EMBEDDED_CHARS, OpenAIEmbedder
from bot.services.ports import EmbeddingsUnavailable
from bot.services.story_index import print_from_record
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import closed_port
from tests.llm.conftest import llm_app_with


def _meaning(text: str) -> list[float]:
    """A stand-in model: the vector says how long the text is and how it starts."""
    return [float(len(text)), float(ord(text[0])) if text else 0.0, 1.0]


@asynccontextmanager
async def _embedder(base_url: str) -> AsyncIterator[OpenAIEmbedder]:
    client = AsyncOpenAI(api_key="not-needed", base_url=base_url, timeout=2.0, max_retries=0)
    embedder = OpenAIEmbedder(client, "fake-embed")
    try:
        yield embedder
    finally:
        await embedder.aclose()


async def test_vectors_come_back_in_order_for_each_text_cut_to_its_start(
    fake: FakeOpenAI,
) -> None:
    """One vector per text, in order; a long text is sent only as far as a small model
    reads; a long feed goes in requests of BATCH texts."""
    fake.embed = _meaning
    texts = ["short", "x" * (EMBEDDED_CHARS + 500), *(f"entry {i}" for i in range(BATCH))]
    async with _embedder(fake.base_url) as embedder:
        vectors = await embedder.embed(texts)
    assert [v[0] for v in vectors] == [float(min(len(t), EMBEDDED_CHARS)) for t in texts]
    assert [len(batch) for batch in fake.embedding_requests] == [BATCH, 2]
    assert max(len(t) for batch in fake.embedding_requests for t in batch) == EMBEDDED_CHARS
    assert fake.requests == []  # no chat request was made


async def test_a_server_without_embeddings_is_unavailable_naming_the_status(
    fake: FakeOpenAI,
) -> None:
    """llama-server started without --embeddings answers 501: unavailable, said so."""
    async with _embedder(fake.base_url) as embedder:
        with pytest.raises(EmbeddingsUnavailable, match="HTTP 501"):
            await embedder.embed(["a text"])


async def test_an_unreachable_server_and_a_malformed_answer_are_unavailable(
    fake: FakeOpenAI,
) -> None:
    """A refused connection and an empty vector both raise EmbeddingsUnavailable."""
    port = closed_port()
    async with _embedder(f"http://127.0.0.1:{port}/v1") as embedder:
        with pytest.raises(EmbeddingsUnavailable, match="fake-embed"):
            await embedder.embed(["a text"])
    fake.embed = lambda text: []
    async with _embedder(fake.base_url) as embedder:
        with pytest.raises(EmbeddingsUnavailable, match="malformed"):
            await embedder.embed(["a text"])


async def test_ingest_stores_each_articles_embedding_when_a_model_is_named(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    """With NEWSBRIEF_EMBEDDINGS_MODEL set, the sample feeds' articles are embedded at the
    configured server and their stored fingerprints carry the vectors."""
    fake.embed = _meaning
    async with llm_app_with(fake, tmp_path, NEWSBRIEF_EMBEDDINGS_MODEL="fake-embed") as app:
        prints = await app.store.story_prints(datetime.now(UTC) - timedelta(days=3650))
        assert prints and fake.embedding_requests
        assert all(print_from_record(p.record).embedding is not None for p in prints)
        assert {r.body.get("model") for r in fake.requests} <= {"fake-small"}


async def test_ingest_with_the_model_down_stores_everything_and_warns_once(
    fake: FakeOpenAI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A model that fails costs no article: all are stored, placed by their words, one
    warning names the failure, and the feeds after it do not wait on it."""
    caplog.set_level(logging.WARNING)
    fake.embeddings_status = 500
    async with llm_app_with(fake, tmp_path, NEWSBRIEF_EMBEDDINGS_MODEL="fake-embed") as app:
        prints = await app.store.story_prints(datetime.now(UTC) - timedelta(days=3650))
        assert prints
        # The feeds are polled at once: each batch asked it (with the client's retries)
        # at most once, and none after the model was found down waited on it again.
        tries = 1 + app.settings.llm_max_retries
        assert 0 < len(fake.embedding_requests) <= len(app.settings.feeds) * tries
        assert all(print_from_record(p.record).embedding is None for p in prints)
    warned = [r for r in caplog.records if "embeddings unavailable" in r.getMessage()]
    assert len(warned) == 1 and "HTTP 500" in warned[0].getMessage()


def test_a_named_model_without_any_server_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """NEWSBRIEF_EMBEDDINGS_MODEL alone (no URL, no key) fails at start-up, saying what
    else it needs."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "NEWSBRIEF_EMBEDDINGS_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValidationError, match="NEWSBRIEF_EMBEDDINGS_URL"):
        Settings(_env_file=None, NEWSBRIEF_EMBEDDINGS_MODEL="text-embedding-3-small")  # type: ignore[call-arg]

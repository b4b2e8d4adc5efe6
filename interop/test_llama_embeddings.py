"""Stories placed with a real embeddings server: llama.cpp's `llama-server --embeddings`.

The model is the same SmolLM2-135M GGUF (mean-pooled: a chat model, not one trained for
embeddings, so the grouping's quality is not what is checked here; that is measured in
bench/bench_stories.py). What is checked is the wire: the adapter's requests are
answered, the vectors are stored with every article of the bundled samples, and a
server without embeddings costs no article.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from openai import AsyncOpenAI

from bot.app import bootstrap
from bot.config import Settings
from bot.llm.embeddings import OpenAIEmbedder
from bot.services.story_index import print_from_record
from interop.conftest import LlamaServer, running_llama

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def embedding_llama(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LlamaServer]:
    args = ("--embeddings", "--pooling", "mean", "-c", "2048", "-ub", "2048", "-b", "2048")
    async with running_llama(args, tmp_path_factory) as server:
        yield server


async def test_the_adapter_reads_vectors_from_llama_server(embedding_llama: LlamaServer) -> None:
    """One finite vector per text, all of one size, the same text giving the same one."""
    client = AsyncOpenAI(api_key="not-needed", base_url=embedding_llama.base_url, max_retries=0)
    embedder = OpenAIEmbedder(client, "smollm2")
    try:
        ceasefire = "Ceasefire agreed in the Tarsen valley"
        texts = [ceasefire, "Chile cuts its interest rate", ceasefire]
        vectors = await embedder.embed(texts)
    finally:
        await embedder.aclose()
    assert len(vectors) == 3 and len({len(v) for v in vectors}) == 1
    assert all(math.isfinite(x) for v in vectors for x in v)
    same = sum(a * b for a, b in zip(vectors[0], vectors[2], strict=True))
    norm = math.sqrt(sum(a * a for a in vectors[0]) * sum(b * b for b in vectors[2]))
    assert same / norm == pytest.approx(1.0, abs=1e-3)


async def test_ingest_stores_a_vector_with_every_sample_article(
    embedding_llama: LlamaServer, tmp_path: Path
) -> None:
    """`python -m bot`'s composition, embeddings at llama-server: every stored article of
    the bundled samples carries a vector, and the stories are formed."""
    settings = Settings(
        _env_file=None,
        NEWSBRIEF_DB=tmp_path / "embedded.db",
        NEWSBRIEF_EMBEDDINGS_MODEL="smollm2",
        NEWSBRIEF_EMBEDDINGS_URL=embedding_llama.base_url,
    )
    app = await bootstrap(settings)
    try:
        await app.ingest.poll_all()
        prints = await app.store.story_prints(datetime.now(UTC) - timedelta(days=3650))
    finally:
        await app.close()
    assert prints
    sizes = {len(e) for p in prints if (e := print_from_record(p.record).embedding) is not None}
    missing = [p.article_id for p in prints if print_from_record(p.record).embedding is None]
    assert missing == [] and len(sizes) == 1
    print(f"\n[llama-server embeddings] {len(prints)} articles embedded, {sizes.pop()} dims")

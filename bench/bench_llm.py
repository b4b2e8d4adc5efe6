"""Figures for the LLM path, against the loopback fake (no real model, no network).

- model calls and prompt size for the sample corpus's digest in one channel, then
  in a second channel (which should cost nothing: every summary is cached);
- the latency the bot adds around the model: wall time of an answer minus the
  time the (instant) fake server spends, i.e. prompt building, HTTP on loopback,
  the SDK, validation and the SQLite ledger.

Run with `make bench`. Prints figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import bootstrap
from bot.config import Settings
from bot.domain import CONSOLE_SCOPE, Scope
from bot.llm.openai_client import estimate_tokens
from tests.fakes.openai_server import fake_openai


def _prompt_tokens(requests: list) -> int:  # type: ignore[type-arg]
    return sum(
        estimate_tokens(m.get("content") or "") for r in requests for m in r.body["messages"]
    )


async def main() -> None:
    async with fake_openai() as fake:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(NEWSBRIEF_DB=Path(tmp) / "llm.db", OPENAI_BASE_URL=fake.base_url)
            app = await bootstrap(settings)
            try:
                await app.ingest.poll_all()
                started = time.perf_counter()
                first = await app.chat.digests.digest(CONSOLE_SCOPE)
                first_time = time.perf_counter() - started
                calls_first, tokens_first = fake.calls, _prompt_tokens(fake.requests)
                started = time.perf_counter()
                await app.chat.digests.digest(Scope("slack", "T-SECOND"))
                second_time = time.perf_counter() - started
                print(
                    f"digest, first channel:  {len(first.sections)} stories, {calls_first} "
                    f"model calls, ~{tokens_first:,} prompt tokens (chars/4), "
                    f"{first_time * 1000:.0f} ms"
                )
                print(
                    f"digest, second channel: {fake.calls - calls_first} model calls, "
                    f"~{_prompt_tokens(fake.requests[calls_first:]):,} prompt tokens, "
                    f"{second_time * 1000:.0f} ms"
                )
                samples = []
                for i in range(20):
                    question = f"How many confirmed measles cases are there? ({i})"
                    started = time.perf_counter()
                    await app.chat.asks.ask(CONSOLE_SCOPE, question)
                    samples.append(time.perf_counter() - started)
                print(
                    "added latency around one model call (answer, instant fake server): "
                    f"median {statistics.median(samples) * 1000:.1f} ms, "
                    f"max {max(samples) * 1000:.1f} ms (n={len(samples)})"
                )
            finally:
                await app.close()


if __name__ == "__main__":
    asyncio.run(main())

"""`OPENAI_BASE_URL=<server> python -m bot brief ukraine`, as a user runs it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.fakes.openai_server import FakeOpenAI, status
from tests.helpers import bot_env


async def _bot(
    tmp_path: Path, fake: FakeOpenAI, *args: str, verify: str = "strict"
) -> tuple[int, str, str]:
    env = bot_env(
        NEWSBRIEF_DB=str(tmp_path / "cli.db"),
        OPENAI_BASE_URL=fake.base_url,
        NEWSBRIEF_LLM_MAX_RETRIES="1",
        NEWSBRIEF_LLM_TIMEOUT="2",
        NEWSBRIEF_VERIFY=verify,
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_brief_through_an_openai_compatible_server(tmp_path: Path, fake: FakeOpenAI) -> None:
    """The brief comes from the model, with numbered links, and no offline label."""
    code, out, err = await _bot(tmp_path, fake, "brief", "ukraine")
    assert code == 0, err
    assert fake.calls >= 2
    overview = out.split("\n\n")[1]  # the sentences above the first numbered story
    assert overview.startswith("   - ") and "[" in overview, out
    assert "[1]" in out and "https://" in out
    assert "Extractive summary" not in out and "extractive" not in out


async def test_failing_server_still_gives_the_offline_brief_labelled(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    """With the server failing, the brief is the extractive one, and says why."""
    fake.default = status(503)
    code, out, err = await _bot(tmp_path, fake, "brief", "ukraine")
    assert code == 0, err
    assert "(extractive)" in out
    assert "the model was unavailable (HTTP 503: fake error)" in out
    assert "Traceback" not in err


async def test_stats_counts_calls_tokens_cache_hits_and_failures(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    """`stats` reports what the model cost, including cache hits on a repeated brief."""
    await _bot(tmp_path, fake, "brief", "measles")
    await _bot(tmp_path, fake, "brief", "measles")
    code, out, _ = await _bot(tmp_path, fake, "stats")
    assert code == 0
    assert "LLM (gpt-4.1-mini at http://127.0.0.1:" in out
    assert (
        "requests 1 (ok 1, failed 0), invalid replies 0, fallbacks 0, cache hits 1, "
        "tokens in 100, out 20"
    ) in out

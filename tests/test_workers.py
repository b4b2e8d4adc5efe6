"""Worker processes: parsing and fingerprinting on the machine's other cores."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import bootstrap, no_chat
from bot.config import Settings
from bot.domain import FeedError
from bot.workers import InProcesses, InThread, workers
from tests.helpers import until


def where() -> int:
    return os.getpid()


def refuse() -> None:
    raise FeedError("not a feed", retry_after_seconds=30)


def die_in_a_worker() -> str:
    if multiprocessing.parent_process() is not None:
        os._exit(1)  # a worker killed mid-call, as the OOM killer would
    return "ran in the bot's process"


async def test_work_runs_in_another_process_and_its_errors_come_back_whole() -> None:
    """A worker runs the call; a FeedError it raises arrives with its details."""
    pool = InProcesses(1)
    try:
        assert await pool.run(where) != os.getpid()
        with pytest.raises(FeedError) as raised:
            await pool.run(refuse)
        assert raised.value.retry_after_seconds == 30
    finally:
        await pool.close()


async def test_a_dead_worker_costs_nothing_the_call_runs_in_a_thread_and_the_pool_restarts() -> (
    None
):
    """A worker that dies mid-call: that call runs in the bot's process, the next in a new pool."""
    pool = InProcesses(1)
    try:
        assert await pool.run(die_in_a_worker) == "ran in the bot's process"
        assert await pool.run(where) != os.getpid()
    finally:
        await pool.close()


def test_the_default_is_one_worker_per_spare_core_and_zero_means_a_thread() -> None:
    """Unset: cores beyond the first, at most 4; 0: no processes at all."""
    assert isinstance(workers(0), InThread)
    spare = min(4, (os.cpu_count() or 1) - 1)
    chosen = workers(None)
    assert isinstance(chosen, InProcesses if spare > 0 else InThread)


async def test_the_app_polls_its_feeds_through_worker_processes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With a worker process, the bundled feeds are parsed, fingerprinted and placed."""
    monkeypatch.setenv("NEWSBRIEF_CPU_WORKERS", "1")
    app = await bootstrap(Settings(NEWSBRIEF_DB=tmp_path / "app.db"), chat=no_chat)
    try:
        assert isinstance(app.workers, InProcesses)
        reports = await app.ingest.poll_all()
        assert [r.status for r in reports] == ["ok"] * len(reports)
        stored = sum(r.new_articles for r in reports)
        assert stored > 0
        prints = await app.store.story_prints(datetime.min.replace(tzinfo=UTC))
        assert len(prints) == stored  # fingerprinted in the worker, then placed and stored
    finally:
        await app.close()


_CHILD = """
import asyncio, os, sys
from bot.workers import InProcesses

async def main():
    pool = InProcesses(1)
    print(await pool.run(os.getpid), flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def test_workers_exit_when_the_bot_is_killed_outright() -> None:
    """SIGKILL on the bot runs no clean-up; its worker processes still go with it."""
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, stdout=asyncio.subprocess.PIPE
    )
    assert bot.stdout is not None
    worker = int(await asyncio.wait_for(bot.stdout.readline(), timeout=60))
    assert _alive(worker)
    bot.kill()
    await bot.wait()
    await until(lambda: not _alive(worker), "the worker gone with the bot", seconds=30)

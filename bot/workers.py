"""Where CPU-heavy pure functions run: parsing feeds, reading article pages,
fingerprinting entries.

In a thread they keep the event loop free but share one core with it (the GIL);
in worker processes they use the machine's other cores, which is what lets a
large poll go faster than one core allows. Both implement `Workers`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class InThread:
    """Runs the work in a thread beside the event loop."""

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def close(self) -> None:
        return None


class InProcesses:
    """Runs the work in `count` worker processes, started on first use.

    Workers are spawned, not forked: the bot has threads (SQLite's, the
    executor's) whose locks a forked child would inherit held. A pool that
    breaks (a worker killed, out of memory) is started afresh, and the call
    that found it broken runs in a thread instead: nothing is lost.
    """

    def __init__(self, count: int) -> None:
        self._count = count
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def _executor(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self._count,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_exit_with_parent,
            )
        return self._pool

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        call = functools.partial(fn, *args, **kwargs)
        try:
            return await loop.run_in_executor(self._executor(), call)
        except BrokenProcessPool:
            log.warning("a worker process died; starting new ones, this call runs in a thread")
            broken, self._pool = self._pool, None
            if broken is not None:
                broken.shutdown(wait=False, cancel_futures=True)
            return await asyncio.to_thread(call)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)


def _exit_with_parent() -> None:
    """In a worker: exit when the bot's process ends, even killed with SIGKILL (no
    clean-up runs then, and a worker waiting for work would wait for ever)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # returns when the parent is gone
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def workers(count: int | None) -> InThread | InProcesses:
    """`count` worker processes; None: one per core beyond the first (at most 4);
    0 (or a one-core machine): a thread."""
    if count is None:
        count = min(4, (os.cpu_count() or 1) - 1)
    return InProcesses(count) if count > 0 else InThread()

"""`/healthz` and `/metrics`: what an operator's platform probes, and what Prometheus graphs.

Served on Slack's HTTP-mode server, and on NEWSBRIEF_METRICS_PORT (127.0.0.1 by default)
in any mode. The figures are counted in the database at each scrape, so every process
sharing it reports the same totals and a restart loses none; only the event loop's lag
is this process's own. Neither page carries a secret or any message text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.domain import StartupError, StoreUnavailable
from bot.services.ports import ClaimLedger, HealthStore, LlmLedger
from bot.status_page import StatusPage
from bot.timeutil import utcnow

log = logging.getLogger(__name__)

HEALTHZ_PATH = "/healthz"
METRICS_PATH = "/metrics"
# Claim checks are counted per day; all of them since this day make the running total.
SINCE_EVER = datetime(2000, 1, 1, tzinfo=UTC)


class LoopLag:
    """How late the event loop wakes a sleeper, the worst in the last `window` seconds: a
    slow brief or a poll hogging the loop shows here before anyone complains."""

    def __init__(self, *, every: float = 0.5, window: float = 60.0) -> None:
        self._every = every
        self._window = window
        self._seen: deque[tuple[float, float]] = deque()  # (when, lateness)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time()
            await asyncio.sleep(self._every)
            now = loop.time()
            self._seen.append((now, max(0.0, now - asked - self._every)))
            while self._seen and self._seen[0][0] < now - self._window:
                self._seen.popleft()

    def worst(self) -> float:
        return max((late for _, late in self._seen), default=0.0)


class Probes:
    def __init__(
        self,
        store: HealthStore,
        calls: LlmLedger,
        claims: ClaimLedger,
        lag: LoopLag,
        *,
        status: StatusPage | None = None,
    ) -> None:
        self._store = store
        self._calls = calls
        self._claims = claims
        self.lag = lag
        self._status = status  # the operator's page, when NEWSBRIEF_STATUS_TOKEN is set

    def routes(self) -> list[web.RouteDef]:
        routes = [web.get(HEALTHZ_PATH, self.healthz), web.get(METRICS_PATH, self.metrics)]
        return routes + (self._status.routes() if self._status is not None else [])

    async def healthz(self, request: web.Request) -> web.Response:
        """200 when the database answers, 503 when it does not (the platform restarts or
        stops routing to this process)."""
        now = utcnow()
        try:
            await self._store.health(now=now, overdue_before=now)
        except (StoreUnavailable, OSError) as exc:
            log.debug("healthz: %s", exc)
            return web.Response(status=503, text="database unavailable\n")
        return web.Response(text="ok\n")

    async def metrics(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            families = list(await self._families())
        except (StoreUnavailable, OSError) as exc:
            log.debug("metrics: %s", exc)
            return web.Response(status=503, text="database unavailable\n")
        families.append(
            _gauge(
                "newsbrief_scrape_seconds",
                "Time to read these figures.",
                time.perf_counter() - started,
            )
        )
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Snapshot(families))
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def _families(self) -> Iterable[Metric]:
        totals = await self._store.totals()
        calls = await self._calls.llm_stats(None)
        claims = await self._claims.claims_by_day(SINCE_EVER)
        requests = CounterMetricFamily(
            "newsbrief_model_requests", "Requests sent to the model server.", labels=["result"]
        )
        requests.add_metric(["ok"], calls.ok)
        requests.add_metric(["error"], calls.errors)
        tokens = CounterMetricFamily(
            "newsbrief_model_tokens", "Tokens the model read and wrote.", labels=["direction"]
        )
        tokens.add_metric(["in"], calls.tokens_in)
        tokens.add_metric(["out"], calls.tokens_out)
        deliveries = GaugeMetricFamily(
            "newsbrief_deliveries", "Posts by state, now.", labels=["state"]
        )
        deliveries.add_metric(["pending"], totals.deliveries_pending)
        return [
            _gauge("newsbrief_feeds", "Feeds someone reads.", totals.feeds),
            _gauge(
                "newsbrief_feeds_failing", "Feeds whose last fetch failed.", totals.feeds_failing
            ),
            _counter("newsbrief_articles_stored", "Articles stored.", totals.articles),
            _counter("newsbrief_stories_formed", "Stories formed.", totals.stories),
            _counter("newsbrief_digests_posted", "Daily digests posted.", totals.digests_posted),
            _counter(
                "newsbrief_deliveries_posted",
                "Posts finished: digests, updates, briefs, answers.",
                totals.deliveries_posted,
            ),
            _counter("newsbrief_deliveries_late", "Posts finished late.", totals.deliveries_late),
            _counter(
                "newsbrief_deliveries_abandoned",
                "Posts given up (refused for good, or too old).",
                totals.deliveries_abandoned,
            ),
            deliveries,
            _counter("newsbrief_parts_sent", "Platform messages sent.", totals.parts_sent),
            requests,
            _counter(
                "newsbrief_model_invalid_replies",
                "Model replies that failed validation.",
                calls.invalid,
            ),
            _counter(
                "newsbrief_model_fallbacks",
                "Items that quoted the sources instead of the model.",
                calls.fallbacks,
            ),
            _counter(
                "newsbrief_model_cache_hits",
                "Model answers served from the cache.",
                calls.cache_hits,
            ),
            tokens,
            _counter(
                "newsbrief_claims_checked",
                "Model claims checked against sources.",
                sum(d.checked for d in claims),
            ),
            _counter(
                "newsbrief_claims_dropped",
                "Model claims not posted: unsupported.",
                sum(d.dropped for d in claims),
            ),
            _gauge(
                "newsbrief_event_loop_lag_seconds",
                "This process's worst event-loop lateness in the last minute.",
                self.lag.worst(),
            ),
        ]


class _Snapshot(Collector):
    """Figures read once per scrape, handed to prometheus_client to write out."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        yield from self._families


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


async def serve_probes(probes: Probes, host: str, port: int) -> web.AppRunner:
    """The probes on a server of their own (modes without Slack's HTTP server)."""
    app = web.Application()
    app.add_routes(probes.routes())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise StartupError(
            f"cannot listen on {host}:{port} for /healthz and /metrics ({exc.strerror or exc}): "
            "set NEWSBRIEF_METRICS_PORT to a free port"
        ) from None
    log.info(
        "health and metrics on http://%s:%s%s and %s",
        host,
        runner.addresses[0][1],
        HEALTHZ_PATH,
        METRICS_PATH,
    )
    return runner

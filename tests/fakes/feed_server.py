"""A feed server on loopback (port 0), scriptable per path, for ingest tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class FeedServer:
    base_url: str
    routes: dict[str, Handler] = field(default_factory=dict)
    hits: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def serve(self, path: str, handler: Handler) -> str:
        self.routes[path] = handler
        return self.url(path)

    def count(self, path: str) -> int:
        return sum(1 for p, _ in self.hits if p == path)


@asynccontextmanager
async def feed_server() -> AsyncIterator[FeedServer]:
    server = FeedServer(base_url="")

    async def dispatch(request: web.Request) -> web.StreamResponse:
        server.hits.append((request.path_qs, dict(request.headers)))
        handler = server.routes.get(request.path_qs) or server.routes.get(request.path)
        if handler is None:
            return web.Response(status=404, text="not found")
        return await handler(request)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", dispatch)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.base_url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()
        await asyncio.sleep(0)

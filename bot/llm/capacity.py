"""How much a model server can take: requests at once, and tokens per request.

A local server is not OpenAI: llama.cpp's `llama-server` runs a few slots that
share one context (`-c`), so four 2k-token prompts plus their output overflow
an 8k context and come back as HTTP 500 "Context size has been exceeded."
The bot asks the server what it has where the server can tell, sizes its
prompts to fit, and after a capacity error sends one request at a time until
requests go through again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

log = logging.getLogger(__name__)

# What api.openai.com takes (its models have far larger windows than any prompt here).
OPENAI_FIT_CONCURRENCY = 4
OPENAI_FIT_CONTEXT = 128_000
# A share of a shared context below this is too small to be worth a parallel slot.
PREFERRED_WINDOW = 3072
# Ollama's documented default context (num_ctx) when a model sets none.
OLLAMA_DEFAULT_CONTEXT = 2048
DISCOVERY_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class ServerFit:
    concurrency: int  # requests in flight at once
    context_tokens: int  # prompt + output of one request must fit this
    source: str  # where the figures came from, for the log and the banner


def server_root(base_url: str) -> str:
    """`http://host:8080/v1` -> `http://host:8080`, where llama.cpp and Ollama serve their APIs."""
    parts = urlsplit(base_url.rstrip("/"))
    path = parts.path[: -len("/v1")] if parts.path.endswith("/v1") else parts.path
    return urlunsplit((parts.scheme, parts.netloc, path, "", "")).rstrip("/")


def fit_shared_context(slots: int, n_ctx: int, source: str) -> ServerFit:
    """Slots sharing one context: as many at once as leave each a useful window."""
    concurrency = max(1, min(slots, n_ctx // PREFERRED_WINDOW))
    return ServerFit(concurrency, n_ctx // concurrency, source)


def from_llama_props(props: dict[str, Any]) -> ServerFit | None:
    """llama.cpp `GET /props`: `total_slots` and `default_generation_settings.n_ctx`."""
    settings = props.get("default_generation_settings")
    slots = props.get("total_slots")
    n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
    if not isinstance(slots, int) or not isinstance(n_ctx, int) or slots < 1 or n_ctx < 1:
        return None
    return fit_shared_context(slots, n_ctx, f"llama.cpp /props: {slots} slots, {n_ctx} tokens")


def from_ollama_show(show: dict[str, Any]) -> ServerFit:
    """Ollama `POST /api/show`: its OpenAI endpoint runs at the model's num_ctx (default 2048)."""
    num_ctx = None
    for line in str(show.get("parameters") or "").splitlines():
        name, _, value = line.strip().partition(" ")
        if name == "num_ctx" and value.strip().isdigit():
            num_ctx = int(value.strip())
    context = num_ctx or OLLAMA_DEFAULT_CONTEXT
    how = "num_ctx" if num_ctx else "Ollama's default num_ctx"
    return ServerFit(1, context, f"Ollama /api/show: {how} {context} tokens")


async def discover_fit(base_url: str | None, model: str) -> ServerFit:
    """Ask the server what it can take; OpenAI's figures when it cannot say."""
    default = ServerFit(OPENAI_FIT_CONCURRENCY, OPENAI_FIT_CONTEXT, "defaults for api.openai.com")
    if not base_url or urlsplit(base_url).hostname in (None, "api.openai.com"):
        return default
    root = server_root(base_url)
    try:
        async with httpx.AsyncClient(timeout=DISCOVERY_TIMEOUT_SECONDS, trust_env=False) as http:
            props = await _json(http, "GET", f"{root}/props")
            if props is not None:
                fit = from_llama_props(props)
                if fit is not None:
                    return fit
            if await _json(http, "GET", f"{root}/api/version") is not None:
                show = await _json(http, "POST", f"{root}/api/show", {"model": model})
                return from_ollama_show(show or {})
    except httpx.HTTPError as exc:
        log.info("LLM server at %s did not say what it can take (%s)", root, exc)
    return ServerFit(default.concurrency, default.context_tokens, "defaults (server did not say)")


async def _json(
    http: httpx.AsyncClient, method: str, url: str, body: Any = None
) -> dict[str, Any] | None:
    response = await http.request(method, url, json=body)
    if response.status_code != 200:
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


class Gate:
    """At most `limit` requests at once, learning a lower limit from capacity errors.

    After a capacity error the failed request's retry goes alone: the gate
    narrows to one, and the limit drops to the number still in flight (that
    many fit; one more did not). Each success opens the gate by one again, up
    to the limit, so an overflowing server gets a ramp, not the same batch.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.width = limit
        self._in_flight = 0
        self._changed = asyncio.Condition()

    async def __aenter__(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self._in_flight < self.width)
            self._in_flight += 1

    async def __aexit__(self, *_: object) -> None:
        async with self._changed:
            self._in_flight -= 1
            self._changed.notify_all()

    def narrow(self) -> None:
        """A request failed for capacity (it has left the gate already)."""
        limit = max(1, min(self.limit, self._in_flight))
        if limit < self.limit or self.width > 1:
            log.info("LLM: the server is at capacity; now at most %d request(s) at once", limit)
        self.limit, self.width = limit, 1

    async def succeeded(self) -> None:
        if self.width < self.limit:
            async with self._changed:
                self.width = min(self.limit, self.width + 1)
                self._changed.notify_all()


MODELS_CHECK_SECONDS = 5.0


async def model_server_problem(base_url: str | None, api_key: str | None) -> str | None:
    """Why the model server cannot be used, read from `GET /models` at start-up, or None
    when it answers. A line naming the setting: the bot still runs (briefs fall back to
    the offline summarizer with a note), but an operator should know at once."""
    url = (base_url or "https://api.openai.com/v1").rstrip("/") + "/models"
    setting = "OPENAI_BASE_URL" if base_url else "OPENAI_API_KEY (api.openai.com)"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        async with httpx.AsyncClient(timeout=MODELS_CHECK_SECONDS, trust_env=False) as http:
            response = await http.get(url, headers=headers)
    except httpx.HTTPError as exc:
        return (
            f"the model server cannot be reached at {setting} ({type(exc).__name__}: "
            f"{exc or 'no answer'}); briefs and digests use the offline summarizer until it "
            "answers"
        )
    if response.status_code in (401, 403):
        return (
            f"the model server refused OPENAI_API_KEY (HTTP {response.status_code}); briefs "
            "and digests use the offline summarizer until it is fixed"
        )
    return None

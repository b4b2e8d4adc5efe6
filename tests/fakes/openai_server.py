"""A fake OpenAI-compatible Chat Completions server on loopback (port 0), scriptable per test.

Tests of the LLM path talk real HTTP to it: the bot (or the `openai` SDK directly) is pointed
at `base_url` through OPENAI_BASE_URL, so request building, response parsing, error mapping,
retries and timeouts are all exercised for real, with no network and no API key.

Each POST to `/v1/chat/completions` (or `/chat/completions`) is recorded in `requests`, then
answered by the next scripted step (`script(...)`), or by `default` when the script is empty.
`default` starts as `smart()`, which reads the schema name and the delimited source blocks in
the prompt and answers with valid JSON for that task. `reject_json_schema` mimics servers
(llama.cpp: 500, others: 400) that refuse `response_format={"type": "json_schema", ...}`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Step = Callable[[dict[str, Any]], Awaitable[web.Response]]

CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
EMBEDDING_PATHS = frozenset({"/v1/embeddings", "/embeddings"})

_ids = itertools.count(1)

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}

_SCHEMA_IN_TEXT = re.compile(r'schema "([A-Za-z0-9_.-]+)"')
_SOURCE_BLOCK = re.compile(
    r"<<<(?P<delim>[0-9a-f]{8,}) id=(?P<id>\d+)>>>\n?(?P<body>.*?)<<<(?P=delim) end>>>",
    re.DOTALL,
)
_HEADER_LINE = re.compile(r"^(?P<key>[A-Za-z][A-Za-z _-]{0,30}):\s*(?P<value>.*)$")
_HEADER_KEYS = frozenset(
    {"title", "outlet", "published", "url", "link", "source", "author", "byline", "updated"}
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_QUESTION = re.compile(r"^QUESTION:[ \t]*(?P<q>.*)", re.DOTALL | re.MULTILINE)
_BANANA = re.compile(r"\bbanana\b", re.IGNORECASE)

PLACEHOLDER_TITLE = "Placeholder headline"
PLACEHOLDER_TEXT = "The fake found no sources in the prompt."


class FakeParseError(Exception):
    """The smart step could not understand the request; answered as HTTP 500."""


@dataclass
class Recorded:
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class Source:
    id: int
    title: str
    text: str

    @property
    def sentences(self) -> list[str]:
        return [s for s in _SENTENCE_END.split(self.text.strip()) if s.strip()]


# ---------------------------------------------------------------------------- responses


def _error(code: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    kind = _ERROR_TYPES.get(code, "server_error" if code >= 500 else "invalid_request_error")
    payload = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return web.json_response(payload, status=code, headers=headers)


def _completion(
    body: dict[str, Any], content: str, prompt_tokens: int, completion_tokens: int
) -> web.Response:
    payload = {
        "id": f"chatcmpl-fake-{next(_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model") or "fake-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
    return web.json_response(payload)


# ---------------------------------------------------------------------------- steps


def reply(content: str, *, prompt_tokens: int = 100, completion_tokens: int = 20) -> Step:
    """200 with a normal chat.completion whose message content is `content`."""

    async def step(body: dict[str, Any]) -> web.Response:
        return _completion(body, content, prompt_tokens, completion_tokens)

    return step


def reply_json(obj: Any) -> Step:
    """200 whose message content is `json.dumps(obj)`."""
    return reply(json.dumps(obj))


def status(
    code: int, *, headers: dict[str, str] | None = None, message: str = "fake error"
) -> Step:
    """An error response with OpenAI's error JSON shape, e.g. status(429, headers=...)."""

    async def step(body: dict[str, Any]) -> web.Response:
        return _error(code, message, headers)

    return step


def hang(seconds: float) -> Step:
    """Sleep `seconds`, then answer like smart(); closing the server cancels the sleep."""

    async def step(body: dict[str, Any]) -> web.Response:
        await asyncio.sleep(seconds)
        return await smart()(body)

    return step


def smart(*, prompt_tokens: int = 100, delay: float = 0.0) -> Step:
    """Answer validly for the task named by the request's schema, citing its source blocks.

    `prompt_tokens` is the usage reported; `delay` holds the answer back that long.
    """

    async def step(body: dict[str, Any]) -> web.Response:
        try:
            answer = smart_answer(body)
        except FakeParseError as exc:
            return _error(500, f"fake openai server: {exc}")
        except Exception as exc:  # a readable 500 beats a traceback in aiohttp's logs
            return _error(500, f"fake openai server crashed in smart(): {exc!r}")
        content = json.dumps(answer)
        if not body.get("response_format"):
            content = f"Sure! Here is the JSON you asked for:\n```json\n{content}\n```\n"
        if delay:
            await asyncio.sleep(delay)
        return _completion(body, content, prompt_tokens, 20)

    return step


# What lying() invents; none of it is in any source the tests use.
INVENTED_NUMBER = "77,003"
INVENTED_NAME = "Ingrid Valtersen"
INVENTED_PLACE = "Reykjavik"
INVENTED_QUOTE = "a total betrayal of trust"
INVENTIONS = (INVENTED_NUMBER, "77003", "Valtersen", INVENTED_PLACE, INVENTED_QUOTE)
_FIGURE = re.compile(r"\d[\d,.]*\d|\d")


def lying(*, prompt_tokens: int = 100) -> Step:
    """A model that lies behind valid source ids: numbers changed, a name, a place and a
    quote invented; one claim per source stays true (its third sentence, as written).

    The thread answer is all invention; the headline and "why it matters" too.
    """

    async def step(body: dict[str, Any]) -> web.Response:
        try:
            answer = lying_answer(body)
        except FakeParseError as exc:
            return _error(500, f"fake openai server: {exc}")
        return _completion(body, json.dumps(answer), prompt_tokens, 20)

    return step


def _changed(sentence: str) -> str:
    """The sentence with its first figure replaced, or a false figure added."""
    if _FIGURE.search(sentence):
        return _FIGURE.sub(INVENTED_NUMBER, sentence, count=1)
    return f"{sentence.rstrip('.')}, affecting {INVENTED_NUMBER} people."


def _lies(source: Source) -> list[dict[str, Any]]:
    ids = [source.id]
    return [
        {"text": _changed(_sentence(source, 0)), "source_ids": ids},
        {
            "text": f"{INVENTED_NAME} said in {INVENTED_PLACE} that the plan would go ahead.",
            "source_ids": ids,
        },
        {"text": f"Officials called it “{INVENTED_QUOTE}”.", "source_ids": ids},
        {"text": _sentence(source, 2), "source_ids": ids},  # true
    ]


def lying_answer(body: dict[str, Any]) -> dict[str, Any]:
    name = schema_name(body)
    sources = parse_sources(_prompt_text(body))
    if not sources:
        raise FakeParseError("lying() needs source blocks in the prompt")
    first = _first(sources)
    if name == "digest_item":
        return {
            "headline": f"{INVENTED_NAME} warns of {INVENTED_NUMBER} losses",
            "bullets": _lies(first)[:4],
            "why_it_matters": f"The next round of talks will be held in {INVENTED_PLACE}.",
        }
    if name == "brief_overview":
        sentences = []
        for source in list(sources.values())[:2]:
            lies = _lies(source)
            true = {"text": _sentence(source, 0), "source_ids": [source.id]}
            sentences += [lies[0], lies[1], true]
        return {"sentences": sentences}
    if name == "thread_answer":
        return {
            "answer": f"{INVENTED_NAME} said {INVENTED_NUMBER} people were affected.",
            "source_ids": [first.id],
            "supported": True,
        }
    raise FakeParseError(f"unknown schema name {name!r}")


# ---------------------------------------------------------------------------- smart parsing


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def schema_name(body: dict[str, Any]) -> str:
    """The task's schema name: from response_format json_schema, else `schema "NAME"` text."""
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        name = (response_format.get("json_schema") or {}).get("name")
        if name:
            return str(name)
    for message in reversed(body.get("messages") or []):
        found = _SCHEMA_IN_TEXT.search(_text_of(message))
        if found:
            return found.group(1)
    raise FakeParseError(
        'no schema name: neither response_format.json_schema.name nor text `schema "NAME"` '
        "in any message"
    )


def _prompt_text(body: dict[str, Any]) -> str:
    """The last user message holding source blocks (a repair turn has none), else the last."""
    users = [_text_of(m) for m in body.get("messages") or [] if m.get("role") == "user"]
    for text in reversed(users):
        if _SOURCE_BLOCK.search(text):
            return text
    return users[-1] if users else ""


def parse_sources(text: str) -> dict[int, Source]:
    """The `<<<HEX id=N>>> ... <<<HEX end>>>` blocks of `text`, by id, in prompt order."""
    sources: dict[int, Source] = {}
    for block in _SOURCE_BLOCK.finditer(text):
        lines = block.group("body").strip("\n").splitlines()
        title = ""
        while lines:
            header = _HEADER_LINE.match(lines[0])
            if header and header.group("key").strip().lower() in _HEADER_KEYS:
                if header.group("key").strip().lower() == "title":
                    title = header.group("value").strip()
                lines.pop(0)
            elif not lines[0].strip():
                lines.pop(0)
            else:
                break
        source_id = int(block.group("id"))
        sources[source_id] = Source(id=source_id, title=title, text=" ".join(lines).strip())
    return sources


def _first(sources: dict[int, Source]) -> Source:
    if 1 in sources:
        return sources[1]
    return next(iter(sources.values()))


def _sentence(source: Source, index: int) -> str:
    sentences = source.sentences
    if not sentences:
        return source.title or PLACEHOLDER_TEXT
    return sentences[index] if index < len(sentences) else sentences[0]


def smart_answer(body: dict[str, Any]) -> dict[str, Any]:
    """The JSON object smart() returns for this request body (raises FakeParseError)."""
    name = schema_name(body)
    prompt = _prompt_text(body)
    sources = parse_sources(prompt)

    if name == "digest_item":
        if not sources:
            placeholder = Source(id=1, title=PLACEHOLDER_TITLE, text=PLACEHOLDER_TEXT)
            sources = {1: placeholder}
        first = _first(sources)
        last_id = list(sources)[-1]
        return {
            "headline": first.title or PLACEHOLDER_TITLE,
            "bullets": [
                {"text": _sentence(first, 0), "source_ids": [first.id]},
                {"text": _sentence(first, 1), "source_ids": [last_id]},
            ],
            "why_it_matters": _sentence(first, 2),
        }

    if name == "brief_overview":
        sentences = [
            {"text": _sentence(source, 0), "source_ids": [source.id]}
            for source in sources.values()
            if source.id <= 3
        ]
        return {"sentences": sentences}

    if name == "thread_answer":
        question = _QUESTION.search(prompt)
        asked = question.group("q") if question else ""
        if not sources or _BANANA.search(asked):
            return {"answer": "", "source_ids": [], "supported": False}
        first = _first(sources)
        return {"answer": _sentence(first, 0), "source_ids": [first.id], "supported": True}

    raise FakeParseError(
        f"unknown schema name {name!r} (knows digest_item, brief_overview, thread_answer)"
    )


# ---------------------------------------------------------------------------- server


@dataclass
class FakeOpenAI:
    base_url: str
    requests: list[Recorded] = field(default_factory=list)
    default: Step = field(default_factory=smart)
    reject_json_schema: int | None = None
    # llama.cpp-like: GET /props reports these, and more than `slots_that_fit` requests
    # in flight at once get its 500 "Context size has been exceeded."
    props: dict[str, Any] | None = None
    ollama_show: dict[str, Any] | None = None  # set: answers /api/version and /api/show
    slots_that_fit: int | None = None
    # /v1/embeddings: each input's vector from this; None answers as llama-server does
    # when started without --embeddings (501). `embedding_requests` records the inputs.
    embed: Callable[[str], list[float]] | None = None
    embeddings_status: int | None = None  # set: every embeddings request fails with it
    embedding_requests: list[list[str]] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    _queue: deque[Step] = field(default_factory=deque, repr=False)

    def script(self, *steps: Step) -> None:
        """Queue steps; each chat request consumes one, then `default` answers."""
        self._queue.extend(steps)

    @property
    def calls(self) -> int:
        return len(self.requests)

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        self.embedding_requests.append(texts)
        if self.embeddings_status is not None:
            return _error(self.embeddings_status, "fake openai server: embeddings failing")
        if self.embed is None:
            return _error(
                501, "This server does not support embeddings. Start it with `--embeddings`"
            )
        data = [
            {"object": "embedding", "index": i, "embedding": self.embed(text)}
            for i, text in enumerate(texts)
        ]
        usage = {"prompt_tokens": sum(len(t) // 4 for t in texts), "total_tokens": 0}
        return web.json_response(
            {"object": "list", "data": data, "model": body.get("model"), "usage": usage}
        )

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        recorded_body = (
            body if isinstance(body, dict) else {"_unparsed": raw.decode(errors="replace")}
        )
        self.requests.append(Recorded(body=recorded_body, headers=dict(request.headers)))
        if not isinstance(body, dict):
            return _error(400, "fake openai server: request body is not a JSON object")

        response_format = body.get("response_format") or {}
        if self.reject_json_schema is not None and response_format.get("type") == "json_schema":
            return _error(self.reject_json_schema, "response_format json_schema is not supported")
        step = self._queue.popleft() if self._queue else self.default
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.slots_that_fit is not None and self.in_flight > self.slots_that_fit:
                await asyncio.sleep(0.05)  # llama.cpp fails a slot once it runs out mid-way
                return web.json_response(
                    {"error": {"code": 500, "message": "Context size has been exceeded."}},
                    status=500,
                )
            return await step(body)
        finally:
            self.in_flight -= 1


@asynccontextmanager
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI(base_url="")

    async def dispatch(request: web.Request) -> web.Response:
        if request.path == "/props" and server.props is not None:
            return web.json_response(server.props)
        if request.path == "/api/version" and server.ollama_show is not None:
            return web.json_response({"version": "0.12.0"})
        if request.path == "/api/show" and server.ollama_show is not None:
            return web.json_response(server.ollama_show)
        if request.path in EMBEDDING_PATHS and request.method == "POST":
            return await server._embeddings(request)
        if request.path not in CHAT_PATHS:
            return _error(404, f"fake openai server: no route for {request.method} {request.path}")
        if request.method != "POST":
            return _error(405, f"fake openai server: {request.method} not allowed; use POST")
        return await server._handle(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", dispatch)
    # aiohttp waits shutdown_timeout for in-flight handlers, then cancels them: keep it short
    # so a hang() step still sleeping (its client long gone) cannot hold up closing.
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.base_url = f"http://127.0.0.1:{port}/v1"
    try:
        yield server
    finally:
        await runner.cleanup()
        await asyncio.sleep(0)

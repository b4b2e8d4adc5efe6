"""The fake OpenAI server, exercised through the real `openai` SDK over loopback HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import pytest
from openai import AsyncOpenAI

from tests.fakes.openai_server import (
    FakeOpenAI,
    fake_openai,
    hang,
    parse_sources,
    reply,
    reply_json,
    smart,
    status,
)

DELIM = "3fa9c0d2e7b14a6f"

SOURCES = f"""Use only these sources.

<<<{DELIM} id=1>>>
Title: Harbour bridge reopens
Outlet: The Harbour Ledger
Published: 2026-11-25T09:00:00Z
The harbour bridge reopened on Monday. Traffic returned to normal by noon.
<<<{DELIM} end>>>

<<<{DELIM} id=2>>>
Title: Ferry fares rise
Outlet: Coast Daily
Published: 2026-11-25T10:00:00Z
Ferry fares will rise by five percent. The council approved it.
<<<{DELIM} end>>>
"""


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with fake_openai() as server:
        yield server


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[AsyncOpenAI]:
    sdk = AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0, timeout=5.0)
    yield sdk
    await sdk.close()


def schema_format(name: str) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": {"type": "object"}, "strict": True},
    }


async def ask(client: AsyncOpenAI, user: str, **kwargs: Any) -> str:
    completion = await client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": user}], **kwargs
    )
    return completion.choices[0].message.content or ""


async def test_reply_and_usage_are_parsed_by_the_sdk(fake: FakeOpenAI, client: AsyncOpenAI) -> None:
    """A scripted reply comes back as a chat.completion with its usage."""
    fake.script(reply("hello there", prompt_tokens=7, completion_tokens=3))
    completion = await client.chat.completions.create(
        model="some-model", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.id.startswith("chatcmpl-fake-")
    assert completion.model == "some-model"
    assert completion.choices[0].message.content == "hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (7, 3)
    assert completion.usage.total_tokens == 10


async def test_reply_json_dumps_the_object(fake: FakeOpenAI, client: AsyncOpenAI) -> None:
    """reply_json sends json.dumps(obj) as the message content."""
    fake.script(reply_json({"a": [1, 2]}))
    assert json.loads(await ask(client, "x")) == {"a": [1, 2]}


async def test_429_raises_rate_limit_error_with_retry_after(
    fake: FakeOpenAI, client: AsyncOpenAI
) -> None:
    """status(429) maps to RateLimitError and its Retry-After header is visible."""
    fake.script(status(429, headers={"Retry-After": "1"}, message="slow down"))
    with pytest.raises(openai.RateLimitError) as caught:
        await ask(client, "x")
    assert caught.value.response.headers["retry-after"] == "1"
    assert caught.value.status_code == 429
    assert "slow down" in caught.value.message


async def test_500_raises_internal_server_error(fake: FakeOpenAI, client: AsyncOpenAI) -> None:
    """status(500) maps to InternalServerError, and the next request gets the default."""
    fake.script(status(500))
    with pytest.raises(openai.InternalServerError):
        await ask(client, 'schema "thread_answer"\n' + SOURCES + "QUESTION: what reopened?")
    answer = json.loads(
        await ask(
            client, SOURCES + "QUESTION: what?", response_format=schema_format("thread_answer")
        )
    )
    assert answer["supported"] is True
    assert fake.calls == 2


async def test_400_error_body_has_openai_shape(fake: FakeOpenAI, client: AsyncOpenAI) -> None:
    """status(400, message=...) maps to BadRequestError with OpenAI's error JSON."""
    fake.script(status(400, message="response_format json_schema is not supported"))
    with pytest.raises(openai.BadRequestError) as caught:
        await ask(client, "x")
    assert caught.value.body == {
        "message": "response_format json_schema is not supported",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


async def test_hang_times_out_the_client_quickly() -> None:
    """hang(2) with a 0.3 s client timeout raises APITimeoutError, and closing is prompt."""
    started = time.monotonic()
    async with fake_openai() as fake:
        fake.script(hang(2))
        sdk = AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0, timeout=0.3)
        try:
            with pytest.raises(openai.APITimeoutError):
                await ask(sdk, "x")
        finally:
            await sdk.close()
    assert time.monotonic() - started < 1.5
    assert fake.calls == 1


async def test_reject_json_schema_mode(fake: FakeOpenAI, client: AsyncOpenAI) -> None:
    """reject_json_schema=500 fails json_schema requests but json_object mode still works."""
    fake.reject_json_schema = 500
    fake.script(reply_json({"scripted": True}))
    with pytest.raises(openai.InternalServerError):
        await ask(client, SOURCES, response_format=schema_format("digest_item"))
    content = await ask(
        client,
        'Reply with schema "digest_item".\n' + SOURCES,
        response_format={"type": "json_object"},
    )
    assert json.loads(content) == {"scripted": True}
    assert fake.calls == 2
    assert fake.requests[0].body["response_format"]["type"] == "json_schema"


async def test_smart_digest_item(fake: FakeOpenAI, client: AsyncOpenAI) -> None:
    """smart() builds a digest_item from source 1, citing the first and last ids."""
    item = json.loads(await ask(client, SOURCES, response_format=schema_format("digest_item")))
    assert item == {
        "headline": "Harbour bridge reopens",
        "bullets": [
            {"text": "The harbour bridge reopened on Monday.", "source_ids": [1]},
            {"text": "Traffic returned to normal by noon.", "source_ids": [2]},
        ],
        "why_it_matters": "The harbour bridge reopened on Monday.",
    }


async def test_smart_brief_overview_in_json_object_mode(
    fake: FakeOpenAI, client: AsyncOpenAI
) -> None:
    """smart() finds `schema "brief_overview"` in the text and quotes each source, cited."""
    content = await ask(
        client,
        'Answer as JSON matching schema "brief_overview".\n' + SOURCES,
        response_format={"type": "json_object"},
    )
    assert json.loads(content) == {
        "sentences": [
            {"text": "The harbour bridge reopened on Monday.", "source_ids": [1]},
            {"text": "Ferry fares will rise by five percent.", "source_ids": [2]},
        ]
    }


async def test_smart_thread_answer_in_text_mode_is_fenced(
    fake: FakeOpenAI, client: AsyncOpenAI
) -> None:
    """Without response_format, smart() wraps its JSON in a ```json fence."""
    content = await ask(
        client, 'Use schema "thread_answer".\n' + SOURCES + "QUESTION:\nWhat reopened?"
    )
    assert "```json\n" in content
    fenced = content.split("```json\n", 1)[1].split("```", 1)[0]
    assert json.loads(fenced) == {
        "answer": "The harbour bridge reopened on Monday.",
        "source_ids": [1],
        "supported": True,
    }


async def test_smart_thread_answer_banana_is_unsupported(
    fake: FakeOpenAI, client: AsyncOpenAI
) -> None:
    """A question mentioning banana gets the unsupported shape."""
    content = await ask(
        client,
        SOURCES + "QUESTION: Is the Banana bridge open?",
        response_format=schema_format("thread_answer"),
    )
    assert json.loads(content) == {"answer": "", "source_ids": [], "supported": False}


async def test_smart_without_sources_does_not_crash(fake: FakeOpenAI, client: AsyncOpenAI) -> None:
    """No source blocks: thread_answer is unsupported, digest_item uses placeholders."""
    answer = json.loads(
        await ask(client, "QUESTION: hi", response_format=schema_format("thread_answer"))
    )
    assert answer["supported"] is False
    item = json.loads(await ask(client, "nothing", response_format=schema_format("digest_item")))
    assert item["bullets"][0]["source_ids"] == [1]


async def test_smart_unknown_schema_is_a_readable_500(
    fake: FakeOpenAI, client: AsyncOpenAI
) -> None:
    """A request smart() cannot understand gets a 500 saying what it could not parse."""
    with pytest.raises(openai.InternalServerError) as caught:
        await ask(client, "no schema here")
    assert "no schema name" in caught.value.message
    with pytest.raises(openai.InternalServerError) as caught:
        await ask(client, SOURCES, response_format=schema_format("mystery"))
    assert "unknown schema name 'mystery'" in caught.value.message


async def test_smart_reads_sources_from_before_a_repair_turn(
    fake: FakeOpenAI, client: AsyncOpenAI
) -> None:
    """After a repair turn, smart() still uses the user message that holds the sources."""
    completion = await client.chat.completions.create(
        model="fake-model",
        messages=[
            {"role": "user", "content": 'Reply with JSON for schema "thread_answer".\n' + SOURCES},
            {"role": "assistant", "content": "not json"},
            {"role": "user", "content": 'That reply is not valid for schema "thread_answer".'},
        ],
        response_format={"type": "json_object"},
    )
    answer = json.loads(completion.choices[0].message.content or "")
    assert answer["source_ids"] == [1]
    assert answer["supported"] is True


async def test_requests_are_recorded_with_bodies(fake: FakeOpenAI, client: AsyncOpenAI) -> None:
    """Every chat request is recorded in order, errors included, with body and headers."""
    fake.script(status(503), reply("ok"))
    with pytest.raises(openai.InternalServerError):
        await ask(client, "first")
    assert await ask(client, "second", temperature=0.2) == "ok"
    assert fake.calls == 2
    assert [r.body["messages"][0]["content"] for r in fake.requests] == ["first", "second"]
    assert fake.requests[1].body["temperature"] == 0.2
    assert fake.requests[1].body["model"] == "fake-model"
    headers = {k.lower(): v for k, v in fake.requests[0].headers.items()}
    assert headers["authorization"] == "Bearer test"


async def test_default_can_be_replaced(fake: FakeOpenAI, client: AsyncOpenAI) -> None:
    """Setting `default` changes the answer once the script is used up."""
    fake.default = reply("always")
    fake.script(smart())
    assert "Harbour" in await ask(client, SOURCES, response_format=schema_format("digest_item"))
    assert await ask(client, "x") == "always"
    assert await ask(client, "y") == "always"


async def test_routes(fake: FakeOpenAI) -> None:
    """Both chat paths answer; other paths are a 404 JSON error and are not recorded."""
    root = fake.base_url.removesuffix("/v1")
    payload = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    fake.script(reply("a"), reply("b"))
    async with aiohttp.ClientSession() as session:
        for path in ("/v1/chat/completions", "/chat/completions"):
            async with session.post(root + path, json=payload) as response:
                assert response.status == 200
        async with session.get(root + "/v1/models") as response:
            assert response.status == 404
            assert "error" in await response.json()
    assert fake.calls == 2


def test_parse_sources_reads_titles_and_text() -> None:
    """Source blocks are parsed by id into title and body text."""
    sources = parse_sources(SOURCES)
    assert list(sources) == [1, 2]
    assert sources[2].title == "Ferry fares rise"
    assert sources[2].sentences == [
        "Ferry fares will rise by five percent.",
        "The council approved it.",
    ]

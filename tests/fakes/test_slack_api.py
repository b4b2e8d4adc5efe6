"""The fake Slack Web API through the real slack_sdk client, and signed requests to Bolt."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond, AsyncSay
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.models.metadata import Metadata
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack import events_app
from tests.fakes.slack_api import (
    RESPONSE_URL_METHOD,
    FakeSlack,
    app_mention_event,
    event_body,
    fake_slack,
    message_event,
    sign,
    slash_command_body,
)
from tests.helpers import until

SECRET = "s3cret"
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Top story*"}}]


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with fake_slack() as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=fake.base_url)


def bolt_app(fake: FakeSlack, *, process_before_response: bool = False) -> AsyncApp:
    # Only `client`: passing `token` as well makes Bolt log "`token` will be unused".
    return AsyncApp(
        signing_secret=SECRET,
        client=AsyncWebClient(token="xoxb-test", base_url=fake.base_url),
        process_before_response=process_before_response,
    )


@asynccontextmanager
async def serve(app: AsyncApp, web_app: web.Application | None = None) -> AsyncIterator[str]:
    """Serve the Bolt app over loopback HTTP (Bolt's own endpoint unless `web_app` is
    given); yields the events URL."""
    runner = web.AppRunner(
        web_app or app.web_app(path="/slack/events"), handle_signals=False, shutdown_timeout=0.1
    )
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/slack/events"
    finally:
        await runner.cleanup()
        await asyncio.sleep(0)


async def post_signed(url: str, body: str, secret: str = SECRET) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body.encode(), headers=sign(secret, body)) as resp,
    ):
        return resp.status, await resp.text()


# ---------------------------------------------------------------------------- Web API


async def test_auth_test_answers_like_slack(fake: FakeSlack, client: AsyncWebClient) -> None:
    """auth.test returns the fake team and bot identity and is recorded with the bearer token."""
    resp = await client.auth_test()
    assert resp["ok"] is True
    assert (resp["team_id"], resp["user_id"], resp["bot_id"]) == ("T0001", "UBOT", "BBOT")
    assert resp["is_enterprise_install"] is False
    [call] = fake.posted("auth.test")
    assert call.headers["Authorization"] == "Bearer xoxb-test"


async def test_post_message_records_parsed_blocks(fake: FakeSlack, client: AsyncWebClient) -> None:
    """chat.postMessage arrives as JSON; blocks are recorded parsed and a ts comes back."""
    resp = await client.chat_postMessage(channel="C0001", text="Top story", blocks=BLOCKS)
    [call] = fake.posted()
    assert call.headers["Content-Type"].startswith("application/json")
    assert call.channel == "C0001"
    assert call.text == "Top story"
    assert call.blocks == BLOCKS
    assert resp["channel"] == "C0001"
    assert resp["ts"] == call.response["ts"] and float(resp["ts"]) > 1.7e9
    assert resp["message"]["blocks"] == BLOCKS
    assert resp["message"]["user"] == "UBOT"


async def test_form_encoded_blocks_stay_strings_but_parse(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    """A form body keeps blocks as the JSON string sent, and `blocks` parses it."""
    await client.api_call(
        "chat.postMessage",
        data={"channel": "C0001", "text": "hi", "blocks": json.dumps(BLOCKS)},
    )
    [call] = fake.posted()
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert isinstance(call.body["blocks"], str)
    assert call.blocks == BLOCKS


async def test_message_ts_are_unique_and_increasing(client: AsyncWebClient) -> None:
    """Each posted message gets a later ts than the one before."""
    stamps = [(await client.chat_postMessage(channel="C0001", text=str(i)))["ts"] for i in range(3)]
    assert stamps == sorted(stamps, key=float)
    assert len(set(stamps)) == 3


async def test_update_and_delete_echo_the_ts(client: AsyncWebClient) -> None:
    """chat.update and chat.delete answer ok with the message's channel and ts."""
    ts = (await client.chat_postMessage(channel="C0001", text="draft"))["ts"]
    updated = await client.chat_update(channel="C0001", ts=ts, text="final")
    assert (updated["ts"], updated["text"]) == (ts, "final")
    deleted = await client.chat_delete(channel="C0001", ts=ts)
    assert (deleted["channel"], deleted["ts"]) == ("C0001", ts)


@pytest.mark.parametrize(
    ("channel", "error"), [("CNOTIN", "not_in_channel"), ("CGONE", "channel_not_found")]
)
async def test_channel_errors_raise(
    fake: FakeSlack, client: AsyncWebClient, channel: str, error: str
) -> None:
    """Posting to CNOTIN or CGONE raises SlackApiError with Slack's error code."""
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel=channel, text="hello")
    assert caught.value.response["error"] == error
    assert fake.count("chat.postMessage") == 1


async def test_missing_token_is_not_authed(fake: FakeSlack) -> None:
    """A call without a bearer token or token field is refused with not_authed."""
    with pytest.raises(SlackApiError) as caught:
        await AsyncWebClient(base_url=fake.base_url).auth_test()
    assert caught.value.response["error"] == "not_authed"


async def test_rate_limit_is_retried_after_retry_after(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    """A scripted 429 carries Retry-After; the SDK's rate-limit handler retries and succeeds."""
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    fake.fail_next("chat.postMessage", retry_after=1)
    resp = await client.chat_postMessage(channel="C0001", text="hello")
    assert resp["ok"] is True
    assert fake.count("chat.postMessage") == 2


async def test_rate_limit_without_retry_handler_raises(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    """Without a rate-limit handler the 429 surfaces as SlackApiError with status 429."""
    fake.fail_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C0001", text="hello")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "7"
    assert caught.value.response["error"] == "ratelimited"


async def test_fail_next_with_status_200_is_an_api_error_then_recovers(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    """status=200 scripts {"ok": false} answers for `times` calls, then normal ones."""
    fake.fail_next("users.info", status=200, error="fatal_error", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as caught:
            await client.users_info(user="UADMIN")
        assert caught.value.response["error"] == "fatal_error"
    assert (await client.users_info(user="UADMIN"))["ok"] is True


async def test_users_info_admin_flags(fake: FakeSlack, client: AsyncWebClient) -> None:
    """users.info (a GET with query params) returns the default users' admin and owner flags."""
    admin = (await client.users_info(user="UADMIN"))["user"]
    owner = (await client.users_info(user="UOWNER"))["user"]
    member = (await client.users_info(user="UMEMBER"))["user"]
    assert (admin["is_admin"], admin["is_owner"]) == (True, False)
    assert owner["is_owner"] is True
    assert (member["is_admin"], member["is_owner"]) == (False, False)
    call = fake.posted("users.info")[0]
    assert (call.http_method, call.body) == ("GET", {"user": "UADMIN"})
    with pytest.raises(SlackApiError) as caught:
        await client.users_info(user="UNOBODY")
    assert caught.value.response["error"] == "user_not_found"


async def test_conversations_info_and_ephemeral(client: AsyncWebClient) -> None:
    """conversations.info reports membership; chat.postEphemeral returns a message_ts."""
    info = await client.conversations_info(channel="C0001")
    assert info["channel"] == {
        "id": "C0001",
        "name": "general",
        "is_channel": True,
        "is_private": False,
        "is_archived": False,
        "is_member": True,
    }
    ephemeral = await client.chat_postEphemeral(channel="C0001", user="UMEMBER", text="psst")
    assert ephemeral["message_ts"]


async def test_unknown_method_is_recorded_and_refused(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    """An unmodelled method answers unknown_method and is still recorded."""
    with pytest.raises(SlackApiError) as caught:
        await client.api_call("reactions.add", params={"name": "eyes"})
    assert caught.value.response["error"] == "unknown_method"
    assert fake.posted("reactions.add")[0].body == {"name": "eyes"}


# ---------------------------------------------------------------------------- signing


def test_sign_is_accepted_by_slack_sdk_verifier() -> None:
    """sign() makes headers SignatureVerifier accepts, and rejects when stale or wrong."""
    body = slash_command_body("/ping", "hello")
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid_request(body, sign(SECRET, body))
    assert not verifier.is_valid_request(body, sign("other", body))
    assert not verifier.is_valid_request(body, sign(SECRET, body, int(time.time()) - 600))
    assert sign(SECRET, event_body({}))["Content-Type"] == "application/json"


async def test_signed_slash_command_is_acked_over_http(fake: FakeSlack) -> None:
    """Bolt verifies the signature, calls auth.test once, and answers ack("pong") as text."""
    app = bolt_app(fake)

    @app.command("/ping")
    async def ping(ack: AsyncAck) -> None:
        await ack("pong")

    async with serve(app) as url:
        status, text = await post_signed(url, slash_command_body("/ping", ""))
        assert (status, text) == (200, "pong")
        status, _ = await post_signed(url, slash_command_body("/ping", "again"))
        assert status == 200
        assert fake.count("auth.test") == 1


async def test_wrong_signature_is_401_without_auth_test(fake: FakeSlack) -> None:
    """A body signed with another secret is refused before Bolt calls the Web API."""
    app = bolt_app(fake)

    @app.command("/ping")
    async def ping(ack: AsyncAck) -> None:
        await ack("pong")

    async with serve(app) as url:
        status, _ = await post_signed(url, slash_command_body("/ping", ""), secret="wrong")
    assert status == 401
    assert fake.calls == []


async def test_events_app_answers_commands_mentioning_payload(fake: FakeSlack) -> None:
    """Bolt's own endpoint reads a form body containing "payload" anywhere as {} (a 404);
    the adapter's events_app answers `/brief payload prices` as the command it is."""
    app = bolt_app(fake)

    @app.command("/brief")
    async def brief(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack(f"brief on {command['text']}")

    body = slash_command_body("/brief", "payload prices")
    async with serve(app) as url:  # the quirk, pinned: drop the workaround once this fails
        assert await post_signed(url, body) == (404, '{"error": "unhandled request"}')
    async with serve(app, events_app(app)) as url:
        assert await post_signed(url, body) == (200, "brief on payload prices")
        assert (await post_signed(url, body, secret="wrong"))[0] == 401
        fine = slash_command_body("/brief", "fine")
        assert await post_signed(url, fine) == (200, "brief on fine")


async def test_events_app_still_reads_interactivity_payloads(fake: FakeSlack) -> None:
    """A form whose `payload` field is JSON is an interactivity payload, parsed as one."""
    app = bolt_app(fake)
    seen: list[dict[str, Any]] = []

    @app.action("more")
    async def more(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        seen.append(body)

    payload = {
        "type": "block_actions",
        "team": {"id": "T0001"},
        "user": {"id": "UMEMBER", "team_id": "T0001"},
        "api_app_id": "A1",
        "actions": [{"type": "button", "action_id": "more", "value": "payload prices"}],
    }
    async with serve(app, events_app(app)) as url:
        status, _ = await post_signed(url, urlencode({"payload": json.dumps(payload)}))
        assert status == 200
        await until(lambda: bool(seen))
    assert seen[0]["type"] == "block_actions"
    assert seen[0]["actions"][0]["value"] == "payload prices"


@pytest.mark.parametrize("process_before_response", [False, True])
async def test_process_before_response_decides_when_http_answers(
    fake: FakeSlack, process_before_response: bool
) -> None:
    """False: the HTTP reply goes out at ack(); True: only when the listener returns."""
    app = bolt_app(fake, process_before_response=process_before_response)
    gate = asyncio.Event()
    acked = asyncio.Event()
    done = asyncio.Event()

    @app.command("/brief")
    async def brief(ack: AsyncAck, respond: AsyncRespond) -> None:
        await ack("working on it")
        acked.set()
        await gate.wait()
        await respond("here is your brief")
        done.set()

    @app.command("/ping")
    async def ping(ack: AsyncAck) -> None:
        await ack("pong")

    async with serve(app) as url:
        body = slash_command_body("/brief", "today", response_url=fake.response_url)
        request = asyncio.ensure_future(post_signed(url, body))
        await asyncio.wait_for(acked.wait(), 5)
        # A request sent after the ack, answered: an answer given at the ack is in by then.
        await post_signed(url, slash_command_body("/ping", "", response_url=fake.response_url))
        assert request.done() is not process_before_response
        gate.set()
        assert await request == (200, "working on it")
        await asyncio.wait_for(done.wait(), 2)
    [responded] = fake.posted(RESPONSE_URL_METHOD)
    assert responded.body["text"] == "here is your brief"


async def test_app_mention_event_says_and_own_messages_are_ignored(fake: FakeSlack) -> None:
    """An app_mention listener's say() posts through the fake; the bot's own message is dropped."""
    app = bolt_app(fake)
    seen: list[str] = []

    @app.event("app_mention")
    async def mention(event: dict, say: AsyncSay) -> None:
        await say(text=f"hi <@{event['user']}>", thread_ts=event["ts"])

    @app.event("message")
    async def message(event: dict) -> None:
        seen.append(event["text"])

    async with serve(app) as url:
        mention_body = event_body(app_mention_event("<@UBOT> brief?"))
        assert (await post_signed(url, mention_body))[0] == 200
        await until(lambda: fake.count("chat.postMessage") == 1)
        own = message_event("posted by me", user="UBOT", bot_id="BBOT")
        other = message_event("posted by someone")
        assert (await post_signed(url, event_body(own)))[0] == 200
        assert (await post_signed(url, event_body(other)))[0] == 200
        await until(lambda: seen == ["posted by someone"])
    [post] = fake.posted()
    assert post.body == {  # Bolt's per-request client adds the request's team_id to every call
        "team_id": "T0001",
        "channel": "C0001",
        "text": "hi <@UMEMBER>",
        "thread_ts": "1700000100.000300",
    }


# ---------------------------------------------------------------------------- message store

EVENT = {"event_type": "newsbrief_digest", "event_payload": {"digest_id": 7, "part": 1}}


async def history(client: AsyncWebClient, **kwargs: Any) -> list[dict[str, Any]]:
    resp = await client.conversations_history(channel="C0001", **kwargs)
    return list(resp["messages"])


async def test_metadata_round_trips_and_history_shows_it_only_when_asked(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    """Posted metadata is echoed and stored; history shows it only with include_all_metadata."""
    with_meta = await client.chat_postMessage(channel="C0001", text="digest", metadata=EVENT)
    typed = Metadata(event_type="newsbrief_digest", event_payload={"digest_id": 8})
    with_object = await client.chat_postMessage(channel="C0001", text="again", metadata=typed)
    plain = await client.chat_postMessage(channel="C0001", text="plain")
    assert with_meta["message"]["metadata"] == EVENT
    assert with_object["message"]["metadata"] == typed.to_dict()
    assert "metadata" not in plain["message"]
    assert all("metadata" not in m for m in await history(client))
    shown = await history(client, include_all_metadata=True)
    assert [m["ts"] for m in shown] == [plain["ts"], with_object["ts"], with_meta["ts"]]
    assert [m.get("metadata") for m in shown] == [None, typed.to_dict(), EVENT]
    assert shown[2] | {"metadata": None} == {
        "type": "message",
        "user": "UBOT",
        "bot_id": "BBOT",
        "text": "digest",
        "ts": with_meta["ts"],
        "team": "T0001",
        "metadata": None,
    }
    posted = await client.api_call(
        "conversations.history", json={"channel": "C0001", "include_all_metadata": "true"}
    )
    assert posted["messages"][2]["metadata"] == EVENT  # a POST with a JSON body works too


async def test_form_encoded_metadata_is_a_json_string(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    """A form body's metadata is a JSON string; it is stored as the object it encodes."""
    resp = await client.api_call(
        "chat.postMessage", data={"channel": "C0001", "text": "hi", "metadata": json.dumps(EVENT)}
    )
    assert resp["message"]["metadata"] == EVENT
    assert [m["metadata"] for m in fake.channel_messages("C0001")] == [EVENT]


@pytest.mark.parametrize(
    "metadata",
    [
        "not json",
        json.dumps(["newsbrief_digest"]),
        ["newsbrief_digest"],
        {"event_payload": {"digest_id": 7}},
        {"event_type": 7, "event_payload": {}},
        {"event_type": "newsbrief_digest"},
        {"event_type": "newsbrief_digest", "event_payload": "digest 7"},
    ],
)
async def test_malformed_metadata_is_refused_and_nothing_stored(
    fake: FakeSlack, client: AsyncWebClient, metadata: Any
) -> None:
    """Metadata that isn't {event_type: str, event_payload: object} is invalid_metadata_format."""
    with pytest.raises(SlackApiError) as caught:
        await client.api_call(
            "chat.postMessage", json={"channel": "C0001", "text": "hi", "metadata": metadata}
        )
    assert caught.value.response["error"] == "invalid_metadata_format"
    assert fake.channel_messages("C0001") == []
    assert await history(client) == []


async def test_history_pages_newest_first_through_the_cursor(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    """History pages newest first, has_more and next_cursor while more remain; the SDK's
    async iteration follows the cursor."""
    stamps = [(await client.chat_postMessage(channel="C0001", text=str(i)))["ts"] for i in range(5)]
    first = await client.conversations_history(channel="C0001", limit=2)
    assert [m["text"] for m in first["messages"]] == ["4", "3"]
    assert first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    second = await client.conversations_history(channel="C0001", limit=2, cursor=cursor)
    assert [m["text"] for m in second["messages"]] == ["2", "1"]
    pages = [
        [m["ts"] for m in page["messages"]]
        async for page in await client.conversations_history(channel="C0001", limit=2)
    ]
    assert pages == [stamps[:2:-1], stamps[2:0:-1], stamps[:1]]
    last = await client.conversations_history(channel="C0001", limit=5)
    assert last["has_more"] is False
    assert "response_metadata" not in last
    with pytest.raises(SlackApiError) as caught:
        await client.conversations_history(channel="C0001", cursor="not a cursor")
    assert caught.value.response["error"] == "invalid_cursor"


async def test_history_oldest_and_latest_are_exclusive_unless_inclusive(
    client: AsyncWebClient,
) -> None:
    """oldest / latest bound the ts range, excluding the bounds themselves unless inclusive."""
    a, b, c, d = [(await client.chat_postMessage(channel="C0001", text=t))["ts"] for t in "abcd"]
    assert [m["ts"] for m in await history(client, oldest=b)] == [d, c]
    assert [m["ts"] for m in await history(client, oldest=b, inclusive=True)] == [d, c, b]
    assert [m["ts"] for m in await history(client, oldest=a, latest=d)] == [c, b]
    assert [m["ts"] for m in await history(client, oldest=a, latest=c, inclusive=True)] == [c, b, a]
    assert await history(client, oldest=d) == []
    with pytest.raises(SlackApiError) as caught:
        await history(client, oldest="yesterday")
    assert caught.value.response["error"] == "invalid_ts_oldest"


async def test_threads_show_in_history_as_parents_and_in_replies_in_full(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    """History lists a parent with its reply fields, not the replies; conversations.replies
    gives the parent then the replies oldest first, also when asked by a reply's ts."""
    parent = (await client.chat_postMessage(channel="C0001", text="digest"))["ts"]
    one = await client.chat_postMessage(
        channel="C0001", text="part 1", thread_ts=parent, metadata=EVENT
    )
    two = await client.chat_postMessage(channel="C0001", text="part 2", thread_ts=one["ts"])
    assert two["message"]["thread_ts"] == parent  # a reply's ts names its parent's thread
    [listed] = await history(client)
    assert listed["ts"] == parent
    assert (listed["thread_ts"], listed["reply_count"], listed["latest_reply"]) == (
        parent,
        2,
        two["ts"],
    )
    assert listed["reply_users"] == ["UBOT"]
    for ts in (parent, two["ts"]):
        thread = (await client.conversations_replies(channel="C0001", ts=ts))["messages"]
        assert [m["text"] for m in thread] == ["digest", "part 1", "part 2"]
        assert [m["thread_ts"] for m in thread] == [parent] * 3
        assert thread[1]["parent_user_id"] == "UBOT"
        assert all("metadata" not in m for m in thread)
    full = await client.conversations_replies(channel="C0001", ts=parent, include_all_metadata=True)
    assert [m.get("metadata") for m in full["messages"]] == [None, EVENT, None]
    page = await client.conversations_replies(channel="C0001", ts=parent, limit=2)
    assert ([m["text"] for m in page["messages"]], page["has_more"]) == (
        ["digest", "part 1"],
        True,
    )
    rest = await client.conversations_replies(
        channel="C0001", ts=parent, cursor=page["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in rest["messages"]] == ["part 2"]
    later = await client.conversations_replies(channel="C0001", ts=parent, oldest=one["ts"])
    assert [m["text"] for m in later["messages"]] == ["part 2"]
    assert [m["ts"] for m in fake.channel_messages("C0001")] == [parent]
    assert [m["metadata"] for m in fake.thread_replies("C0001", parent)[:1]] == [EVENT]


async def test_replies_of_an_unknown_ts_is_thread_not_found(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    """conversations.replies answers thread_not_found for a ts the channel doesn't have."""
    ts = (await client.chat_postMessage(channel="C0001", text="digest"))["ts"]
    alone = await client.conversations_replies(channel="C0001", ts=ts)
    assert [m["ts"] for m in alone["messages"]] == [ts]
    assert "reply_count" not in alone["messages"][0]
    for channel, missing in (("C0001", "1600000000.000100"), ("C0002", ts), ("C0001", "")):
        with pytest.raises(SlackApiError) as caught:
            await client.conversations_replies(channel=channel, ts=missing)
        assert caught.value.response["error"] == "thread_not_found"


@pytest.mark.parametrize(
    ("channel", "error"), [("CNOTIN", "not_in_channel"), ("CGONE", "channel_not_found")]
)
async def test_reading_history_checks_the_channel(
    client: AsyncWebClient, channel: str, error: str
) -> None:
    """conversations.history and .replies refuse CNOTIN and CGONE like chat.postMessage does."""
    for read in (client.conversations_history, client.conversations_replies):
        with pytest.raises(SlackApiError) as caught:
            await read(channel=channel, ts="1700000000.000100")
        assert caught.value.response["error"] == error


async def test_update_edits_and_delete_removes_the_stored_message(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    """chat.update changes the stored text and metadata; chat.delete takes it out of history."""
    ts = (await client.chat_postMessage(channel="C0001", text="draft"))["ts"]
    await client.chat_update(channel="C0001", ts=ts, text="final", metadata=EVENT)
    [stored] = fake.channel_messages("C0001")
    assert (stored["text"], stored["metadata"]) == ("final", EVENT)
    assert stored["edited"]["user"] == "UBOT"
    with pytest.raises(SlackApiError) as caught:
        await client.chat_update(channel="C0001", ts=ts, text="x", metadata={"event_type": "x"})
    assert caught.value.response["error"] == "invalid_metadata_format"
    assert fake.channel_messages("C0001")[0]["text"] == "final"
    await client.chat_delete(channel="C0001", ts=ts)
    assert await history(client) == []


async def test_added_messages_are_someone_elses_and_ts_stay_increasing(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    """add_message stores a user's message; the bot's reply threads under it with a later ts."""
    asked = fake.add_message("C0001", "brief?", ts="1700000100.000200")
    reply = await client.chat_postMessage(channel="C0001", text="here", thread_ts=asked)
    assert float(reply["ts"]) > float(asked)
    thread = (await client.conversations_replies(channel="C0001", ts=asked))["messages"]
    assert [(m["user"], m["text"]) for m in thread] == [("UMEMBER", "brief?"), ("UBOT", "here")]
    assert thread[1]["parent_user_id"] == "UMEMBER"
    with pytest.raises(ValueError, match="already has"):
        fake.add_message("C0001", "again", ts=asked)


async def test_replies_to_a_message_the_fake_never_saw_are_kept(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    """A reply under an event's ts is stored as a reply: out of history, in thread_replies."""
    await client.chat_postMessage(channel="C0001", text="hi", thread_ts="1700000100.000300")
    assert await history(client) == []
    assert [m["text"] for m in fake.thread_replies("C0001", "1700000100.000300")] == ["hi"]


# ---------------------------------------------------------------------------- slowness


async def test_slow_after_stores_the_message_before_the_poster_hears(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    """In the `after` window the message is in history while the post is unanswered; a
    poster cancelled then never learns the ts of a message that exists."""
    fake.slow("chat.postMessage", after=30)
    post = asyncio.ensure_future(
        client.chat_postMessage(channel="C0001", text="digest", metadata=EVENT)
    )
    stored = await asyncio.wait_for(fake.wait_message("C0001"), 5)
    assert stored["metadata"] == EVENT
    seen = await history(client, include_all_metadata=True)
    assert [m["ts"] for m in seen] == [stored["ts"]]
    assert fake.posted()[0].ts == stored["ts"]  # answered, but the answer is still held
    assert not post.done()
    post.cancel()  # the bot killed mid-call
    with pytest.raises(asyncio.CancelledError):
        await post


async def test_slow_before_delays_storing(fake: FakeSlack, client: AsyncWebClient) -> None:
    """In the `before` window the call has arrived but no message is stored yet."""
    fake.slow("chat.postMessage", before=0.3, times=1)
    post = asyncio.ensure_future(client.chat_postMessage(channel="C0001", text="digest"))
    await until(lambda: fake.count("chat.postMessage") == 1)
    assert fake.channel_messages("C0001") == []
    assert not post.done()
    ts = (await post)["ts"]
    assert [m["ts"] for m in fake.channel_messages("C0001")] == [ts]


async def test_slow_times_and_clearing(fake: FakeSlack, client: AsyncWebClient) -> None:
    """slow(times=n) delays only the next n calls; slow(method) without delays clears it."""
    fake.slow("chat.postMessage", after=30, times=1)
    first = asyncio.ensure_future(client.chat_postMessage(channel="C0001", text="slow"))
    await asyncio.wait_for(fake.wait_message("C0001"), 5)
    async with asyncio.timeout(5):
        await client.chat_postMessage(channel="C0001", text="prompt")
    assert not first.done()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    fake.slow("users.info", after=30)
    fake.slow("users.info")
    async with asyncio.timeout(5):
        await client.users_info(user="UADMIN")
    with pytest.raises(ValueError, match=">= 0"):
        fake.slow("chat.postMessage", before=-1)

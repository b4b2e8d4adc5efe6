"""The fake Discord REST API and gateway through discord.py's real Client."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import sys
import time
import warnings
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
import yarl

from tests.fakes.discord_api import FakeDiscord, GatewaySession, fake_discord, shard_of
from tests.helpers import until

# discord.py imports audioop, deprecated since 3.11; pyproject turns warnings into errors.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    from discord import app_commands
    from discord.gateway import DiscordWebSocket
    from discord.http import Route


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with fake_discord() as server:
        yield server


@pytest.fixture
def pointed(fake: FakeDiscord) -> Iterator[FakeDiscord]:
    """Route.BASE at the fake for the test, restored after; DEFAULT_GATEWAY restored too."""
    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = fake.api_base
    try:
        yield fake
    finally:
        Route.BASE = base
        DiscordWebSocket.DEFAULT_GATEWAY = gateway


class FastClient(discord.Client):
    """discord.Client without the 5 s sleep before every IDENTIFY but the first."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


def make_client(
    client_class: type[discord.Client] = discord.Client, *, message_content: bool = True
) -> discord.Client:
    intents = discord.Intents.default()
    intents.message_content = message_content
    # guild_ready_timeout: discord.py waits this long after the last GUILD_CREATE before
    # on_ready (default 2 s).
    return client_class(intents=intents, guild_ready_timeout=0.05)


@contextlib.asynccontextmanager
async def running(
    fake: FakeDiscord, client: discord.Client | None = None
) -> AsyncIterator[discord.Client]:
    """Log in, read GET /gateway/bot, connect; yields once on_ready fired; closes after."""
    client = client or make_client()
    ready = asyncio.Event()

    @client.event
    async def on_ready() -> None:
        ready.set()

    task: asyncio.Task[None] | None = None
    try:
        await client.login(fake.token)
        _shards, url, _limits = await client.http.get_bot_gateway()
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        task = asyncio.create_task(client.connect(reconnect=True))
        await fake.ready()
        await asyncio.wait_for(ready.wait(), 3)
        yield client
    finally:
        await client.close()
        if task is not None:
            await asyncio.wait_for(task, 3)


async def test_client_logs_in_and_connects_through_the_fake_gateway(pointed: FakeDiscord) -> None:
    """Login, IDENTIFY over zlib-stream, READY + GUILD_CREATE fill the cache; on_ready fires."""
    async with running(pointed) as client:
        channel = client.get_channel(pointed.channel_id)
        assert isinstance(channel, discord.TextChannel)
        assert channel.name == "news"
        assert client.user is not None and client.user.id == pointed.bot_user_id
        assert client.application_id == pointed.application_id
        guild = client.get_guild(pointed.guild_id)
        assert guild is not None and guild.me is not None
        assert channel.permissions_for(guild.me).send_messages
    compress = discord.utils._ActiveDecompressionContext.COMPRESSION_TYPE  # zlib-stream here
    assert pointed.gateway_connects == [{"v": "10", "encoding": "json", "compress": compress}]
    identify = next(p for p in pointed.gateway_received if p["op"] == 2)
    assert identify["d"]["token"] == pointed.token
    assert identify["d"]["intents"] & (1 << 15)
    assert [c.path for c in pointed.rest("GET")][:3] == [
        "/users/@me",
        "/oauth2/applications/@me",
        "/gateway/bot",
    ]


async def test_slash_command_defers_then_follows_up(pointed: FakeDiscord) -> None:
    """tree.sync bulk-overwrites; the interaction runs /ping; defer then followup are recorded."""
    client = make_client()
    tree = app_commands.CommandTree(client)
    done = asyncio.Event()
    sent: list[discord.WebhookMessage] = []

    @tree.command(name="ping", description="Ping the bot", guild=discord.Object(pointed.guild_id))
    async def ping(interaction: discord.Interaction) -> None:
        assert interaction.permissions.manage_guild
        assert isinstance(interaction.channel, discord.TextChannel)
        await interaction.response.defer()
        sent.append(await interaction.followup.send("pong", wait=True))
        done.set()

    async with running(pointed, client):
        synced = await tree.sync(guild=discord.Object(pointed.guild_id))
        assert [c.name for c in synced] == ["ping"]
        put = pointed.rest("PUT", f"/guilds/{pointed.guild_id}/commands")
        assert len(put) == 1 and put[0].body[0]["name"] == "ping"
        app, guild = pointed.application_id, pointed.guild_id
        assert put[0].path == f"/applications/{app}/guilds/{guild}/commands"

        payload = await pointed.interaction("ping", permissions=str(1 << 5))
        assert payload["data"]["guild_id"] == str(pointed.guild_id)
        assert payload["data"]["id"] == str(synced[0].id)
        await asyncio.wait_for(done.wait(), 3)

    callback = pointed.rest("POST", f"/interactions/{payload['id']}/")
    assert len(callback) == 1 and callback[0].body == {"type": 5}
    followup = pointed.rest("POST", f"/webhooks/{pointed.application_id}/{payload['token']}")
    assert len(followup) == 1 and followup[0].body["content"] == "pong"
    assert followup[0].query["wait"] == "1"
    assert callback[0].at <= followup[0].at
    # After a defer the first followup becomes the original response.
    responses = [
        m
        for m in pointed.messages.values()
        if m.get("interaction_metadata", {}).get("id") == payload["id"]
    ]
    assert len(responses) == 1 and int(responses[0]["id"]) == sent[0].id
    assert sent[0].content == "pong" and not responses[0]["flags"] & (1 << 7)


async def test_message_create_reaches_on_message(pointed: FakeDiscord) -> None:
    """A MESSAGE_CREATE from the fake arrives in on_message with its content."""
    client = make_client()
    got: asyncio.Queue[discord.Message] = asyncio.Queue()

    @client.event
    async def on_message(message: discord.Message) -> None:
        if message.author != client.user:
            await got.put(message)

    async with running(pointed, client):
        await pointed.message("hello", channel_id=pointed.channel_id)
        message = await asyncio.wait_for(got.get(), 3)
    assert message.content == "hello"
    assert message.channel.id == pointed.channel_id
    assert message.guild is not None and message.guild.id == pointed.guild_id
    assert message.author.id == 5001 and not message.author.bot


async def test_without_message_content_only_mentions_carry_text(pointed: FakeDiscord) -> None:
    """Without the MESSAGE_CONTENT intent (bit 15 off in IDENTIFY) a member's message
    arrives with empty content unless it mentions the bot, as on Discord."""
    client = make_client(message_content=False)
    got: asyncio.Queue[discord.Message] = asyncio.Queue()

    @client.event
    async def on_message(message: discord.Message) -> None:
        if message.author != client.user:
            await got.put(message)

    async with running(pointed, client):
        await pointed.message("hello", channel_id=pointed.channel_id)
        await pointed.message(f"<@{pointed.bot_user_id}> hi", channel_id=pointed.channel_id)
        plain = await asyncio.wait_for(got.get(), 3)
        mention = await asyncio.wait_for(got.get(), 3)
    identify = next(p for p in pointed.gateway_received if p["op"] == 2)
    assert not identify["d"]["intents"] & (1 << 15)
    assert plain.content == ""
    assert mention.content == f"<@{pointed.bot_user_id}> hi"
    assert [u.id for u in mention.mentions] == [pointed.bot_user_id]


async def test_a_members_thread_reaches_the_cache(pointed: FakeDiscord) -> None:
    """user_thread() dispatches THREAD_CREATE for a thread a member opened, not the bot."""
    async with running(pointed) as client:
        thread_id = await pointed.user_thread("chat", owner_id=5001)
        await until(lambda: client.get_channel(thread_id))
        thread = client.get_channel(thread_id)
        assert isinstance(thread, discord.Thread)
        assert thread.owner_id == 5001 and thread.parent_id == pointed.channel_id
        assert thread.me is None


async def test_thread_on_a_message(pointed: FakeDiscord) -> None:
    """channel.create_thread(message=...) returns a Thread, cached; sending into it works."""
    async with running(pointed) as client:
        channel = client.get_channel(pointed.channel_id)
        assert isinstance(channel, discord.TextChannel)
        msg = await channel.send("digest")
        thread = await channel.create_thread(name="Discuss", message=msg)
        assert isinstance(thread, discord.Thread)
        assert thread.id == msg.id and thread.parent_id == pointed.channel_id
        assert thread.name == "Discuss"
        reply = await thread.send("in the thread", file=discord.File(io.BytesIO(b"hi"), "a.txt"))
        assert reply.channel.id == thread.id
        assert [(a.filename, a.size) for a in reply.attachments] == [("a.txt", 2)]
        await until(lambda: client.get_channel(thread.id))
        assert isinstance(client.get_channel(thread.id), discord.Thread)
    post = pointed.rest("POST", f"/channels/{pointed.channel_id}/messages/{msg.id}/threads")
    assert post[0].body["name"] == "Discuss"
    in_thread = pointed.rest("POST", f"/channels/{thread.id}/messages")
    assert in_thread[0].status == 200 and in_thread[0].files == ["a.txt"]
    assert in_thread[0].body["content"] == "in the thread"  # multipart payload_json, parsed


async def test_rate_limited_send_is_retried(pointed: FakeDiscord) -> None:
    """A 429 on POST /channels/{id}/messages is slept off and retried by discord.py."""
    path = f"/channels/{pointed.channel_id}/messages"
    async with running(pointed) as client:
        channel = client.get_channel(pointed.channel_id)
        assert isinstance(channel, discord.TextChannel)
        pointed.fail_next("POST", path, status=429, retry_after=0.2)
        started = time.monotonic()
        sent = await channel.send("after the limit")
        assert time.monotonic() - started >= 0.2
    assert sent.content == "after the limit"
    calls = pointed.rest("POST", path)
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 0.2


async def test_client_resumes_after_a_disconnect(pointed: FakeDiscord) -> None:
    """After the fake closes the socket (4000) the client RESUMEs and still gets messages."""
    client = make_client()
    got: asyncio.Queue[discord.Message] = asyncio.Queue()
    resumed = asyncio.Event()

    @client.event
    async def on_message(message: discord.Message) -> None:
        await got.put(message)

    @client.event
    async def on_resumed() -> None:
        resumed.set()

    async with running(pointed, client):
        await pointed.disconnect()
        # Dispatched while disconnected: replayed on RESUME.
        await pointed.message("missed while away", channel_id=pointed.channel_id)
        await pointed.resumed()
        await asyncio.wait_for(resumed.wait(), 3)
        await pointed.message("after resume", channel_id=pointed.channel_id)
        first = await asyncio.wait_for(got.get(), 3)
        second = await asyncio.wait_for(got.get(), 3)
    assert [first.content, second.content] == ["missed while away", "after resume"]
    assert pointed.identify_count == 1 and pointed.resume_count == 1
    resume = next(p for p in pointed.gateway_received if p["op"] == 6)
    assert resume["d"]["seq"] >= 2


async def test_dropped_connection_and_reconnect_request_resume(pointed: FakeDiscord) -> None:
    """A TCP drop with no close frame (1006), and op 7 RECONNECT, each end in a RESUME."""
    async with running(pointed):
        await pointed.disconnect(None)
        await pointed.resumed()
        await pointed.reconnect_request()
        await pointed.resumed()
    assert pointed.resume_count == 2 and pointed.identify_count == 1


async def test_invalidated_session_identifies_again(pointed: FakeDiscord) -> None:
    """With resumable=False the RESUME gets INVALID_SESSION and the client IDENTIFYs anew."""
    async with running(pointed, make_client(FastClient)) as client:
        await pointed.disconnect(resumable=False)
        await pointed.ready()
        await until(lambda: client.get_channel(pointed.channel_id))
        assert isinstance(client.get_channel(pointed.channel_id), discord.TextChannel)
    assert pointed.identify_count == 2 and pointed.resume_count == 0


async def test_interaction_response_message_and_edit(pointed: FakeDiscord) -> None:
    """send_message (type 4) then edit_original_response; a followup is a separate message."""
    client = make_client()
    tree = app_commands.CommandTree(client)
    done = asyncio.Event()

    @tree.command(name="brief", description="A brief")
    @app_commands.describe(topic="What about")
    async def brief(interaction: discord.Interaction, topic: str, days: int = 1) -> None:
        await interaction.response.send_message(f"working on {topic} ({days})")
        await interaction.edit_original_response(content=f"brief on {topic}")
        original = await interaction.original_response()
        assert original.content == f"brief on {topic}"
        await interaction.followup.send("more")
        done.set()

    async with running(pointed, client):
        await tree.sync()
        assert pointed.rest("PUT", f"/applications/{pointed.application_id}/commands")
        payload = await pointed.interaction(
            "brief", [{"name": "topic", "value": "ai"}, {"name": "days", "value": 3}]
        )
        await asyncio.wait_for(done.wait(), 3)
    assert "guild_id" not in payload["data"]
    callback = pointed.rest("POST", "/callback")[0]
    assert callback.body["type"] == 4 and callback.body["data"]["content"] == "working on ai (3)"
    patch = pointed.rest("PATCH", "/messages/@original")[0]
    assert patch.body["content"] == "brief on ai"
    followup = pointed.rest("POST", "/webhooks/")[0]
    assert followup.body["content"] == "more"
    assert followup.query["wait"] == "1"  # interaction followups always wait


async def test_rest_errors_look_like_discord(pointed: FakeDiscord) -> None:
    """Unknown channels, routes and scripted failures answer Discord's JSON errors."""
    async with running(pointed) as client:
        with pytest.raises(discord.NotFound) as unknown:
            await client.fetch_channel(424242)
        assert unknown.value.code == 10003
        pointed.fail_next("POST", "/messages", status=403, code=50013)
        channel = client.get_channel(pointed.channel_id)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.Forbidden) as forbidden:
            await channel.send("nope")
        assert forbidden.value.code == 50013
        with pytest.raises(discord.NotFound):
            await client.fetch_guild(pointed.guild_id)
    assert pointed.rest("GET", f"/guilds/{pointed.guild_id}")[0].status == 404


async def test_bad_token_fails_login(pointed: FakeDiscord) -> None:
    """A wrong token gets 401 from GET /users/@me, which discord.py raises as LoginFailure."""
    client = make_client()
    try:
        with pytest.raises(discord.LoginFailure):
            await client.login("wrong")
    finally:
        await client.close()


async def test_gateway_protocol_by_hand(fake: FakeDiscord) -> None:
    """zlib-stream frames end in Z_SYNC_FLUSH and share one stream; no compress: text frames."""
    inflate = zlib.decompressobj()
    async with aiohttp.ClientSession() as session:
        url = f"{fake.gateway_url}?v=10&encoding=json&compress=zlib-stream"
        async with session.ws_connect(url) as ws:

            async def receive() -> dict[str, object]:
                frame = await ws.receive_bytes(timeout=2)
                assert frame.endswith(b"\x00\x00\xff\xff")
                return dict(json.loads(inflate.decompress(frame)))

            assert (await receive())["op"] == 10
            await ws.send_json({"op": 1, "d": None})
            assert (await receive())["op"] == 11
            await ws.send_json({"op": 2, "d": {"token": fake.token, "intents": 513}})
            ready, guild = await receive(), await receive()
            assert (ready["t"], ready["s"], guild["t"], guild["s"]) == (
                "READY",
                1,
                "GUILD_CREATE",
                2,
            )
        async with session.ws_connect(f"{fake.gateway_url}?v=10&encoding=json") as ws:
            hello = json.loads(await ws.receive_str(timeout=2))
            assert hello["d"]["heartbeat_interval"] == fake.heartbeat_interval
            await ws.send_json({"op": 6, "d": {"token": fake.token, "session_id": "x", "seq": 1}})
            assert json.loads(await ws.receive_str(timeout=2)) == {"op": 9, "d": False}
    await fake.ready()


# ---------------------------------------------------------------------------- nonces, history,
# threads, slowness


async def call(
    fake: FakeDiscord,
    method: str,
    path: str,
    *,
    json: object = None,
    params: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One REST request to the fake with the bot token; (status, parsed JSON body)."""
    headers = {"Authorization": f"Bot {fake.token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.request(method, fake.api_base + path, json=json, params=params) as response,
    ):
        return response.status, await response.json()


def creates(fake: FakeDiscord, message_id: int) -> list[dict[str, Any]]:
    """The MESSAGE_CREATE events the fake dispatched for one message."""
    return [d for t, d in fake.dispatched if t == "MESSAGE_CREATE" and d["id"] == str(message_id)]


async def test_enforced_nonce_twice_gives_one_message(pointed: FakeDiscord) -> None:
    """send(nonce=...) twice: the second answer is the first message; one MESSAGE_CREATE."""
    async with running(pointed) as client:
        channel = client.get_channel(pointed.channel_id)
        assert isinstance(channel, discord.TextChannel)
        first = await channel.send("digest", nonce="digest-42")
        again = await channel.send("digest, retried", nonce="digest-42")
    assert again.id == first.id and again.content == "digest"
    assert first.nonce == again.nonce == "digest-42"
    posts = pointed.rest("POST", f"/channels/{pointed.channel_id}/messages")
    assert [(c.body["nonce"], c.body["enforce_nonce"], c.status) for c in posts] == [
        ("digest-42", True, 200),
        ("digest-42", True, 200),
    ]
    assert [int(m["id"]) for m in pointed.channel_messages(pointed.channel_id)] == [first.id]
    (event,) = creates(pointed, first.id)
    assert event["nonce"] == "digest-42"


async def test_enforced_nonce_expires_after_the_window(fake: FakeDiscord) -> None:
    """Within `nonce_window` (by `clock`) the nonce finds its message; past it, a new one."""
    now = [1000.0]
    fake.clock = lambda: now[0]
    path = f"/channels/{fake.channel_id}/messages"
    body = {"content": "digest", "nonce": "n-1", "enforce_nonce": True}
    _, first = await call(fake, "POST", path, json=body)
    now[0] += fake.nonce_window - 1
    _, within = await call(fake, "POST", path, json=body)
    now[0] += 2
    status, after = await call(fake, "POST", path, json=body)
    assert fake.nonce_window == 300
    assert within["id"] == first["id"]
    assert status == 200 and after["id"] != first["id"] and after["nonce"] == "n-1"
    ids = [m["id"] for m in fake.channel_messages(fake.channel_id)]
    assert ids == [first["id"], after["id"]]


async def test_nonce_without_enforce_nonce_posts_twice(fake: FakeDiscord) -> None:
    """Without enforce_nonce (absent or false) a repeated nonce makes a new message each time."""
    path = f"/channels/{fake.channel_id}/messages"
    _, one = await call(fake, "POST", path, json={"content": "a", "nonce": 7})
    _, two = await call(fake, "POST", path, json={"content": "b", "nonce": 7})
    unforced = {"content": "c", "nonce": 7, "enforce_nonce": False}
    _, three = await call(fake, "POST", path, json=unforced)
    assert len({one["id"], two["id"], three["id"]}) == 3
    assert one["nonce"] == two["nonce"] == three["nonce"] == 7  # echoed as sent
    assert [m["content"] for m in fake.channel_messages(fake.channel_id)] == ["a", "b", "c"]


async def test_an_enforced_nonce_matches_only_in_its_channel(fake: FakeDiscord) -> None:
    """enforce_nonce finds the latest message with that nonce in the same channel only."""
    path = f"/channels/{fake.channel_id}/messages"
    await call(fake, "POST", path, json={"content": "a", "nonce": "n"})
    _, latest = await call(fake, "POST", path, json={"content": "b", "nonce": "n"})
    enforced = {"content": "c", "nonce": "n", "enforce_nonce": True}
    _, here = await call(fake, "POST", path, json=enforced)
    thread_id = await fake.user_thread()
    _, elsewhere = await call(fake, "POST", f"/channels/{thread_id}/messages", json=enforced)
    assert here["id"] == latest["id"] and here["content"] == "b"
    assert elsewhere["id"] != latest["id"] and elsewhere["channel_id"] == str(thread_id)
    assert [m["id"] for m in fake.channel_messages(thread_id)] == [elsewhere["id"]]
    assert len(fake.channel_messages(fake.channel_id)) == 2


async def test_a_bad_nonce_is_refused(pointed: FakeDiscord) -> None:
    """A nonce over 25 characters, or neither string nor integer: 400, code 50035."""
    path = f"/channels/{pointed.channel_id}/messages"
    status, body = await call(pointed, "POST", path, json={"content": "x", "nonce": "n" * 26})
    assert status == 400 and body["code"] == 50035 and body["message"] == "Invalid Form Body"
    assert body["errors"]["nonce"]["_errors"][0]["code"] == "NONCE_TYPE_TOO_LONG"
    status, body = await call(pointed, "POST", path, json={"content": "x", "nonce": 1.5})
    assert status == 400 and body["code"] == 50035
    status, _ = await call(pointed, "POST", path, json={"content": "x", "nonce": "n" * 25})
    assert status == 200
    async with running(pointed) as client:
        channel = client.get_channel(pointed.channel_id)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.HTTPException) as refused:
            await channel.send("too long", nonce="x" * 26)
    assert refused.value.status == 400 and refused.value.code == 50035
    assert "nonce" in refused.value.text
    assert [m["content"] for m in pointed.channel_messages(pointed.channel_id)] == ["x"]


async def test_history_pages_newest_first_and_hides_nonces(fake: FakeDiscord) -> None:
    """GET messages: limit 1-100 (50 by default), before/after/around, newest first, no nonce."""
    path = f"/channels/{fake.channel_id}/messages"
    ids: list[str] = []
    for n in range(60):
        _, sent = await call(fake, "POST", path, json={"content": f"m{n}", "nonce": f"n{n}"})
        ids.append(sent["id"])

    async def page(**params: str) -> list[str]:
        status, body = await call(fake, "GET", path, params=params)
        assert status == 200, body
        assert not any("nonce" in m for m in body)
        return [m["id"] for m in body]

    assert await page() == ids[::-1][:50]
    assert await page(limit="3") == [ids[59], ids[58], ids[57]]
    assert await page(before=ids[10], limit="3") == [ids[9], ids[8], ids[7]]
    assert await page(after=ids[10], limit="3") == [ids[13], ids[12], ids[11]]  # right after
    assert await page(after="0", limit="2") == [ids[1], ids[0]]
    assert await page(around=ids[30], limit="3") == [ids[31], ids[30], ids[29]]
    assert await page(around=ids[30], limit="4") == [ids[32], ids[31], ids[30], ids[29], ids[28]]
    assert await page(around=ids[0], limit="5") == [ids[2], ids[1], ids[0]]
    assert await page(before=ids[0]) == []
    assert len(await page(limit="100")) == 60
    status, one = await call(fake, "GET", f"{path}/{ids[5]}")
    assert status == 200 and "nonce" not in one
    for bad in ({"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"before": "x"}):
        status, body = await call(fake, "GET", path, params=bad)
        assert status == 400 and body["code"] == 50035
        assert set(body["errors"]) == set(bad)
    assert [m["id"] for m in fake.channel_messages(fake.channel_id)] == ids


async def test_discord_py_history_pages_through_the_fake(pointed: FakeDiscord) -> None:
    """channel.history() pages of 100 come out whole in both directions and around."""
    path = f"/channels/{pointed.channel_id}/messages"
    ids: list[int] = []
    for n in range(205):
        _, sent = await call(pointed, "POST", path, json={"content": f"m{n}"})
        ids.append(int(sent["id"]))
    async with running(pointed) as client:
        channel = client.get_channel(pointed.channel_id)
        assert isinstance(channel, discord.TextChannel)
        newest = [m.id async for m in channel.history(limit=None)]
        oldest = [m.id async for m in channel.history(limit=None, oldest_first=True)]
        after = [m.id async for m in channel.history(limit=None, after=discord.Object(ids[50]))]
        before = [m.id async for m in channel.history(limit=120, before=discord.Object(ids[150]))]
        around = [m.id async for m in channel.history(limit=5, around=discord.Object(ids[100]))]
        fetched = [m async for m in channel.history(limit=1)]
    assert newest == ids[::-1]
    assert oldest == ids
    assert after == ids[51:]
    assert before == ids[30:150][::-1]
    assert around == ids[98:103][::-1]
    assert fetched[0].nonce is None


async def test_a_second_thread_on_a_message_is_refused(pointed: FakeDiscord) -> None:
    """A thread on a message has the message's id; a second one: 400, code 160004."""
    async with running(pointed) as client:
        channel = client.get_channel(pointed.channel_id)
        assert isinstance(channel, discord.TextChannel)
        msg = await channel.send("digest")
        thread = await channel.create_thread(name="Discuss", message=msg)
        with pytest.raises(discord.HTTPException) as again:
            await channel.create_thread(name="Discuss again", message=msg)
        await thread.send("in the thread")
    assert thread.id == msg.id
    assert again.value.status == 400 and again.value.code == 160004
    assert list(pointed.threads) == [msg.id]
    assert [m["content"] for m in pointed.channel_messages(thread.id)] == ["in the thread"]
    assert [m["content"] for m in pointed.channel_messages(pointed.channel_id)] == ["digest"]
    posts = pointed.rest("POST", f"/messages/{msg.id}/threads")
    assert [c.status for c in posts] == [201, 400]


async def test_slow_create_message_holds_before_and_after(pointed: FakeDiscord) -> None:
    """slow(): in `before` nothing exists; in `after` the message is out while send() waits."""
    client = make_client()
    seen: asyncio.Queue[discord.Message] = asyncio.Queue()

    @client.event
    async def on_message(message: discord.Message) -> None:
        await seen.put(message)

    path = f"/channels/{pointed.channel_id}/messages"
    async with running(pointed, client):
        channel = client.get_channel(pointed.channel_id)
        assert isinstance(channel, discord.TextChannel)
        pointed.slow("create_message", before=0.5, after=0.5)
        send = asyncio.create_task(channel.send("slow digest", nonce="slow-1"))
        await until(lambda: pointed.rest("POST", path))
        # `before`: the request is in, nothing created, nothing answered.
        assert pointed.channel_messages(pointed.channel_id) == []
        assert pointed.rest("POST", path)[0].status == 0 and not send.done()
        # `after`: created and dispatched, still unanswered.
        echoed = await asyncio.wait_for(seen.get(), 5)
        status, listed = await call(pointed, "GET", path)
        assert not send.done() and pointed.rest("POST", path)[0].status == 0
        assert status == 200 and [m["id"] for m in listed] == [str(echoed.id)]
        sent = await asyncio.wait_for(send, 5)
    assert sent.id == echoed.id and echoed.nonce == "slow-1"
    assert pointed.rest("POST", path)[0].status == 200


async def test_a_client_gone_during_after_has_posted(fake: FakeDiscord) -> None:
    """A client gone during `after` has posted; resending the enforced nonce returns that post."""
    path = f"/channels/{fake.channel_id}/messages"
    fake.slow("create_message", after=30, times=1)
    body = {"content": "digest", "nonce": "digest-7", "enforce_nonce": True}
    lost = asyncio.create_task(call(fake, "POST", path, json=body))
    await until(lambda: fake.channel_messages(fake.channel_id))
    lost.cancel()  # the client dies without an answer
    with contextlib.suppress(asyncio.CancelledError):
        await lost
    (posted,) = fake.channel_messages(fake.channel_id)
    status, again = await call(fake, "POST", path, json=body)  # `times=1`: not slowed now
    assert status == 200 and again["id"] == posted["id"]
    assert fake.channel_messages(fake.channel_id) == [posted]
    assert [c.status for c in fake.rest("POST", path)] == [0, 200]  # the first never answered


async def test_slow_thread_from_message(fake: FakeDiscord) -> None:
    """slow("start_thread_from_message"): the thread exists during `after`, before the 201."""
    path = f"/channels/{fake.channel_id}/messages"
    with pytest.raises(ValueError, match="unknown route"):
        fake.slow("create_thread", after=1)
    _, posted = await call(fake, "POST", path, json={"content": "digest"})
    fake.slow("start_thread_from_message", before=0.3, after=0.3)
    thread_path = f"{path}/{posted['id']}/threads"
    opening = asyncio.create_task(call(fake, "POST", thread_path, json={"name": "Talk"}))
    await until(lambda: fake.rest("POST", thread_path))
    assert fake.threads == {} and not opening.done()
    await until(lambda: fake.threads)
    assert not opening.done() and fake.rest("POST", thread_path)[0].status == 0
    status, thread = await asyncio.wait_for(opening, 5)
    assert status == 201 and thread["id"] == posted["id"]
    assert list(fake.threads) == [int(posted["id"])]
    fake.slow("start_thread_from_message")  # no delays: back to normal
    status, refused = await call(fake, "POST", thread_path, json={"name": "Talk"})
    assert status == 400 and refused["code"] == 160004


CLIENT_SCRIPT = """
import asyncio, sys, warnings
warnings.simplefilter("ignore")
import discord, yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

async def main(api, token, channel_id, nonce):
    Route.BASE = api
    client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
    async with client:
        await client.login(token)
        _, url, _ = await client.http.get_bot_gateway()
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        connection = asyncio.create_task(client.connect())
        await client.wait_until_ready()
        print("ready", flush=True)
        sent = await client.get_channel(channel_id).send("digest", nonce=nonce)
        print("sent", sent.id, flush=True)
    await connection

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
"""


async def test_a_client_in_another_process_killed_mid_send(fake: FakeDiscord) -> None:
    """A client killed in a slow send's `after` has posted; the next process's nonce finds it."""
    fake.wait_timeout = 30
    args = [fake.api_base, fake.token, str(fake.channel_id), "digest-2024-06-01"]

    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CLIENT_SCRIPT,
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    fake.slow("create_message", after=30, times=1)
    first = await start()
    try:
        await fake.ready()
        await until(lambda: fake.channel_messages(fake.channel_id), seconds=30)
    finally:
        first.kill()
        await first.communicate()
    (posted,) = fake.channel_messages(fake.channel_id)

    second = await start()
    try:
        out, err = await asyncio.wait_for(second.communicate(), 30)
    finally:
        if second.returncode is None:
            second.kill()
            await second.communicate()
    assert second.returncode == 0, err.decode()
    assert out.decode().split() == ["ready", "sent", posted["id"]]
    assert fake.channel_messages(fake.channel_id) == [posted]
    assert len(creates(fake, int(posted["id"]))) == 1
    assert fake.identify_count == 2


# ---------------------------------------------------------------------------- sharding


class FastShardedClient(discord.AutoShardedClient):
    """AutoShardedClient without the 5 s sleep before every IDENTIFY but the first."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


def make_sharded(shard_ids: list[int], shard_count: int) -> discord.AutoShardedClient:
    """A client connecting only `shard_ids` of `shard_count`, as one process of several."""
    intents = discord.Intents.default()
    intents.message_content = True
    return FastShardedClient(
        intents=intents, shard_count=shard_count, shard_ids=shard_ids, guild_ready_timeout=0.05
    )


def session_on(fake: FakeDiscord, shard: tuple[int, int]) -> GatewaySession:
    (session,) = [s for s in fake.live_sessions() if s.shard == shard]
    return session


def seen_interactions(client: discord.Client) -> list[discord.Interaction]:
    """Every interaction `client` receives, in the order its gateway delivered them."""
    seen: list[discord.Interaction] = []

    @client.event
    async def on_interaction(interaction: discord.Interaction) -> None:
        seen.append(interaction)

    return seen


async def test_each_sharded_client_gets_only_its_shards_guilds(pointed: FakeDiscord) -> None:
    """Two clients, shard 0 and shard 1 of 2: READY and GUILD_CREATE carry each one only
    the guilds (guild_id >> 22) % 2 puts on its shard; READY echoes `shard`."""
    pointed.recommended_shards = 2
    zero, one = pointed.add_guild(shard=0), pointed.add_guild(shard=1)
    assert (shard_of(pointed.guild_id, 2), shard_of(zero.id, 2), shard_of(one.id, 2)) == (0, 0, 1)
    status, gateway = await call(pointed, "GET", "/gateway/bot")
    assert status == 200 and gateway["shards"] == 2
    async with (
        running(pointed, make_sharded([0], 2)) as first,
        running(pointed, make_sharded([1], 2)) as second,
    ):
        assert {g.id for g in first.guilds} == {pointed.guild_id, zero.id}
        assert {g.id for g in second.guilds} == {one.id}
        channel = second.get_channel(one.channel_id)
        assert isinstance(channel, discord.TextChannel) and channel.guild.id == one.id
        assert first.get_channel(one.channel_id) is None
        for shard, guilds in (((0, 2), [pointed.guild_id, zero.id]), ((1, 2), [one.id])):
            session = session_on(pointed, shard)
            (ready,) = session.received("READY")
            assert ready["shard"] == list(shard)
            assert ready["guilds"] == [{"id": str(g), "unavailable": True} for g in guilds]
            assert [int(g["id"]) for g in session.received("GUILD_CREATE")] == guilds
    identifies = [p["d"]["shard"] for p in pointed.gateway_received if p["op"] == 2]
    assert sorted(identifies) == [[0, 2], [1, 2]]
    # Each client closed with 1000: on Discord that ends the session.
    assert len(pointed.sessions) == 2 and pointed.live_sessions() == []


async def test_one_client_holding_both_shards_gets_every_guild(pointed: FakeDiscord) -> None:
    """One client with shards [0, 1] of 2 has every guild, each on its shard; a guild
    joined while connected arrives (GUILD_CREATE) on its own shard's session only."""
    one = pointed.add_guild(shard=1, num_shards=2)
    client = make_sharded([0, 1], 2)
    joined: asyncio.Queue[discord.Guild] = asyncio.Queue()

    @client.event
    async def on_guild_join(guild: discord.Guild) -> None:
        await joined.put(guild)

    async with running(pointed, client):
        assert isinstance(client, discord.AutoShardedClient)
        assert sorted(client.shards) == [0, 1]
        assert {(g.id, g.shard_id) for g in client.guilds} == {(pointed.guild_id, 0), (one.id, 1)}
        later = await pointed.join_guild(shard=1, num_shards=2)
        guild = await asyncio.wait_for(joined.get(), 3)
        assert guild.id == later.id and guild.shard_id == 1
        assert isinstance(client.get_channel(later.channel_id), discord.TextChannel)
        assert [g["id"] for g in session_on(pointed, (0, 2)).received("GUILD_CREATE")] == [
            str(pointed.guild_id)
        ]
        assert [g["id"] for g in session_on(pointed, (1, 2)).received("GUILD_CREATE")] == [
            str(one.id),
            str(later.id),
        ]


async def test_an_interaction_reaches_only_its_shards_client(pointed: FakeDiscord) -> None:
    """/brief in a guild of shard 1 goes to the shard-1 client alone; its response, posted
    over REST, is echoed to shard 1 too. Shard 0's client sees only its own guild's /brief."""
    zero, one = pointed.add_guild(shard=0, num_shards=2), pointed.add_guild(shard=1, num_shards=2)
    first, second = make_sharded([0], 2), make_sharded([1], 2)
    seen = {0: seen_interactions(first), 1: seen_interactions(second)}
    answered = {0: asyncio.Event(), 1: asyncio.Event()}
    for shard, client in ((0, first), (1, second)):
        tree = app_commands.CommandTree(client)

        @tree.command(name="brief", description="A brief")
        async def brief(interaction: discord.Interaction, shard: int = shard) -> None:
            await interaction.response.send_message(f"from shard {shard}")
            answered[shard].set()

    async with running(pointed, first), running(pointed, second):
        payload = await pointed.interaction("brief", guild_id=one.id)
        await asyncio.wait_for(answered[1].wait(), 3)
        assert [(i.guild_id, i.channel_id) for i in seen[1]] == [(one.id, one.channel_id)]
        # The fake sent shard 0 nothing of it; and as its socket is ordered, shard 0's
        # client getting a later /brief first shows it never got this one.
        assert session_on(pointed, (0, 2)).received("INTERACTION_CREATE") == []
        later = await pointed.interaction("brief", guild_id=zero.id)
        await asyncio.wait_for(answered[0].wait(), 3)
        assert [i.guild_id for i in seen[0]] == [zero.id]
        assert [i.guild_id for i in seen[1]] == [one.id]
    replies = {
        m["interaction_metadata"]["id"]: m
        for m in pointed.messages.values()
        if "interaction_metadata" in m
    }
    reply = replies[payload["id"]]
    assert reply["content"] == "from shard 1" and reply["channel_id"] == str(one.channel_id)
    assert replies[later["id"]]["content"] == "from shard 0"
    # The responses, posted over REST, were echoed to their guild's shard only.
    for pair, sent in (((0, 2), replies[later["id"]]), ((1, 2), reply)):
        (echo,) = session_on_any(pointed, pair).received("MESSAGE_CREATE")
        assert echo["id"] == sent["id"] and echo["guild_id"] == sent_guild(pointed, sent)
    assert pointed.undelivered == []


def sent_guild(fake: FakeDiscord, message: dict[str, Any]) -> str:
    """The guild id (a str, as on the gateway) of the text channel a message is in."""
    (guild,) = [g for g in fake.guilds() if str(g.channel_id) == message["channel_id"]]
    return str(guild.id)


def session_on_any(fake: FakeDiscord, shard: tuple[int, int]) -> GatewaySession:
    """The one session ever identified on `shard`, ended or not."""
    (session,) = [s for s in fake.sessions if s.shard == shard]
    return session


async def test_events_for_a_shard_nobody_holds_are_undelivered(pointed: FakeDiscord) -> None:
    """With only shard 0 of 2 connected, events in a guild of shard 1 have no session to go
    to: recorded in `undelivered`, not sent. REST stays global: shard 0 may post there."""
    one = pointed.add_guild(shard=1, num_shards=2)
    client = make_sharded([0], 2)
    got: asyncio.Queue[discord.Message] = asyncio.Queue()

    @client.event
    async def on_message(message: discord.Message) -> None:
        await got.put(message)

    async with running(pointed, client):
        payload = await pointed.interaction("brief", guild_id=one.id)
        said = await pointed.message("anyone?", guild_id=one.id)
        sent = await client.get_partial_messageable(one.channel_id, guild_id=one.id).send("hi")
        here = await pointed.message("here", channel_id=pointed.channel_id)
        assert (await asyncio.wait_for(got.get(), 3)).id == int(here["id"])
    assert said["channel_id"] == str(one.channel_id)
    assert [(t, d["id"]) for t, d in pointed.undelivered] == [
        ("INTERACTION_CREATE", payload["id"]),
        ("MESSAGE_CREATE", said["id"]),
        ("MESSAGE_CREATE", str(sent.id)),
    ]
    assert [m["content"] for m in pointed.channel_messages(one.channel_id)] == ["anyone?", "hi"]
    (session,) = pointed.sessions
    assert session.received("INTERACTION_CREATE") == []
    assert [m["id"] for m in session.received("MESSAGE_CREATE")] == [here["id"]]
    assert got.empty()


async def test_a_shard_id_out_of_range_is_refused(pointed: FakeDiscord) -> None:
    """IDENTIFY with shard [2, 2]: the gateway closes 4010 (Invalid shard), which discord.py
    does not reconnect after; no session is made."""
    client = make_sharded([2], 2)
    try:
        await client.login(pointed.token)
        _shards, url, _limits = await client.http.get_bot_gateway()
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        with pytest.raises(discord.ConnectionClosed) as refused:
            await asyncio.wait_for(client.connect(reconnect=True), 5)
    finally:
        await client.close()
    assert refused.value.code == 4010
    assert [p["d"]["shard"] for p in pointed.gateway_received if p["op"] == 2] == [[2, 2]]
    assert pointed.sessions == [] and pointed.identify_count == 0


async def test_shard_refusals_by_hand(fake: FakeDiscord) -> None:
    """4010 for a malformed or out-of-range shard, 4011 for too many guilds on one session,
    4005 for a second IDENTIFY on one connection."""
    fake.add_guild(shard=0, num_shards=2)  # on shard 0 of 2, and of 1

    async def close_code(*identifies: dict[str, Any]) -> int | None:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"{fake.gateway_url}?v=10&encoding=json") as ws,
        ):
            assert json.loads(await ws.receive_str(timeout=2))["op"] == 10
            for d in identifies:
                await ws.send_json({"op": 2, "d": {"token": fake.token, "intents": 0, **d}})
            while (await ws.receive(timeout=2)).type is aiohttp.WSMsgType.TEXT:
                pass
            return ws.close_code

    assert await close_code({"shard": [1, 1]}) == 4010
    assert await close_code({"shard": [-1, 2]}) == 4010
    assert await close_code({"shard": [0, 0]}) == 4010
    assert await close_code({"shard": ["0", 2]}) == 4010
    fake.max_guilds_per_session = 1
    assert await close_code({}) == 4011  # both guilds on the one shard
    assert await close_code({"shard": [0, 2]}, {"shard": [1, 2]}) == 4011  # both on shard 0
    fake.max_guilds_per_session = 2500
    assert await close_code({"shard": [0, 2]}, {"shard": [1, 2]}) == 4005
    assert fake.identify_count == 1 and fake.sessions[0].shard == (0, 2)


async def test_sessions_on_the_same_shard_both_get_its_events(pointed: FakeDiscord) -> None:
    """As Discord documents, several sessions may hold one [shard_id, num_shards], or use
    different num_shards: each gets the events its own pair routes to it."""
    one = pointed.add_guild(shard=1, num_shards=2)
    a, b, whole = make_sharded([1], 2), make_sharded([1], 2), make_sharded([0], 1)
    seen = [seen_interactions(c) for c in (a, b, whole)]
    async with running(pointed, a), running(pointed, b), running(pointed, whole):
        assert sorted(s.shard for s in pointed.live_sessions()) == [(0, 1), (1, 2), (1, 2)]
        await pointed.interaction("brief", guild_id=one.id)
        await until(lambda: all(seen))
        assert [[i.guild_id for i in s] for s in seen] == [[one.id]] * 3
        assert {g.id for g in whole.guilds} == {pointed.guild_id, one.id}
        assert len(pointed.live_sessions()) == 3  # nobody was invalidated
    assert pointed.undelivered == []


async def test_one_shard_drops_and_comes_back_alone(pointed: FakeDiscord) -> None:
    """disconnect(shard=1) closes only shard 1's socket: it RESUMEs and gets what it missed;
    with resumable=False it IDENTIFYs anew. Shard 0's session stays up throughout."""
    one = pointed.add_guild(shard=1, num_shards=2)
    first, second = make_sharded([0], 2), make_sharded([1], 2)
    got: asyncio.Queue[discord.Message] = asyncio.Queue()

    @second.event
    async def on_message(message: discord.Message) -> None:
        await got.put(message)

    async with running(pointed, first), running(pointed, second):
        zero = session_on(pointed, (0, 2))
        await pointed.disconnect(shard=1)
        missed = await pointed.message("while away", guild_id=one.id)
        await pointed.resumed(shard=1)
        assert (await asyncio.wait_for(got.get(), 3)).id == int(missed["id"])
        assert pointed.resume_count == 1 and zero.connected
        await pointed.disconnect(shard=1, resumable=False)
        await pointed.ready(shard=1)
        assert pointed.identify_count == 3 and zero.connected
        assert [s.shard for s in pointed.live_sessions()] == [(0, 2), (1, 2)]
        assert session_on(pointed, (0, 2)) is zero

"""A fake Discord REST API and gateway on loopback (port 0), for the real `discord.Client`.

One aiohttp server answers both: REST under `api_base` ("http://127.0.0.1:PORT/api/v10") and
the gateway websocket at `gateway_url` ("ws://127.0.0.1:PORT/gateway"). Point discord.py 2.x at
it with three globals (restore them afterwards):

    discord.http.Route.BASE = fake.api_base  # a str; covers REST *and* webhooks
    await client.login(fake.token)  # GET /users/@me, GET /oauth2/applications/@me
    _shards, url, _limits = await client.http.get_bot_gateway()  # a tuple, not the dict
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)  # a yarl.URL, not a str
    await client.connect(reconnect=True)

Interaction callbacks and followups (`discord/webhook/async_.py`) build their URLs with the same
`discord.http.Route`, so `Route.BASE` covers them; there is no separate webhook base. A Route
reads BASE when it is constructed. Resumes go to READY's `resume_gateway_url` (this fake's
`gateway_url`); only a fresh IDENTIFY after an invalidated session falls back to
DEFAULT_GATEWAY.

discord.py asks for transport compression: it connects to
`?v=10&encoding=json&compress=zlib-stream` (or `zstd-stream` when `zstandard` or Python 3.14's
`compression.zstd` is importable). The fake answers in kind: zlib-stream frames come from one
zlib compressor per connection, each message flushed with Z_SYNC_FLUSH (ends in 00 00 ff ff)
and sent as a binary frame; zstd-stream frames are one flushed zstd block per message; no
`compress` query means plain JSON text frames. The client's own frames are plain JSON text.

The gateway keeps a session log: events dispatched while the client is disconnected are
replayed on RESUME (then RESUMED), as Discord does. Bot messages, followups, interaction
responses and threads the client creates over REST are echoed on the gateway
(MESSAGE_CREATE/UPDATE/DELETE, THREAD_CREATE) before the REST answer. Without the
GUILD_MESSAGES intent no MESSAGE_* events are sent, and without MESSAGE_CONTENT the content
of other users' messages arrives empty unless they mention the bot.

discord.py's own timing, worth knowing in tests: on_ready fires only after no GUILD_CREATE
arrived for `guild_ready_timeout` seconds (a Client option, default 2.0), and every IDENTIFY
but the first sleeps 5 s in `Client.before_identify_hook` (override it in a subclass; it is
bound when the Client is built). Importing discord on Python 3.11 raises audioop's
DeprecationWarning, an error under `filterwarnings = ["error"]`.

REST requests need `Authorization: Bot <token>` (401 otherwise), except interaction callbacks
and webhook calls, which carry their token in the path. Every request is recorded in `calls`;
unknown routes answer 404 `{"message": "Unknown", "code": 0}`. `fail_next` scripts failures;
a 429 carries Discord's JSON body, the X-RateLimit-* headers and `Via`, without which
discord.py treats a 429 as a Cloudflare ban and raises instead of retrying. `slow` delays a
route (by its name in `ROUTE_NAMES`, Discord's own names: "create_message",
"start_thread_from_message", ...) before and/or after its work, for crash tests.

Message nonces work as on Discord: POST /channels/{id}/messages takes `nonce` (a string of at
most 25 characters or an integer; else 400, code 50035) and `enforce_nonce`; with
`enforce_nonce` true, a message the same author created in the same channel with the same
nonce within `nonce_window` seconds (by `clock`) comes back (200) instead of a new one, with no
second MESSAGE_CREATE. discord.py sends both when `channel.send(nonce=...)` is used. The nonce
is echoed in the create response and in MESSAGE_CREATE only, never by GET.

Sharding works as on Discord (docs: events/gateway#sharding). GET /gateway/bot recommends
`recommended_shards` (default 1). IDENTIFY may carry `shard: [shard_id, num_shards]`; a guild
belongs to shard `(guild_id >> 22) % num_shards` (`shard_of`), and a session gets READY (echoing
`shard`) listing only its shard's guilds, unavailable, then GUILD_CREATE for each of them. Guild
events (INTERACTION_CREATE, MESSAGE_*, THREAD_CREATE, GUILD_CREATE) go only to the sessions
whose shard the guild is on; events without a guild to shard 0. An event for a shard no session
holds is recorded in `undelivered` instead. A shard id outside 0..num_shards-1 is refused with
close code 4010 (Invalid shard), a session that would hold more than `max_guilds_per_session`
guilds with 4011 (Sharding required), a second IDENTIFY on one connection with 4005, and one
asking for a privileged intent not in `privileged_intents_allowed` with 4014. As Discord
documents, `num_shards` only routes traffic: several sessions may hold the same
`[shard_id, num_shards]`, or use different counts, and each gets its share (both copies of a
duplicated shard get its events; nothing is invalidated). There is one default guild
(`guild_id`, its text channel `channel_id`), on shard 0 for every count; `add_guild(shard=k,
num_shards=n)` adds another with its own "news" channel and an id on shard k of n, and
`interaction(..., guild_id=...)`, `message(..., guild_id=... or channel_id=...)` and
`user_thread(..., guild_id=...)` happen in it. REST stays global: any client may post to any
channel. `sessions` lists every gateway session (its shard, intents and the frames it was sent);
a client closing its socket with 1000 or 1001 ends its session, as on Discord, while other
closes and dropped connections leave it resumable (events for it are kept for the RESUME).

The fake runs in the test's event loop and serves a bot in another process just as well
(`python -m bot run` with DISCORD_API_URL=`api_base`, the full ".../api/v10", and
DISCORD_TOKEN=`token`), as long as the test awaits (asyncio subprocesses, not
`subprocess.run`) while the bot talks to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import itertools
import json
import math
import re
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

DISCORD_EPOCH_MS = 1_420_070_400_000

# Gateway opcodes
OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
# GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT: the intents a bot must be granted.
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)
OP_PRESENCE = 3
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

# Intents
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_MESSAGE_CONTENT = 1 << 15

# Message flags
FLAG_HAS_THREAD = 1 << 5
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7

# What the bot's managed role allows: view, send, embed, attach, history, reactions, app
# commands, create/manage threads, send in threads.
BOT_PERMISSIONS = (
    (1 << 6)
    | (1 << 10)
    | (1 << 11)
    | (1 << 14)
    | (1 << 15)
    | (1 << 16)
    | (1 << 31)
    | (1 << 34)
    | (1 << 35)
    | (1 << 38)
)

_STATUS_MESSAGES = {
    400: "400: Bad Request",
    401: "401: Unauthorized",
    403: "Missing Permissions",
    404: "404: Not Found",
    429: "You are being rate limited.",
    500: "500: Internal Server Error",
    502: "502: Bad Gateway",
    503: "503: Service Unavailable",
}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _user(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    user: dict[str, Any] = {
        "id": str(user_id),
        "username": name,
        "global_name": None if bot else name.title(),
        "discriminator": "0",
        "avatar": None,
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
    }
    if bot:
        user["bot"] = True
    return user


@dataclass
class RestCall:
    method: str  # "GET", "POST", ...
    path: str  # path after the API base, without the query: "/channels/123/messages"
    body: Any  # parsed JSON (multipart: payload_json parsed) or None
    at: float  # time.monotonic() when received
    query: dict[str, str] = field(default_factory=dict)
    status: int = 0  # what the fake answered; 0 while it is still working on it (see `slow`)
    files: list[str] = field(default_factory=list)  # multipart file names, if any


@dataclass
class _Failure:
    method: str
    path_contains: str
    status: int
    retry_after: float
    code: int
    message: str | None
    remaining: int


@dataclass
class _Delay:
    before: float
    after: float
    remaining: int | None  # calls left to delay; None: until changed


@dataclass
class _Nonce:
    message_id: int
    at: float  # FakeDiscord.clock() when the message was created


def shard_of(guild_id: int, num_shards: int) -> int:
    """The shard Discord sends a guild's events on: `(guild_id >> 22) % num_shards`."""
    return (guild_id >> 22) % num_shards


@dataclass(frozen=True)
class FakeGuild:
    """A guild (server) the bot is in, with one text channel "news" and the bot's role."""

    id: int
    channel_id: int  # its text channel
    bot_role_id: int  # the bot's managed role there, with BOT_PERMISSIONS
    name: str = "Fake Guild"


@dataclass
class GatewaySession:
    """One identified gateway session (read it; the fake keeps it up to date)."""

    id: str
    intents: int
    shard: tuple[int, int] = (0, 1)  # (shard_id, num_shards); (0, 1) if IDENTIFY had none
    seq: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)  # dispatched frames, for replay
    invalidated: bool = False  # closed 1000/1001 by the client, or `disconnect(resumable=False)`
    conn: _Conn | None = field(default=None, repr=False)  # its socket while connected

    @property
    def connected(self) -> bool:
        return self.conn is not None and self.conn.live

    def received(self, event: str) -> list[dict[str, Any]]:
        """The `d` of every `event` dispatched to this session, in order."""
        return [frame["d"] for frame in self.log if frame["t"] == event]


@dataclass
class _Interaction:
    payload: dict[str, Any]
    channel_id: int
    response_type: int | None = None
    original_id: int | None = None
    loading: bool = False  # deferred and no followup/edit yet
    ephemeral: bool = False


class _Conn:
    """One gateway websocket and its outgoing compressor."""

    def __init__(
        self, ws: web.WebSocketResponse, request: web.Request, compress: str | None
    ) -> None:
        self.ws = ws
        self.request = request
        self.live = False  # identified or resumed: dispatches go out
        self.session: GatewaySession | None = None  # what it identified or resumed
        self.closed_by_server = False  # the fake closed it (or dropped it), not the client
        self.encode: Callable[[bytes], bytes] | None = _encoder(compress)

    async def send(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, separators=(",", ":")).encode()
        if self.encode is None:
            await self.ws.send_str(data.decode())
        else:
            await self.ws.send_bytes(self.encode(data))


def _encoder(compress: str | None) -> Callable[[bytes], bytes] | None:
    if compress is None:
        return None
    if compress == "zlib-stream":
        compressor = zlib.compressobj()

        def zlib_stream(data: bytes) -> bytes:
            return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)

        return zlib_stream
    if compress == "zstd-stream":
        return _zstd_encoder()
    raise ValueError(f"unsupported compress={compress!r}")


def _zstd_encoder() -> Callable[[bytes], bytes]:
    try:
        import zstandard  # type: ignore[import-not-found]
    except ImportError:
        try:
            from compression import zstd  # type: ignore[import-not-found]
        except ImportError as exc:
            raise ValueError("zstd-stream asked for, but no zstd module is importable") from exc
        compressor = zstd.ZstdCompressor()

        def stdlib_stream(data: bytes) -> bytes:
            return bytes(compressor.compress(data, mode=zstd.ZstdCompressor.FLUSH_BLOCK))

        return stdlib_stream
    cobj = zstandard.ZstdCompressor().compressobj()

    def zstandard_stream(data: bytes) -> bytes:
        return bytes(cobj.compress(data) + cobj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK))

    return zstandard_stream


@dataclass
class _Upload:
    field: str  # the form field, "files[0]"
    filename: str
    size: int
    content_type: str


@dataclass
class _Reply:
    status: int
    body: Any = None  # JSON-able, or None for an empty body
    headers: dict[str, str] | None = None


@dataclass
class _Req:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    match: re.Match[str]
    uploads: list[_Upload] = field(default_factory=list)

    def id_of(self, name: str) -> int:
        return int(self.match.group(name))

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("1", "true")


def _error(status: int, message: str, code: int) -> _Reply:
    return _Reply(status, {"message": message, "code": code})


def _form_error(field_name: str, code: str, message: str) -> _Reply:
    """400 Invalid Form Body (50035) with Discord's per-field `errors` tree."""
    errors = {field_name: {"_errors": [{"code": code, "message": message}]}}
    return _Reply(400, {"message": "Invalid Form Body", "code": 50035, "errors": errors})


UNKNOWN_CHANNEL = (404, "Unknown Channel", 10003)
UNKNOWN_MESSAGE = (404, "Unknown Message", 10008)
UNKNOWN_WEBHOOK = (404, "Unknown Webhook", 10015)
UNKNOWN_INTERACTION = (404, "Unknown interaction", 10062)


@dataclass
class FakeDiscord:
    api_base: str  # "http://127.0.0.1:PORT/api/v10"
    gateway_url: str  # "ws://127.0.0.1:PORT/gateway"
    calls: list[RestCall] = field(default_factory=list)
    application_id: int = 9000
    # Snowflake-sized: discord.py resolves only 15-20 digit ids in mentions (clean_content).
    bot_user_id: int = 1_150_000_000_000_009_001
    guild_id: int = 1000
    channel_id: int = 2000  # a text channel "news" in the guild
    bot_role_id: int = 1001  # the bot's managed role, with BOT_PERMISSIONS
    owner_id: int = 5000
    token: str = "fake-bot-token"  # REST wants "Authorization: Bot <token>"
    bot_name: str = "newsbrief"
    heartbeat_interval: int = 45_000  # ms, sent in HELLO
    wait_timeout: float = 5.0  # seconds `ready()` / `resumed()` wait before TimeoutError
    # enforce_nonce: how long a nonce maps to its message (Discord: "a few minutes"), measured
    # by `clock` (seconds; swap in a fake clock to step past the window).
    nonce_window: float = 300.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    # State the REST side and the helpers build up; inspect freely.
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    threads: dict[int, dict[str, Any]] = field(default_factory=dict)
    commands: dict[int | None, list[dict[str, Any]]] = field(default_factory=dict)  # None: global
    gateway_received: list[dict[str, Any]] = field(default_factory=list)  # client -> fake frames
    gateway_connects: list[dict[str, str]] = field(default_factory=list)  # each ws's query
    # (t, d) of each event sent, once however many sessions it went to (per-session frames:
    # `sessions[i].log`)
    dispatched: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    identify_count: int = 0
    resume_count: int = 0
    # Sharding: GET /gateway/bot's `shards`, and Discord's guilds-per-session cap (4011).
    recommended_shards: int = 1
    max_guilds_per_session: int = 2500
    # The privileged intents switched on in the Developer Portal: IDENTIFY asking for one
    # not here is closed with 4014 (Disallowed intent(s)). All of them by default.
    privileged_intents_allowed: int = PRIVILEGED_INTENTS
    sessions: list[GatewaySession] = field(default_factory=list)  # every one identified
    # (t, d) of guild events no session's shard covered: nobody to send them to.
    undelivered: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _added_guilds: dict[int, FakeGuild] = field(default_factory=dict, repr=False)
    # channel ids an interaction used that are no guild's text channel -> that guild's id
    _other_channels: dict[int, int] = field(default_factory=dict, repr=False)
    _failures: list[_Failure] = field(default_factory=list, repr=False)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)
    _conns: set[_Conn] = field(default_factory=set, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    _ready: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _resumed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _resumed_shards: set[int] = field(default_factory=set, repr=False)
    _changed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _interactions: dict[int, _Interaction] = field(default_factory=dict, repr=False)
    _command_ids: dict[tuple[int | None, str, int], int] = field(default_factory=dict, repr=False)
    # (author id, channel id, str(nonce)) -> the message created with it
    _nonces: dict[tuple[int, int, str], _Nonce] = field(default_factory=dict, repr=False)
    _delays: dict[str, _Delay] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------------ public helpers

    def rest(self, method: str | None = None, path_contains: str = "") -> list[RestCall]:
        """The recorded REST calls, in order, filtered by method and a path substring."""
        return [
            call
            for call in self.calls
            if (method is None or call.method == method.upper()) and path_contains in call.path
        ]

    def channel_messages(self, channel_id: int) -> list[dict[str, Any]]:
        """The stored messages in a channel or thread, oldest first (the objects in
        `messages`, as GET returns them: no `nonce`)."""
        found = [m for m in self.messages.values() if int(m["channel_id"]) == channel_id]
        return sorted(found, key=lambda m: int(m["id"]))

    def slow(
        self,
        route: str,
        *,
        before: float = 0.0,
        after: float = 0.0,
        times: int | None = None,
    ) -> None:
        """Make REST route `route` (a name in `ROUTE_NAMES`) slow, for crash tests.

        Each matching call sleeps `before` seconds before the fake does anything (nothing
        created yet), then does its work (for "create_message": the message is stored and
        MESSAGE_CREATE dispatched), then sleeps `after` seconds before the HTTP answer goes
        out, so a client killed during `after` has posted a message it never heard about.
        The call's `RestCall.status` stays 0 until the answer is sent. `times` limits the delay
        to the next n calls (None: until changed); `before=after=0` removes it. Scripted
        failures (`fail_next`) answer at once, undelayed.
        """
        if route not in ROUTE_NAMES:
            raise ValueError(f"unknown route {route!r}; one of {sorted(set(ROUTE_NAMES))}")
        if before < 0 or after < 0:
            raise ValueError("delays must be >= 0")
        if (before == 0 and after == 0) or times == 0:
            self._delays.pop(route, None)
            return
        self._delays[route] = _Delay(before=before, after=after, remaining=times)

    def snowflake(self) -> int:
        """A fresh, increasing snowflake id from the current time."""
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._ids) & 0x3FFFFF)

    # guilds and shards

    @property
    def default_guild(self) -> FakeGuild:
        """The guild every test has: `guild_id`, its channel `channel_id`; shard 0 always."""
        return FakeGuild(self.guild_id, self.channel_id, self.bot_role_id)

    def guilds(self) -> list[FakeGuild]:
        """Every guild the bot is in: the default one first, then those added, in order."""
        return [self.default_guild, *self._added_guilds.values()]

    def guild(self, guild_id: int) -> FakeGuild:
        """The guild with this id (KeyError if the bot is in no such guild)."""
        for guild in self.guilds():
            if guild.id == guild_id:
                return guild
        raise KeyError(guild_id)

    def guild_id_on_shard(self, shard: int, num_shards: int | None = None) -> int:
        """A fresh snowflake for a guild that lands on `shard` of `num_shards` (default
        `recommended_shards`): its timestamp bits are moved up (< num_shards ms) to fit."""
        count = num_shards or self.recommended_shards
        if not 0 <= shard < count:
            raise ValueError(f"shard {shard} is not in 0..{count - 1}")
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        ms += (shard - ms) % count
        return (ms << 22) | (next(self._ids) & 0x3FFFFF)

    def add_guild(
        self,
        *,
        shard: int = 0,
        num_shards: int | None = None,
        name: str | None = None,
        guild_id: int | None = None,
    ) -> FakeGuild:
        """Another guild the bot is in, with its own "news" text channel and bot role; its
        id lands on `shard` of `num_shards` (default `recommended_shards`) unless `guild_id`
        is given. Sessions that IDENTIFY later see it; use `join_guild` to tell live ones."""
        gid = guild_id if guild_id is not None else self.guild_id_on_shard(shard, num_shards)
        if any(g.id == gid for g in self.guilds()):
            raise ValueError(f"guild {gid} exists already")
        number = len(self._added_guilds) + 2
        guild = FakeGuild(gid, self.snowflake(), self.snowflake(), name or f"Fake Guild {number}")
        self._added_guilds[gid] = guild
        return guild

    async def join_guild(
        self, *, shard: int = 0, num_shards: int | None = None, name: str | None = None
    ) -> FakeGuild:
        """`add_guild`, then GUILD_CREATE to the sessions of its shard, as when the bot is
        added to a server while connected (no `unavailable` key: a join, not a guild
        coming back from an outage)."""
        guild = self.add_guild(shard=shard, num_shards=num_shards, name=name)
        data = self._guild(guild)
        data.pop("unavailable")
        await self._dispatch("GUILD_CREATE", data, guild_id=guild.id, intent=INTENT_GUILDS)
        return guild

    def live_sessions(self, shard: int | None = None) -> list[GatewaySession]:
        """Sessions not ended (connected, or resumable), optionally only those on `shard`."""
        return [
            s for s in self.sessions if not s.invalidated and (shard is None or s.shard[0] == shard)
        ]

    async def ready(self, shard: int | None = None) -> None:
        """Wait until a client has sent IDENTIFY and got READY and GUILD_CREATE (since the
        last `disconnect(resumable=False)`). With `shard`: until a session holding that shard
        id got READY and has not ended."""
        if shard is None:
            await asyncio.wait_for(self._ready.wait(), self.wait_timeout)
        else:
            await self._until(lambda: any(s.received("READY") for s in self.live_sessions(shard)))

    async def resumed(self, shard: int | None = None) -> None:
        """Wait until the client has resumed (RESUMED sent) after the last `disconnect` (of
        `shard`'s sessions, if given)."""
        if shard is None:
            await asyncio.wait_for(self._resumed.wait(), self.wait_timeout)
        else:
            await self._until(lambda: shard in self._resumed_shards)

    async def _until(self, check: Callable[[], bool]) -> None:
        async with asyncio.timeout(self.wait_timeout):
            while not check():
                await self._changed.wait()

    def _notify(self) -> None:
        """Wake `_until` waiters: gateway state changed."""
        self._changed.set()
        self._changed = asyncio.Event()

    def fail_next(
        self,
        method: str,
        path_contains: str,
        *,
        status: int = 429,
        retry_after: float = 0.1,
        times: int = 1,
        code: int = 0,
        message: str | None = None,
    ) -> None:
        """Answer the next `times` matching REST calls with `status` instead.

        429 answers like Discord's per-route limit: `{"message": "You are being rate limited.",
        "retry_after": x, "global": false}` with Retry-After, X-RateLimit-* and Via headers.
        Other statuses answer `{"message": message or a default, "code": code}` (e.g. 403 with
        code 50013 "Missing Permissions"). Beware: discord.py retries 500/502/504 itself after
        sleeping 1 s, 3 s, ... and gives up after 5 tries.
        """
        self._failures.append(
            _Failure(
                method=method.upper(),
                path_contains=path_contains,
                status=status,
                retry_after=retry_after,
                code=code,
                message=message,
                remaining=times,
            )
        )

    async def interaction(
        self,
        name: str,
        options: list[dict[str, Any]] | None = None,
        *,
        user_id: int = 5001,
        permissions: str = "0",
        guild_id: int | None = None,
        channel_id: int | None = None,
        subcommand: str | None = None,
        group: str | None = None,
    ) -> dict[str, Any]:
        """Dispatch INTERACTION_CREATE for slash command `name`; returns the payload.

        `options` are `{"name": ..., "value": ...}` (a missing "type" is inferred from the
        value: str 3, bool 5, int 4, float 10). The command's id and, for a guild command,
        `data.guild_id` come from what the client registered by bulk overwrite.

        It happens in `guild_id` (default: `channel_id`'s guild, else the default guild),
        in `channel_id` (default: that guild's text channel), and goes only to the sessions
        of that guild's shard (none: recorded in `undelivered`).
        """
        if guild_id is None:
            guild = self._guild_of(channel_id) if channel_id else self.guild_id
        else:
            guild = guild_id
        channel = channel_id or self._guild_or_default(guild).channel_id
        if not self._known_channel(channel):
            self._other_channels[channel] = guild
        opts = [_option(o) for o in options or []]
        if subcommand is not None:
            opts = [{"type": 1, "name": subcommand, "options": opts}]
        if group is not None:
            opts = [{"type": 2, "name": group, "options": opts}]
        command_id, scope = self._registered(name, guild)
        data: dict[str, Any] = {"id": command_id, "name": name, "type": 1}
        if opts:
            data["options"] = opts
        if scope is not None:
            data["guild_id"] = str(scope)
        interaction_id = self.snowflake()
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": 2,
            "data": data,
            "guild_id": str(guild),
            "guild": {"id": str(guild), "locale": "en-US", "features": []},
            "channel_id": str(channel),
            "channel": {**self._channel_object(channel, guild), "permissions": permissions},
            "member": {
                **self._member(user_id),
                "permissions": permissions,
            },
            "token": f"itoken-{interaction_id}-{uuid.uuid4().hex}",
            "version": 1,
            "app_permissions": str(BOT_PERMISSIONS),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        self._interactions[interaction_id] = _Interaction(payload=payload, channel_id=channel)
        self._require_session("INTERACTION_CREATE")
        await self._dispatch("INTERACTION_CREATE", payload, guild_id=guild)
        return payload

    async def message(
        self,
        content: str,
        *,
        channel_id: int | None = None,
        guild_id: int | None = None,
        author_id: int = 5001,
        bot: bool = False,
        message_id: int | None = None,
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        """Dispatch MESSAGE_CREATE for a user's (or another bot's) message; returns it.

        It is posted in `channel_id` (a text channel or thread), or else in the text channel
        of `guild_id` (default: the default guild), and goes to that guild's shard."""
        self._require_session("MESSAGE_CREATE")
        if channel_id is None:
            channel_id = self._guild_or_default(guild_id or self.guild_id).channel_id
        author = _user(author_id, f"user{author_id}", bot=bot)
        message = self._new_message(
            channel_id, content, author, message_id=message_id, reply_to=reply_to
        )
        await self._dispatch_message("MESSAGE_CREATE", message)
        return message

    async def user_thread(
        self, name: str = "chat", *, owner_id: int = 5001, guild_id: int | None = None
    ) -> int:
        """A public thread a member opened in the text channel of `guild_id` (default: the
        default guild) (THREAD_CREATE, the bot not in it); returns its id. Threads the bot
        opens come from its own REST calls."""
        parent = self._guild_or_default(guild_id or self.guild_id).channel_id
        thread = await self._create_thread(
            self.snowflake(), parent, {"name": name}, thread_type=11, owner_id=owner_id
        )
        return int(thread["id"])

    async def disconnect(
        self, code: int | None = 4000, *, resumable: bool = True, shard: int | None = None
    ) -> None:
        """Close gateway sockets from the server side: every session's, or only those of
        sessions holding shard id `shard`.

        code 4000 (unknown error) and most others make discord.py reconnect and RESUME;
        None drops the TCP connection with no close frame (the client sees 1006). With
        `resumable=False` the sessions are forgotten, so the RESUME gets INVALID_SESSION
        (d=false) and the client IDENTIFYs again.
        """
        async with self._lock:
            sessions = self.live_sessions(shard)
            self._resumed.clear()
            for session in sessions:
                self._resumed_shards.discard(session.shard[0])
            if not resumable:
                for session in sessions:
                    session.invalidated = True
                self._ready.clear()
            conns: list[_Conn] = []
            for session in sessions:
                conn = session.conn
                session.conn = None
                if conn is not None:
                    conn.live = False
                    conn.closed_by_server = True
                    conns.append(conn)
            self._notify()
        for conn in conns:
            if code is None:
                transport = conn.request.transport
                if transport is not None:
                    transport.abort()
            else:
                with contextlib.suppress(Exception):
                    await conn.ws.close(code=code, message=b"fake disconnect")

    async def reconnect_request(self, shard: int | None = None) -> None:
        """Send op 7 RECONNECT (to every connected session, or those holding `shard`);
        discord.py closes and resumes."""
        async with self._lock:
            for session in self.live_sessions(shard):
                if session.conn is not None:
                    self._resumed.clear()
                    self._resumed_shards.discard(session.shard[0])
                    await self._send(session.conn, {"op": OP_RECONNECT, "d": None})

    # ------------------------------------------------------------------------ objects

    def bot_user(self) -> dict[str, Any]:
        return _user(self.bot_user_id, self.bot_name, bot=True)

    def _member(self, user_id: int, roles: list[int] | None = None) -> dict[str, Any]:
        user = self.bot_user() if user_id == self.bot_user_id else _user(user_id, f"user{user_id}")
        return {
            "user": user,
            "roles": [str(r) for r in roles or []],
            "nick": None,
            "avatar": None,
            "banner": None,
            "joined_at": "2024-01-01T00:00:00+00:00",
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }

    def _text_channel(self, guild: FakeGuild | None = None) -> dict[str, Any]:
        guild = guild or self.default_guild
        return {
            "id": str(guild.channel_id),
            "type": 0,
            "guild_id": str(guild.id),
            "name": "news",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "parent_id": None,
            "flags": 0,
            "default_auto_archive_duration": 1440,
            "default_thread_rate_limit_per_user": 0,
        }

    def _channel_object(self, channel_id: int, guild_id: int | None = None) -> dict[str, Any]:
        if channel_id in self.threads:
            return dict(self.threads[channel_id])
        for guild in self.guilds():
            if channel_id == guild.channel_id:
                return self._text_channel(guild)
        # an unknown channel id: still a text channel of the guild, for interactions
        return {
            **self._text_channel(),
            "id": str(channel_id),
            "name": f"channel-{channel_id}",
            "guild_id": str(guild_id or self.guild_id),
        }

    def _known_channel(self, channel_id: int) -> bool:
        return self._text_channel_guild(channel_id) is not None or channel_id in self.threads

    def _text_channel_guild(self, channel_id: int) -> FakeGuild | None:
        """The guild whose text channel this is, if it is one."""
        for guild in self.guilds():
            if guild.channel_id == channel_id:
                return guild
        return None

    def _guild_ids(self) -> set[int]:
        return {g.id for g in self.guilds()}

    def _guild_or_default(self, guild_id: int) -> FakeGuild:
        for guild in self.guilds():
            if guild.id == guild_id:
                return guild
        return self.default_guild

    def _guild_of(self, channel_id: int) -> int:
        """The id of the guild a text channel or thread is in (an unknown channel: the
        guild an interaction named for it, else the default guild)."""
        thread = self.threads.get(channel_id)
        if thread is not None:
            return int(thread["guild_id"])
        guild = self._text_channel_guild(channel_id)
        if guild is not None:
            return guild.id
        return self._other_channels.get(channel_id, self.guild_id)

    def _guild(self, guild: FakeGuild | None = None) -> dict[str, Any]:
        guild = guild or self.default_guild
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "features": [],
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "max_members": 500_000,
            "max_video_channel_users": 25,
            "roles": [
                _role(guild.id, "@everyone", 0, position=0),
                _role(
                    guild.bot_role_id,
                    self.bot_name,
                    BOT_PERMISSIONS,
                    position=1,
                    bot_id=self.bot_user_id,
                ),
            ],
            "emojis": [],
            "stickers": [],
            "joined_at": "2024-01-01T00:00:00+00:00",
            "large": False,
            "unavailable": False,
            "member_count": 2,
            "voice_states": [],
            "members": [self._member(self.bot_user_id, [guild.bot_role_id])],
            "channels": [self._text_channel(guild)],
            "threads": [dict(t) for t in self.threads.values() if t["guild_id"] == str(guild.id)],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def _app_info(self) -> dict[str, Any]:
        return {
            "id": str(self.application_id),
            "name": self.bot_name,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "owner": _user(self.owner_id, "owner"),
            "team": None,
            "bot": self.bot_user(),
            "interactions_endpoint_url": None,
            "rpc_origins": [],
            "tags": [],
            "redirect_uris": [],
            "approximate_guild_count": len(self.guilds()),
        }

    def _new_message(
        self,
        channel_id: int,
        content: str,
        author: dict[str, Any],
        *,
        message_id: int | None = None,
        reply_to: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "id": str(message_id or self.snowflake()),
            "channel_id": str(channel_id),
            "author": author,
            "content": content,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": "@everyone" in content or "@here" in content,
            "mentions": self._mentions(content),
            "mention_roles": re.findall(r"<@&(\d+)>", content),
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
        }
        if reply_to is not None:
            message["type"] = 19
            message["message_reference"] = {
                "type": 0,
                "message_id": str(reply_to),
                "channel_id": str(channel_id),
                "guild_id": str(self._guild_of(channel_id)),
            }
        if extra:
            message.update(extra)
        self._store_message(message)
        return message

    def _store_message(self, message: dict[str, Any]) -> None:
        message_id = int(message["id"])
        self.messages[message_id] = message
        thread = self.threads.get(int(message["channel_id"]))
        if thread is not None:
            thread["message_count"] += 1
            thread["total_message_sent"] += 1
            thread["last_message_id"] = message["id"]

    def _mentions(self, content: str) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        for raw in dict.fromkeys(re.findall(r"<@!?(\d+)>", content)):
            user_id = int(raw)
            if user_id == self.bot_user_id:
                seen.append(self.bot_user())
            else:
                seen.append(_user(user_id, f"user{user_id}"))
        return seen

    def _apply_message_body(
        self,
        message: dict[str, Any],
        body: dict[str, Any],
        uploads: list[_Upload] | None = None,
    ) -> None:
        uploads = uploads or []
        for key in ("content", "embeds", "components", "poll", "tts"):
            if key in body and body[key] is not None:
                message[key] = body[key]
        if "content" in body and body["content"] is not None:
            message["mentions"] = self._mentions(str(body["content"]))
        if "flags" in body and body["flags"] is not None:
            message["flags"] = (message.get("flags") or 0) | int(body["flags"])
        if body.get("attachments") is not None or uploads:
            message["attachments"] = self._attachments(message, body, uploads)

    def _attachments(
        self, message: dict[str, Any], body: dict[str, Any], uploads: list[_Upload]
    ) -> list[dict[str, Any]]:
        """Attachment objects: uploads (`files[n]`, described by id n) and kept old ones."""
        old = {str(a["id"]): a for a in message.get("attachments") or []}
        by_field = {u.field: u for u in uploads}
        wanted = body.get("attachments")
        if wanted is None:  # files without an attachments list
            wanted = [{"id": i} for i in range(len(uploads))]
        result: list[dict[str, Any]] = []
        for item in wanted:
            if not isinstance(item, dict):
                continue
            if str(item.get("id")) in old:
                result.append(old[str(item["id"])])
                continue
            upload = by_field.get(f"files[{item.get('id')}]")
            if upload is None:
                continue
            attachment_id = self.snowflake()
            filename = str(item.get("filename") or upload.filename)
            url = f"{self.api_base}/attachments/{message['channel_id']}/{attachment_id}/{filename}"
            attachment: dict[str, Any] = {
                "id": str(attachment_id),
                "filename": filename,
                "size": upload.size,
                "url": url,
                "proxy_url": url,
                "content_type": upload.content_type,
            }
            if item.get("description"):
                attachment["description"] = item["description"]
            result.append(attachment)
        return result

    def _command_id(self, name: str, scope: int | None, command_type: int = 1) -> int:
        """The id Discord keeps for a command name across overwrites, per scope."""
        key = (scope, name, command_type)
        if key not in self._command_ids:
            self._command_ids[key] = self.snowflake()
        return self._command_ids[key]

    def _registered(self, name: str, guild_id: int) -> tuple[str, int | None]:
        """(command id, guild id or None) for slash command `name`, guild commands first."""
        for scope in (guild_id, None):
            for command in self.commands.get(scope, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    return str(command["id"]), scope
        return str(self._command_id(name, None)), None

    # ------------------------------------------------------------------------ gateway

    async def _send(self, conn: _Conn, payload: dict[str, Any]) -> None:
        """Send on `conn`; call with the lock held (the compressor is order-sensitive)."""
        try:
            await conn.send(payload)
        except (ConnectionError, RuntimeError):
            conn.live = False

    def _require_session(self, event: str) -> None:
        if not self.sessions:
            raise RuntimeError(f"no gateway session to dispatch {event}: await fake.ready()")

    def _holders(self, guild_id: int | None) -> list[GatewaySession]:
        """The sessions a guild's events go to (no guild: shard 0's), connected or not."""
        return [
            s
            for s in self.sessions
            if not s.invalidated
            and s.shard[0] == (0 if guild_id is None else shard_of(guild_id, s.shard[1]))
        ]

    async def _dispatch(
        self,
        event: str,
        data: dict[str, Any],
        *,
        guild_id: int | None,
        intent: int = 0,
        shape: Callable[[GatewaySession, dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        """Send an event to every session holding `guild_id`'s shard that has `intent`;
        `shape` adapts the data per session. With no session on that shard at all (or
        no gateway session: REST-only tests) it is recorded in `undelivered`."""
        async with self._lock:
            holders = self._holders(guild_id)
            if not holders:
                self.undelivered.append((event, data))
                return
            recorded = False
            for session in holders:
                if intent and not session.intents & intent:
                    continue
                shaped = shape(session, data) if shape is not None else data
                await self._dispatch_locked(session, event, shaped, record=not recorded)
                recorded = True

    async def _dispatch_locked(
        self, session: GatewaySession, event: str, data: dict[str, Any], *, record: bool = True
    ) -> None:
        session.seq += 1
        frame = {"op": OP_DISPATCH, "s": session.seq, "t": event, "d": data}
        session.log.append(frame)
        if record:
            self.dispatched.append((event, data))
        conn = session.conn
        if conn is not None and conn.live:
            await self._send(conn, frame)

    async def _dispatch_message(
        self, event: str, message: dict[str, Any], *, nonce: str | int | None = None
    ) -> None:
        """MESSAGE_CREATE/UPDATE as the gateway sends it: guild_id, member, intents applied
        per session; the create's nonce, if any, echoed."""
        if message.get("flags", 0) & FLAG_EPHEMERAL:
            return
        guild_id = self._guild_of(int(message["channel_id"]))
        data = dict(message)
        data["guild_id"] = str(guild_id)
        if nonce is not None:
            data["nonce"] = nonce
        author = message["author"]
        if not message.get("webhook_id"):
            member = self._member(int(author["id"]))
            member.pop("user")
            data["member"] = member
        from_bot = int(author["id"]) == self.bot_user_id
        mentioned = any(int(u["id"]) == self.bot_user_id for u in message.get("mentions", []))

        def shape(session: GatewaySession, data: dict[str, Any]) -> dict[str, Any]:
            if not session.intents & INTENT_MESSAGE_CONTENT and not from_bot and not mentioned:
                return {**data, "content": "", "embeds": [], "attachments": [], "components": []}
            return data

        await self._dispatch(
            event, data, guild_id=guild_id, intent=INTENT_GUILD_MESSAGES, shape=shape
        )

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, timeout=1.0)
        await ws.prepare(request)
        self.gateway_connects.append(dict(request.query))
        if request.query.get("encoding", "json") != "json":
            await ws.close(code=4002, message=b"only encoding=json is faked")
            return ws
        try:
            conn = _Conn(ws, request, request.query.get("compress"))
        except ValueError as exc:
            await ws.close(code=4000, message=str(exc).encode()[:120])
            return ws
        self._conns.add(conn)
        try:
            async with self._lock:
                await self._send(conn, {"op": OP_HELLO, "d": self._hello()})
            async for msg in ws:
                if msg.type is not web.WSMsgType.TEXT:
                    continue
                try:
                    payload = json.loads(msg.data)
                except ValueError:
                    conn.closed_by_server = True
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                self.gateway_received.append(payload)
                await self._on_gateway_payload(conn, payload)
        finally:
            self._conns.discard(conn)
            conn.live = False
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                # Discord: closing with 1000 or 1001 invalidates the session (the bot goes
                # offline); any other close, or a dropped connection, leaves it resumable.
                if not conn.closed_by_server and ws.close_code in (1000, 1001):
                    session.invalidated = True
                self._notify()
        return ws

    def _hello(self) -> dict[str, Any]:
        return {"heartbeat_interval": self.heartbeat_interval, "_trace": ["fake-gateway"]}

    async def _on_gateway_payload(self, conn: _Conn, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        data = payload.get("d")
        async with self._lock:
            if op == OP_HEARTBEAT:
                await self._send(conn, {"op": OP_HEARTBEAT_ACK, "d": None})
            elif op == OP_IDENTIFY:
                await self._identify(conn, data or {})
            elif op == OP_RESUME:
                await self._resume(conn, data or {})
            elif op == OP_REQUEST_MEMBERS:
                wanted = data.get("guild_id") if isinstance(data, dict) else None
                guild_id = wanted if isinstance(wanted, str | int) else self.guild_id
                chunk = {
                    "guild_id": str(guild_id),
                    "members": [],
                    "chunk_index": 0,
                    "chunk_count": 1,
                    "not_found": [],
                }
                if isinstance(data, dict) and data.get("nonce"):
                    chunk["nonce"] = data["nonce"]
                if conn.session is not None and conn.live:
                    await self._dispatch_locked(conn.session, "GUILD_MEMBERS_CHUNK", chunk)
            # op 3 (presence) and others: recorded, nothing to answer

    async def _refuse(self, conn: _Conn, code: int, message: str) -> None:
        conn.closed_by_server = True
        conn.live = False
        with contextlib.suppress(Exception):
            await conn.ws.close(code=code, message=message.encode())

    async def _identify(self, conn: _Conn, data: dict[str, Any]) -> None:
        if data.get("token") != self.token:
            await self._refuse(conn, 4004, "Authentication failed.")
            return
        if conn.session is not None:
            await self._refuse(conn, 4005, "Already authenticated.")
            return
        shard = _shard_pair(data.get("shard", [0, 1]))
        if shard is None:
            await self._refuse(conn, 4010, "Invalid shard.")
            return
        asked = int(data.get("intents") or 0) & PRIVILEGED_INTENTS
        if asked & ~self.privileged_intents_allowed:
            await self._refuse(conn, 4014, "Disallowed intent(s).")
            return
        guilds = [g for g in self.guilds() if shard_of(g.id, shard[1]) == shard[0]]
        if len(guilds) > self.max_guilds_per_session:
            await self._refuse(conn, 4011, "Sharding required.")
            return
        self.identify_count += 1
        session = GatewaySession(
            id=uuid.uuid4().hex, intents=int(data.get("intents") or 0), shard=shard
        )
        self.sessions.append(session)
        session.conn = conn
        conn.session = session
        conn.live = True
        ready: dict[str, Any] = {
            "v": 10,
            "user": {**self.bot_user(), "verified": True, "mfa_enabled": False, "email": None},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "_trace": ["fake-gateway"],
        }
        if "shard" in data:  # echoed only if sent, as Discord does
            ready["shard"] = list(shard)
        await self._dispatch_locked(session, "READY", ready)
        if session.intents & INTENT_GUILDS:
            for guild in guilds:
                await self._dispatch_locked(session, "GUILD_CREATE", self._guild(guild))
        self._ready.set()
        self._notify()

    async def _resume(self, conn: _Conn, data: dict[str, Any]) -> None:
        session = next((s for s in self.sessions if s.id == data.get("session_id")), None)
        if (
            session is None
            or session.invalidated
            or data.get("token") != self.token
            or conn.session is not None
        ):
            await self._send(conn, {"op": OP_INVALID_SESSION, "d": False})
            return
        old = session.conn
        if old is not None and old is not conn:
            old.live = False
        self.resume_count += 1
        session.conn = conn
        conn.session = session
        seq = int(data.get("seq") or 0)
        for frame in session.log:
            if frame["s"] > seq:
                await self._send(conn, frame)
        conn.live = True
        await self._dispatch_locked(session, "RESUMED", {"_trace": ["fake-gateway"]})
        self._resumed.set()
        self._resumed_shards.add(session.shard[0])
        self._notify()

    async def close_all(self) -> None:
        for conn in list(self._conns):
            conn.live = False
            conn.closed_by_server = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ws.close(code=1001, message=b"fake shutting down"), 1)

    # ------------------------------------------------------------------------ REST

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        prefix = "/api/v10"
        path = request.path[len(prefix) :] if request.path.startswith(prefix) else request.path
        body, uploads = await _read_body(request)
        call = RestCall(
            method=request.method,
            path=path,
            body=body,
            at=time.monotonic(),
            query=dict(request.query),
            files=[u.filename for u in uploads],
        )
        self.calls.append(call)
        reply = await self._answer(call, request, uploads)
        call.status = reply.status
        if reply.body is None:
            return web.Response(status=reply.status, headers=reply.headers)
        # Exactly "application/json", no charset: discord.py's json_or_text compares the
        # whole header and treats anything else as text.
        return web.Response(
            body=json.dumps(reply.body).encode(),
            status=reply.status,
            headers=reply.headers,
            content_type="application/json",
        )

    async def _answer(self, call: RestCall, request: web.Request, uploads: list[_Upload]) -> _Reply:
        if not request.path.startswith("/api/v10/"):
            return _error(404, "Unknown", 0)
        token_in_path = call.path.startswith(("/webhooks/", "/interactions/"))
        if not token_in_path and request.headers.get("Authorization") != f"Bot {self.token}":
            return _error(401, "401: Unauthorized", 0)
        failure = self._take_failure(call)
        if failure is not None:
            return _failure_reply(failure)
        for name, method, pattern, handler in _ROUTES:
            if method != call.method:
                continue
            match = pattern.fullmatch(call.path)
            if match is None:
                continue
            delay = self._take_delay(name)
            if delay.before:
                await asyncio.sleep(delay.before)
            req = _Req(call.method, call.path, call.query, call.body, match, uploads)
            routed = handler(self, req)
            reply = await routed if inspect.isawaitable(routed) else routed
            if delay.after:
                await asyncio.sleep(delay.after)
            return reply
        return _error(404, "Unknown", 0)

    def _take_delay(self, route: str) -> _Delay:
        delay = self._delays.get(route)
        if delay is None:
            return _Delay(before=0.0, after=0.0, remaining=None)
        if delay.remaining is not None:
            delay.remaining -= 1
            if delay.remaining <= 0:
                del self._delays[route]
        return delay

    def _take_failure(self, call: RestCall) -> _Failure | None:
        for failure in self._failures:
            if failure.method == call.method and failure.path_contains in call.path:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    # users, gateway, application

    def _get_me(self, req: _Req) -> _Reply:
        user = {**self.bot_user(), "verified": True, "mfa_enabled": False, "email": None}
        return _Reply(200, {**user, "locale": "en-US", "premium_type": 0})

    def _get_user(self, req: _Req) -> _Reply:
        user_id = req.id_of("user")
        if user_id == self.bot_user_id:
            return _Reply(200, self.bot_user())
        return _Reply(200, _user(user_id, f"user{user_id}"))

    def _get_gateway(self, req: _Req) -> _Reply:
        return _Reply(200, {"url": self.gateway_url})

    def _get_gateway_bot(self, req: _Req) -> _Reply:
        limits = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
        body = {
            "url": self.gateway_url,
            "shards": self.recommended_shards,
            "session_start_limit": limits,
        }
        return _Reply(200, body)

    def _get_application(self, req: _Req) -> _Reply:
        return _Reply(200, self._app_info())

    def _app_ok(self, req: _Req) -> _Reply | None:
        if req.id_of("app") != self.application_id:
            return _error(403, "Missing Access", 50001)
        if "guild" in req.match.groupdict() and req.id_of("guild") not in self._guild_ids():
            return _error(403, "Missing Access", 50001)
        return None

    def _scope(self, req: _Req) -> int | None:
        return req.id_of("guild") if "guild" in req.match.groupdict() else None

    def _put_commands(self, req: _Req) -> _Reply:
        problem = self._app_ok(req)
        if problem is not None:
            return problem
        if not isinstance(req.body, list):
            return _error(400, "Invalid Form Body", 50035)
        scope = self._scope(req)
        self.commands[scope] = [self._echo_command(c, scope) for c in req.body]
        return _Reply(200, self.commands[scope])

    def _post_command(self, req: _Req) -> _Reply:
        problem = self._app_ok(req)
        if problem is not None:
            return problem
        if not isinstance(req.body, dict):
            return _error(400, "Invalid Form Body", 50035)
        scope = self._scope(req)
        command = self._echo_command(req.body, scope)
        current = [c for c in self.commands.get(scope, []) if c["name"] != command["name"]]
        self.commands[scope] = [*current, command]
        return _Reply(201, command)

    def _get_commands(self, req: _Req) -> _Reply:
        problem = self._app_ok(req)
        if problem is not None:
            return problem
        return _Reply(200, self.commands.get(self._scope(req), []))

    def _echo_command(self, command: dict[str, Any], scope: int | None) -> dict[str, Any]:
        command_type = int(command.get("type", 1))
        echoed: dict[str, Any] = {
            "id": str(self._command_id(str(command["name"]), scope, command_type)),
            "application_id": str(self.application_id),
            "version": str(self.snowflake()),
            "type": command_type,
            "name": command["name"],
            "description": command.get("description", ""),
            "options": command.get("options", []),
            "default_member_permissions": command.get("default_member_permissions"),
            "dm_permission": command.get("dm_permission", True),
            "nsfw": command.get("nsfw", False),
            "contexts": command.get("contexts"),
            "integration_types": command.get("integration_types", [0]),
            "name_localizations": command.get("name_localizations"),
            "description_localizations": command.get("description_localizations"),
        }
        if scope is not None:
            echoed["guild_id"] = str(scope)
        return echoed

    # interactions and webhooks

    async def _interaction_callback(self, req: _Req) -> _Reply:
        interaction = self._interactions.get(req.id_of("interaction"))
        if interaction is None or interaction.payload["token"] != req.match.group("token"):
            return _error(*UNKNOWN_INTERACTION)
        if interaction.response_type is not None:
            return _error(400, "Interaction has already been acknowledged.", 40060)
        body = req.body if isinstance(req.body, dict) else {}
        response_type = int(body.get("type", 0))
        data = body.get("data") or {}
        if response_type not in (1, 4, 5, 6, 7, 8, 9, 10, 12):
            return _error(400, "Invalid Form Body", 50035)
        if response_type in (6, 7) and interaction.payload["type"] == 2:
            return _error(400, "Interaction callback type is invalid for this interaction", 50035)
        if response_type == 4 and _empty(data):
            return _error(400, "Cannot send an empty message", 50006)
        interaction.response_type = response_type
        ephemeral = bool(int(data.get("flags") or 0) & FLAG_EPHEMERAL)
        message: dict[str, Any] | None = None
        if response_type in (4, 5):
            message = self._interaction_message(
                interaction, data, loading=response_type == 5, uploads=req.uploads
            )
            interaction.original_id = int(message["id"])
            interaction.loading = response_type == 5
            interaction.ephemeral = ephemeral
            await self._dispatch_message("MESSAGE_CREATE", message)
        if not req.flag("with_response"):
            return _Reply(204)
        result: dict[str, Any] = {
            "interaction": {
                "id": str(req.id_of("interaction")),
                "type": interaction.payload["type"],
                "activity_instance_id": None,
                "response_message_id": message["id"] if message else None,
                "response_message_loading": response_type == 5,
                "response_message_ephemeral": ephemeral,
            }
        }
        if message is not None:
            result["resource"] = {"type": response_type, "message": message}
        return _Reply(200, result)

    def _interaction_message(
        self,
        interaction: _Interaction,
        data: dict[str, Any],
        *,
        loading: bool,
        uploads: list[_Upload] | None = None,
    ) -> dict[str, Any]:
        payload = interaction.payload
        user = payload["member"]["user"]
        extra: dict[str, Any] = {
            "type": 20,
            "webhook_id": str(self.application_id),
            "application_id": str(self.application_id),
            "interaction_metadata": {
                "id": payload["id"],
                "type": payload["type"],
                "name": payload["data"]["name"],
                "command_type": 1,
                "user": user,
                "authorizing_integration_owners": payload["authorizing_integration_owners"],
            },
            "interaction": {
                "id": payload["id"],
                "type": payload["type"],
                "name": payload["data"]["name"],
                "user": user,
            },
        }
        message = self._new_message(interaction.channel_id, "", self.bot_user(), extra=extra)
        self._apply_message_body(message, data, uploads)
        if loading:
            message["flags"] = (message.get("flags") or 0) | FLAG_LOADING
        return message

    def _webhook_interaction(self, req: _Req) -> _Interaction | None:
        if req.id_of("app") != self.application_id:
            return None
        token = req.match.group("token")
        for interaction in self._interactions.values():
            if interaction.payload["token"] == token and interaction.response_type is not None:
                return interaction
        return None

    def _webhook_message(self, req: _Req, interaction: _Interaction) -> dict[str, Any] | None:
        which = req.match.group("message")
        message_id = interaction.original_id if which == "@original" else int(which)
        if message_id is None:
            return None
        message = self.messages.get(message_id)
        if (
            message is None
            or message.get("interaction_metadata", {}).get("id") != (interaction.payload["id"])
        ):
            return None
        return message

    async def _post_followup(self, req: _Req) -> _Reply:
        interaction = self._webhook_interaction(req)
        if interaction is None:
            return _error(*UNKNOWN_WEBHOOK)
        body = req.body if isinstance(req.body, dict) else {}
        if _empty(body):
            return _error(400, "Cannot send an empty message", 50006)
        original = self.messages.get(interaction.original_id or 0)
        if interaction.loading and original is not None:
            # After a defer, the first followup fills in the "thinking" original response.
            interaction.loading = False
            original["flags"] = (original.get("flags") or 0) & ~FLAG_LOADING
            self._apply_message_body(original, body, req.uploads)
            original["edited_timestamp"] = None
            await self._dispatch_message("MESSAGE_UPDATE", original)
            message = original
        else:
            message = self._interaction_message(
                interaction, body, loading=False, uploads=req.uploads
            )
            message["type"] = 0 if interaction.original_id is None else 19
            if interaction.original_id is not None:
                message["message_reference"] = {
                    "type": 0,
                    "message_id": str(interaction.original_id),
                    "channel_id": str(interaction.channel_id),
                    "guild_id": interaction.payload["guild_id"],
                }
            await self._dispatch_message("MESSAGE_CREATE", message)
        if req.flag("wait"):
            return _Reply(200, message)
        return _Reply(204)

    def _get_webhook_message(self, req: _Req) -> _Reply:
        interaction = self._webhook_interaction(req)
        if interaction is None:
            return _error(*UNKNOWN_WEBHOOK)
        message = self._webhook_message(req, interaction)
        if message is None:
            return _error(*UNKNOWN_MESSAGE)
        return _Reply(200, message)

    async def _patch_webhook_message(self, req: _Req) -> _Reply:
        interaction = self._webhook_interaction(req)
        if interaction is None:
            return _error(*UNKNOWN_WEBHOOK)
        message = self._webhook_message(req, interaction)
        if message is None:
            return _error(*UNKNOWN_MESSAGE)
        body = req.body if isinstance(req.body, dict) else {}
        self._apply_message_body(message, body, req.uploads)
        if int(message["id"]) == interaction.original_id and interaction.loading:
            interaction.loading = False
            message["flags"] = (message.get("flags") or 0) & ~FLAG_LOADING
        else:
            message["edited_timestamp"] = _now_iso()
        await self._dispatch_message("MESSAGE_UPDATE", message)
        return _Reply(200, message)

    async def _delete_webhook_message(self, req: _Req) -> _Reply:
        interaction = self._webhook_interaction(req)
        if interaction is None:
            return _error(*UNKNOWN_WEBHOOK)
        message = self._webhook_message(req, interaction)
        if message is None:
            return _error(*UNKNOWN_MESSAGE)
        await self._delete_message(message)
        return _Reply(204)

    async def _delete_message(self, message: dict[str, Any]) -> None:
        self.messages.pop(int(message["id"]), None)
        guild_id = self._guild_of(int(message["channel_id"]))
        data = {
            "id": message["id"],
            "channel_id": message["channel_id"],
            "guild_id": str(guild_id),
        }
        await self._dispatch(
            "MESSAGE_DELETE", data, guild_id=guild_id, intent=INTENT_GUILD_MESSAGES
        )

    # channels, messages, threads

    def _get_channel(self, req: _Req) -> _Reply:
        channel_id = req.id_of("channel")
        if not self._known_channel(channel_id):
            return _error(*UNKNOWN_CHANNEL)
        return _Reply(200, self._channel_object(channel_id))

    async def _post_message(self, req: _Req) -> _Reply:
        channel_id = req.id_of("channel")
        if not self._known_channel(channel_id):
            return _error(*UNKNOWN_CHANNEL)
        body = req.body if isinstance(req.body, dict) else {}
        if _empty(body):
            return _error(400, "Cannot send an empty message", 50006)
        reference = body.get("message_reference") or {}
        reply_to = int(reference["message_id"]) if reference.get("message_id") else None
        if reply_to is not None and reply_to not in self.messages:
            if reference.get("fail_if_not_exists", True):
                return _error(400, "Invalid Form Body", 50035)
            reply_to = None
        nonce = body.get("nonce")
        if nonce is not None:
            problem = _nonce_problem(nonce)
            if problem is not None:
                return problem
            key = (self.bot_user_id, channel_id, str(nonce))
            seen = self._nonces.get(key)
            if (
                body.get("enforce_nonce") is True
                and seen is not None
                and self.clock() - seen.at < self.nonce_window
                and seen.message_id in self.messages
            ):
                # Discord answers with the message already created; nothing new, no event.
                return _Reply(200, {**self.messages[seen.message_id], "nonce": nonce})
        message = self._new_message(channel_id, "", self.bot_user(), reply_to=reply_to)
        self._apply_message_body(message, body, req.uploads)
        if nonce is not None:
            self._nonces[key] = _Nonce(int(message["id"]), self.clock())
        await self._dispatch_message("MESSAGE_CREATE", message, nonce=nonce)
        if nonce is None:
            return _Reply(200, message)
        return _Reply(200, {**message, "nonce": nonce})

    def _channel_message(self, req: _Req) -> dict[str, Any] | None:
        message = self.messages.get(req.id_of("message"))
        if message is None or int(message["channel_id"]) != req.id_of("channel"):
            return None
        return message

    def _get_message(self, req: _Req) -> _Reply:
        if not self._known_channel(req.id_of("channel")):
            return _error(*UNKNOWN_CHANNEL)
        message = self._channel_message(req)
        if message is None:
            return _error(*UNKNOWN_MESSAGE)
        return _Reply(200, message)

    def _get_messages(self, req: _Req) -> _Reply:
        """Get Channel Messages: newest first; `limit` 1-100 (default 50); one of `around`,
        `before`, `after` (Discord: mutually exclusive; here around > before > after).
        `after` gives the messages right after it, `around` limit//2 on either side plus the
        message itself (so an even limit can give limit + 1, as discord.py notes)."""
        channel_id = req.id_of("channel")
        if not self._known_channel(channel_id):
            return _error(*UNKNOWN_CHANNEL)
        raw_limit = req.query.get("limit", "50")
        try:
            limit = int(raw_limit)
        except ValueError:
            return _form_error("limit", "NUMBER_TYPE_COERCE", f'Value "{raw_limit}" is not int.')
        if limit < 1:
            return _form_error(
                "limit", "NUMBER_TYPE_MIN", "int value should be greater than or equal to 1."
            )
        if limit > 100:
            return _form_error(
                "limit", "NUMBER_TYPE_MAX", "int value should be less than or equal to 100."
            )
        anchors: dict[str, int] = {}
        for name in ("around", "before", "after"):
            if name in req.query:
                value = req.query[name]
                if not value.isdigit():
                    return _form_error(
                        name, "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.'
                    )
                anchors[name] = int(value)
        oldest_first = self.channel_messages(channel_id)
        if "around" in anchors:
            around = anchors["around"]
            half = limit // 2
            older = [m for m in oldest_first if int(m["id"]) < around]
            at = [m for m in oldest_first if int(m["id"]) == around]
            newer = [m for m in oldest_first if int(m["id"]) > around]
            page = (older[-half:] if half else []) + at + newer[:half]
        elif "before" in anchors:
            page = [m for m in oldest_first if int(m["id"]) < anchors["before"]][-limit:]
        elif "after" in anchors:
            page = [m for m in oldest_first if int(m["id"]) > anchors["after"]][:limit]
        else:
            page = oldest_first[-limit:]
        return _Reply(200, page[::-1])

    async def _patch_message(self, req: _Req) -> _Reply:
        if not self._known_channel(req.id_of("channel")):
            return _error(*UNKNOWN_CHANNEL)
        message = self._channel_message(req)
        if message is None:
            return _error(*UNKNOWN_MESSAGE)
        if int(message["author"]["id"]) != self.bot_user_id:
            return _error(403, "Cannot edit a message authored by another user", 50005)
        body = req.body if isinstance(req.body, dict) else {}
        self._apply_message_body(message, body, req.uploads)
        message["edited_timestamp"] = _now_iso()
        await self._dispatch_message("MESSAGE_UPDATE", message)
        return _Reply(200, message)

    async def _delete_channel_message(self, req: _Req) -> _Reply:
        if not self._known_channel(req.id_of("channel")):
            return _error(*UNKNOWN_CHANNEL)
        message = self._channel_message(req)
        if message is None:
            return _error(*UNKNOWN_MESSAGE)
        await self._delete_message(message)
        return _Reply(204)

    def _no_content(self, req: _Req) -> _Reply:
        if "channel" in req.match.groupdict() and not self._known_channel(req.id_of("channel")):
            return _error(*UNKNOWN_CHANNEL)
        return _Reply(204)

    def _reaction(self, req: _Req) -> _Reply:
        if not self._known_channel(req.id_of("channel")):
            return _error(*UNKNOWN_CHANNEL)
        if self._channel_message(req) is None:
            return _error(*UNKNOWN_MESSAGE)
        return _Reply(204)

    async def _thread_from_message(self, req: _Req) -> _Reply:
        channel_id = req.id_of("channel")
        if self._text_channel_guild(channel_id) is None:
            return _error(*UNKNOWN_CHANNEL)
        message = self._channel_message(req)
        if message is None:
            return _error(*UNKNOWN_MESSAGE)
        if req.id_of("message") in self.threads:
            return _error(400, "A thread has already been created for this message", 160004)
        body = req.body if isinstance(req.body, dict) else {}
        # A thread started from a message has the message's id.
        thread = await self._create_thread(req.id_of("message"), channel_id, body, thread_type=11)
        message["flags"] = (message.get("flags") or 0) | FLAG_HAS_THREAD
        message["thread"] = thread
        return _Reply(201, thread)

    async def _thread_without_message(self, req: _Req) -> _Reply:
        channel_id = req.id_of("channel")
        if self._text_channel_guild(channel_id) is None:
            return _error(*UNKNOWN_CHANNEL)
        body = req.body if isinstance(req.body, dict) else {}
        if "message" in body:  # a forum post
            return _error(400, "Invalid Form Body", 50035)
        thread_type = int(body.get("type") or 12)
        if thread_type not in (10, 11, 12):
            return _error(400, "Invalid Form Body", 50035)
        thread = await self._create_thread(self.snowflake(), channel_id, body, thread_type)
        return _Reply(201, thread)

    async def _create_thread(
        self,
        thread_id: int,
        parent_id: int,
        body: dict[str, Any],
        thread_type: int,
        *,
        owner_id: int | None = None,
    ) -> dict[str, Any]:
        owner = owner_id or self.bot_user_id
        name = str(body.get("name") or "thread")[:100]
        now = _now_iso()
        thread: dict[str, Any] = {
            "id": str(thread_id),
            "guild_id": str(self._guild_of(parent_id)),
            "parent_id": str(parent_id),
            "owner_id": str(owner),
            "name": name,
            "type": thread_type,
            "last_message_id": None,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "rate_limit_per_user": int(body.get("rate_limit_per_user") or 0),
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": int(body.get("auto_archive_duration") or 1440),
                "archive_timestamp": now,
                "locked": False,
                "invitable": bool(body.get("invitable", True)),
                "create_timestamp": now,
            },
        }
        if owner == self.bot_user_id:  # the opener joins; others' threads omit `member`
            thread["member"] = {
                "id": str(thread_id),
                "user_id": str(self.bot_user_id),
                "join_timestamp": now,
                "flags": 1,
            }
        self.threads[thread_id] = thread
        await self._dispatch(
            "THREAD_CREATE",
            {**thread, "newly_created": True},
            guild_id=int(thread["guild_id"]),
            intent=INTENT_GUILDS,
        )
        return dict(thread)


def _shard_pair(value: object) -> tuple[int, int] | None:
    """IDENTIFY's `shard` as (shard_id, num_shards), or None if Discord would refuse it."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    shard_id, num_shards = value
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in value):
        return None
    if num_shards < 1 or not 0 <= shard_id < num_shards:
        return None
    return shard_id, num_shards


def _role(
    role_id: int, name: str, permissions: int, *, position: int, bot_id: int | None = None
) -> dict[str, Any]:
    role: dict[str, Any] = {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": str(permissions),
        "managed": bot_id is not None,
        "mentionable": False,
        "flags": 0,
    }
    if bot_id is not None:
        role["tags"] = {"bot_id": str(bot_id)}
    return role


def _empty(body: dict[str, Any]) -> bool:
    """True if a message body has nothing Discord would show."""
    keys = ("content", "embeds", "components", "attachments", "sticker_ids", "poll")
    return not any(body.get(key) for key in keys)


def _nonce_problem(nonce: object) -> _Reply | None:
    """Discord's answer to a bad `nonce`: a string of at most 25 characters or an integer."""
    if isinstance(nonce, bool) or not isinstance(nonce, str | int):
        return _form_error(
            "nonce", "NONCE_TYPE_INVALID_TYPE", "This field must be a string or integer."
        )
    if len(str(nonce)) > 25:
        return _form_error("nonce", "NONCE_TYPE_TOO_LONG", "Must be 25 or fewer characters long.")
    return None


def _option(option: dict[str, Any]) -> dict[str, Any]:
    option = dict(option)
    if "type" not in option:
        value = option.get("value")
        if isinstance(value, bool):
            option["type"] = 5
        elif isinstance(value, int):
            option["type"] = 4
        elif isinstance(value, float):
            option["type"] = 10
        else:
            option["type"] = 3
    return option


def _bucket(failure: _Failure) -> str:
    """A stable bucket hash per scripted failure route, like Discord's opaque ones."""
    return hashlib.sha1(f"{failure.method} {failure.path_contains}".encode()).hexdigest()[:16]


def _failure_reply(failure: _Failure) -> _Reply:
    if failure.status == 429:
        body = {
            "message": failure.message or _STATUS_MESSAGES[429],
            "retry_after": failure.retry_after,
            "global": False,
        }
        reset = time.time() + failure.retry_after
        headers = {
            "Retry-After": str(max(1, math.ceil(failure.retry_after))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{reset:.3f}",
            "X-RateLimit-Reset-After": f"{failure.retry_after:.3f}",
            "X-RateLimit-Bucket": _bucket(failure),
            "X-RateLimit-Scope": "user",
            "Via": "1.1 google",
        }
        return _Reply(429, body, headers)
    message = failure.message or _STATUS_MESSAGES.get(failure.status, f"{failure.status}: Error")
    return _error(failure.status, message, failure.code)


async def _read_body(request: web.Request) -> tuple[Any, list[_Upload]]:
    if not request.body_exists:
        return None, []
    if request.content_type == "multipart/form-data":
        form = await request.post()
        body: Any = None
        uploads: list[_Upload] = []
        for key, value in form.items():
            if key == "payload_json" and isinstance(value, str):
                body = json.loads(value)
            elif isinstance(value, web.FileField):
                size = len(value.file.read())
                uploads.append(_Upload(key, value.filename, size, value.content_type))
        return body, uploads
    raw = await request.read()
    if not raw:
        return None, []
    try:
        return json.loads(raw), []
    except ValueError:
        return raw.decode(errors="replace"), []


_Handler = Callable[[FakeDiscord, _Req], "_Reply | Awaitable[_Reply]"]
_SNOW = r"\d+"
# (name, method, path pattern, handler); names are Discord's, for `FakeDiscord.slow`.
_ROUTE_TABLE: list[tuple[str, str, str, _Handler]] = [
    ("get_current_user", "GET", r"/users/@me", FakeDiscord._get_me),
    ("get_user", "GET", rf"/users/(?P<user>{_SNOW})", FakeDiscord._get_user),
    ("get_gateway", "GET", r"/gateway", FakeDiscord._get_gateway),
    ("get_gateway_bot", "GET", r"/gateway/bot", FakeDiscord._get_gateway_bot),
    (
        "get_current_application",
        "GET",
        r"/oauth2/applications/@me",
        FakeDiscord._get_application,
    ),
    ("get_current_application", "GET", r"/applications/@me", FakeDiscord._get_application),
    (
        "bulk_overwrite_commands",
        "PUT",
        rf"/applications/(?P<app>{_SNOW})/commands",
        FakeDiscord._put_commands,
    ),
    ("get_commands", "GET", rf"/applications/(?P<app>{_SNOW})/commands", FakeDiscord._get_commands),
    (
        "create_command",
        "POST",
        rf"/applications/(?P<app>{_SNOW})/commands",
        FakeDiscord._post_command,
    ),
    (
        "bulk_overwrite_commands",
        "PUT",
        rf"/applications/(?P<app>{_SNOW})/guilds/(?P<guild>{_SNOW})/commands",
        FakeDiscord._put_commands,
    ),
    (
        "get_commands",
        "GET",
        rf"/applications/(?P<app>{_SNOW})/guilds/(?P<guild>{_SNOW})/commands",
        FakeDiscord._get_commands,
    ),
    (
        "create_command",
        "POST",
        rf"/applications/(?P<app>{_SNOW})/guilds/(?P<guild>{_SNOW})/commands",
        FakeDiscord._post_command,
    ),
    (
        "create_interaction_response",
        "POST",
        rf"/interactions/(?P<interaction>{_SNOW})/(?P<token>[^/]+)/callback",
        FakeDiscord._interaction_callback,
    ),
    (
        "create_followup_message",
        "POST",
        rf"/webhooks/(?P<app>{_SNOW})/(?P<token>[^/]+)",
        FakeDiscord._post_followup,
    ),
    (
        "get_webhook_message",
        "GET",
        rf"/webhooks/(?P<app>{_SNOW})/(?P<token>[^/]+)/messages/(?P<message>@original|{_SNOW})",
        FakeDiscord._get_webhook_message,
    ),
    (
        "edit_webhook_message",
        "PATCH",
        rf"/webhooks/(?P<app>{_SNOW})/(?P<token>[^/]+)/messages/(?P<message>@original|{_SNOW})",
        FakeDiscord._patch_webhook_message,
    ),
    (
        "delete_webhook_message",
        "DELETE",
        rf"/webhooks/(?P<app>{_SNOW})/(?P<token>[^/]+)/messages/(?P<message>@original|{_SNOW})",
        FakeDiscord._delete_webhook_message,
    ),
    ("get_channel", "GET", rf"/channels/(?P<channel>{_SNOW})", FakeDiscord._get_channel),
    (
        "get_channel_messages",
        "GET",
        rf"/channels/(?P<channel>{_SNOW})/messages",
        FakeDiscord._get_messages,
    ),
    (
        "create_message",
        "POST",
        rf"/channels/(?P<channel>{_SNOW})/messages",
        FakeDiscord._post_message,
    ),
    (
        "get_channel_message",
        "GET",
        rf"/channels/(?P<channel>{_SNOW})/messages/(?P<message>{_SNOW})",
        FakeDiscord._get_message,
    ),
    (
        "edit_message",
        "PATCH",
        rf"/channels/(?P<channel>{_SNOW})/messages/(?P<message>{_SNOW})",
        FakeDiscord._patch_message,
    ),
    (
        "delete_message",
        "DELETE",
        rf"/channels/(?P<channel>{_SNOW})/messages/(?P<message>{_SNOW})",
        FakeDiscord._delete_channel_message,
    ),
    (
        "start_thread_from_message",
        "POST",
        rf"/channels/(?P<channel>{_SNOW})/messages/(?P<message>{_SNOW})/threads",
        FakeDiscord._thread_from_message,
    ),
    (
        "start_thread_without_message",
        "POST",
        rf"/channels/(?P<channel>{_SNOW})/threads",
        FakeDiscord._thread_without_message,
    ),
    (
        "trigger_typing_indicator",
        "POST",
        rf"/channels/(?P<channel>{_SNOW})/typing",
        FakeDiscord._no_content,
    ),
    (
        "create_reaction",
        "PUT",
        rf"/channels/(?P<channel>{_SNOW})/messages/(?P<message>{_SNOW})/reactions/[^/]+/@me",
        FakeDiscord._reaction,
    ),
    (
        "delete_own_reaction",
        "DELETE",
        rf"/channels/(?P<channel>{_SNOW})/messages/(?P<message>{_SNOW})/reactions/[^/]+/@me",
        FakeDiscord._reaction,
    ),
    (
        "join_thread",
        "PUT",
        rf"/channels/(?P<channel>{_SNOW})/thread-members/@me",
        FakeDiscord._no_content,
    ),
]
_ROUTES = [
    (name, method, re.compile(pattern), handler) for name, method, pattern, handler in _ROUTE_TABLE
]
# The route names `FakeDiscord.slow` knows, in table order.
ROUTE_NAMES: tuple[str, ...] = tuple(dict.fromkeys(name for name, *_ in _ROUTE_TABLE))


@asynccontextmanager
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord(api_base="", gateway_url="")
    app = web.Application()
    app.router.add_get("/gateway", server._gateway)
    app.router.add_route("*", "/{tail:.*}", server._rest)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []
    port = sockets[0].getsockname()[1]
    server.api_base = f"http://127.0.0.1:{port}/api/v10"
    server.gateway_url = f"ws://127.0.0.1:{port}/gateway"
    try:
        yield server
    finally:
        await server.close_all()
        await runner.cleanup()
        await asyncio.sleep(0)

"""A fake Slack Web API on loopback (port 0), plus signed-request helpers for Bolt in HTTP mode.

Point the real `slack_sdk` client at it:
`AsyncWebClient(token="xoxb-test", base_url=fake.base_url)`.
Every call to `/api/<method>` is recorded in `calls` (also the failed, unauthenticated and
unknown ones), then answered the way Slack answers it: JSON, HTTP 200, `{"ok": true, ...}` or
`{"ok": false, "error": ...}`; `fail_next` scripts 429s (with Retry-After) or error answers.

How slack_sdk 3.x sends a call decides where its arguments arrive, so `SlackCall.body` merges
the query string with the body, whatever its encoding:
- `json=` (chat.postMessage, chat.postEphemeral, chat.update): a JSON body;
- `params=` (auth.test, chat.delete, users.info, conversations.info, apps.connections.open):
  the query string, empty body; users.info and conversations.info are GETs;
- `data=` (rare, and hand-made `api_call`s): a form body, where blocks arrive as a JSON string.
`SlackCall.blocks` is the parsed block list whichever way they came.

The other half drives a Bolt app in HTTP mode the way Slack does: `sign` makes the headers
`slack_sdk.signature.SignatureVerifier` accepts, and `slash_command_body` / `event_body` build
the request bodies. `FakeSlack.response_url` is an endpoint that records `respond()` posts.

Socket Mode works too, on the same server, as slack_sdk's aiohttp `SocketModeClient` (what
Bolt's `AsyncSocketModeHandler` runs) expects it:
- `apps.connections.open`, called with the app-level token (`xapp-...`) as bearer (a bot token
  gets `not_allowed_token_type`), answers `ws://127.0.0.1:PORT/socket-mode?ticket=...&app_id=A1`.
  The client treats the URL as opaque; the fake only accepts tickets it issued (else HTTP 401).
- On connect the fake sends `hello`; live connections are in `FakeSlack.sockets`. The client
  pings at once (`sdk-ping-pong:<time>`) and every `ping_interval`; the fake pongs the same
  data (`socket_pings` counts them), and pongs are how the client decides a link is stale.
- `socket_send(type, payload)` pushes an envelope to the newest connection and returns its id.
  The client acks with `{"envelope_id": ...}` plus `"payload"` when the ack carried a body
  (`ack(text=...)`); acks land in `socket_acks` with `received_at` / `sent_at` (monotonic).
- `socket_disconnect()` sends `{"type": "disconnect"}`: the client calls apps.connections.open
  again, connects anew, then closes the old connection, as on Slack's periodic refresh.
`slash_command_payload` / `event_payload` are the HTTP bodies as the dicts Socket Mode carries.

Messages are kept the way Slack keeps them, per channel, so a client can read back what it
posted (also from another process: all the state lives in the server):
- chat.postMessage stores the message (chat.update edits it, chat.delete removes it); a reply
  (`thread_ts`) joins the thread of its parent, also when `thread_ts` names another reply.
  `add_message` stores a message as if someone else had posted it (a user's, by default).
- Message metadata (https://api.slack.com/metadata): chat.postMessage and chat.update accept
  `metadata` as `{"event_type": str, "event_payload": object}`, or that object as a JSON string
  (a form body); anything else is refused with `invalid_metadata_format` and nothing is stored.
  The postMessage answer's `message` carries the metadata when some was sent.
- conversations.history (top-level messages, newest first) and conversations.replies (the
  parent, then its replies, oldest first; `thread_not_found` for a ts the channel doesn't
  have, `ts` may also be a reply's) take oldest / latest (exclusive unless `inclusive`), limit
  (default 100, at most 999) and cursor (opaque; the next one is in
  `response_metadata.next_cursor` while `has_more`). A parent with replies shows `thread_ts`,
  `reply_count`, `reply_users`, `latest_reply`; `metadata` is shown only with
  `include_all_metadata` true. conversations.replies filters the parent by oldest / latest
  like any message of the thread.
- `channel_messages` / `thread_replies` read the store directly, metadata included;
  `wait_message` waits for a message to be stored.

`slow(method, before=, after=)` delays calls: `before` seconds before the call is answered
(a message is not stored yet), `after` seconds once it is answered (stored, `SlackCall.response`
set) but before the HTTP response goes out: a client killed then has posted a message it never
heard about.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSCloseCode, WSMsgType, web

BOT_ID = "BBOT"
NOT_IN_CHANNEL = "CNOTIN"
GONE_CHANNEL = "CGONE"
RESPONSE_URL_METHOD = "response_url"
APP_ID = "A1"
SOCKET_PATH = "/socket-mode"

_TS_START = 1_700_000_000_000_100  # microseconds: "1700000000.000100"
_TS_STEP = 100
_TRIGGERS = itertools.count(1000)
_TS_PATTERN = re.compile(r"\d+(?:\.\d{1,6})?")
HISTORY_LIMIT = 100  # conversations.history / .replies without a limit
HISTORY_MAX_LIMIT = 999
_event_ids = itertools.count(1)


def _default_users() -> dict[str, dict[str, Any]]:
    def user(
        user_id: str, name: str, *, admin: bool = False, owner: bool = False
    ) -> dict[str, Any]:
        return {
            "id": user_id,
            "team_id": "T0001",
            "name": name,
            "real_name": name.title(),
            "deleted": False,
            "is_bot": False,
            "is_admin": admin,
            "is_owner": owner,
            "is_primary_owner": owner,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "tz": "Europe/London",
            "profile": {"display_name": name, "real_name": name.title()},
        }

    return {
        "UADMIN": user("UADMIN", "admin", admin=True),
        "UOWNER": user("UOWNER", "owner", admin=True, owner=True),
        "UMEMBER": user("UMEMBER", "member"),
    }


@dataclass
class SlackCall:
    method: str  # e.g. "chat.postMessage", or RESPONSE_URL_METHOD for response_url posts
    body: dict[str, Any]  # query string merged with the JSON or form body, values as sent
    headers: dict[str, str]
    http_method: str = "POST"
    response: dict[str, Any] | None = None  # what the fake answered, e.g. the new "ts"

    @property
    def ts(self) -> str | None:
        """The ts the fake gave a posted message (None if the call failed)."""
        value = (self.response or {}).get("ts")
        return value if isinstance(value, str) else None

    @property
    def blocks(self) -> list[dict[str, Any]] | None:
        """The blocks argument as a list, parsed when it came as a JSON string; else None."""
        blocks = self.body.get("blocks")
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except ValueError:
                return None
        return blocks if isinstance(blocks, list) else None

    @property
    def channel(self) -> str | None:
        channel = self.body.get("channel")
        return channel if isinstance(channel, str) else None

    @property
    def text(self) -> str | None:
        text = self.body.get("text")
        return text if isinstance(text, str) else None


@dataclass
class _Failure:
    status: int
    retry_after: int
    error: str


@dataclass
class _Slow:
    before: float
    after: float
    times: int | None  # calls left to delay; None: all, until cleared


_NOT_SLOW = _Slow(before=0.0, after=0.0, times=None)


@dataclass
class FakeSlack:
    base_url: str  # "http://127.0.0.1:PORT/api/", trailing slash as slack_sdk wants
    calls: list[SlackCall] = field(default_factory=list)
    team_id: str = "T0001"
    bot_user_id: str = "UBOT"
    users: dict[str, dict[str, Any]] = field(default_factory=_default_users)
    response_url: str = ""  # POSTs here are recorded with method RESPONSE_URL_METHOD
    _failures: defaultdict[str, deque[_Failure]] = field(
        default_factory=lambda: defaultdict(deque), repr=False
    )
    _last_ts: int = field(default=_TS_START - _TS_STEP, repr=False)  # microseconds
    # Messages as Slack keeps them: channel -> ts -> message (a reply carries its thread_ts).
    _messages: defaultdict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(dict), repr=False
    )
    _message_stored: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _slow: dict[str, _Slow] = field(default_factory=dict, repr=False)
    # Socket Mode
    socket_url: str = ""  # "ws://127.0.0.1:PORT/socket-mode", what connections.open hands out
    sockets: list[web.WebSocketResponse] = field(default_factory=list)  # live, newest last
    socket_acks: list[dict[str, Any]] = field(default_factory=list)  # + received_at, sent_at
    socket_sent: dict[str, float] = field(default_factory=dict)  # envelope id -> monotonic
    socket_connects: int = 0  # websocket handshakes accepted, reconnections included
    socket_pings: int = 0  # pings the client sent (each answered with a pong)
    _tickets: set[str] = field(default_factory=set, repr=False)
    _socket_changed: asyncio.Condition = field(default_factory=asyncio.Condition, repr=False)

    def posted(self, method: str = "chat.postMessage") -> list[SlackCall]:
        """The recorded calls of `method`, in order (failed ones included)."""
        return [call for call in self.calls if call.method == method]

    def count(self, method: str) -> int:
        return len(self.posted(method))

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int = 1,
        error: str = "ratelimited",
        times: int = 1,
    ) -> None:
        """Answer the next `times` calls of `method` with HTTP `status` (429: Retry-After).

        status 200 answers `{"ok": false, "error": error}` like any Slack API error; other
        statuses carry the same body with that HTTP status.
        """
        failure = _Failure(status=status, retry_after=retry_after, error=error)
        self._failures[method].extend([failure] * times)

    def slow(
        self, method: str, *, before: float = 0.0, after: float = 0.0, times: int | None = None
    ) -> None:
        """Delay the next `times` calls of `method` (None: every call, until cleared).

        Each sleeps `before` seconds before it is answered (a posted message is not stored
        yet), then `after` seconds once it is answered (the message stored, `SlackCall.response`
        set) before the HTTP response goes out. `slow(method)` alone clears the delay.
        """
        if before < 0 or after < 0 or (times is not None and times < 1):
            raise ValueError("delays must be >= 0 and times >= 1")
        if not before and not after:
            self._slow.pop(method, None)
        else:
            self._slow[method] = _Slow(before=before, after=after, times=times)

    def next_ts(self) -> str:
        """A fresh message ts, unique and increasing, as Slack's: the time it was made (Unix
        seconds and microseconds), so a client can look for messages since a moment.

        Always later than every ts handed out or stored before (see `add_message`).
        """
        self._last_ts = max(self._last_ts + _TS_STEP, time.time_ns() // 1000)
        return _format_ts(self._last_ts)

    # ------------------------------------------------------------------------ messages

    def add_message(
        self,
        channel: str,
        text: str = "",
        *,
        user: str = "UMEMBER",
        ts: str | None = None,
        thread_ts: str | None = None,
        bot_id: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """Store a message as if `user` had posted it (a human, unless `bot_id` is given).

        `ts` defaults to a fresh one; an explicit ts must be new in the channel, and later
        `next_ts` values follow it. `thread_ts` makes it a reply. Returns the ts.
        """
        if ts is None:
            ts = self.next_ts()
        micros = _ts_micros(ts)
        if micros is None:
            raise ValueError(f"not a Slack ts: {ts!r}")
        if ts in self._messages[channel]:
            raise ValueError(f"{channel} already has a message with ts {ts}")
        if metadata is not None and _parse_metadata(metadata) is None:
            raise ValueError(f"malformed metadata: {metadata!r}")
        self._last_ts = max(self._last_ts, micros)
        message: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts,
            "team": self.team_id,
        }
        if bot_id is not None:
            message["bot_id"] = bot_id
        if blocks is not None:
            message["blocks"] = copy.deepcopy(blocks)
        if thread_ts is not None:
            message["thread_ts"] = self._thread_root(channel, thread_ts)
        if metadata is not None:
            message["metadata"] = _parse_metadata(metadata)
        self._store(channel, message)
        return ts

    def channel_messages(self, channel: str) -> list[dict[str, Any]]:
        """The channel's top-level messages, oldest first, metadata included (copies).

        Each is as conversations.history with include_all_metadata shows it: a parent also
        has thread_ts, reply_count, reply_users, latest_reply. Replies: `thread_replies`.
        """
        top = [m for m in self._messages.get(channel, {}).values() if not _is_reply(m)]
        return [self._render(channel, m, metadata=True) for m in _by_ts(top)]

    def thread_replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The replies under `thread_ts` (the parent excluded), oldest first, metadata included.

        Also for a thread whose parent the fake never saw (a reply to an event's message).
        """
        return [self._render(channel, m, metadata=True) for m in self._replies(channel, thread_ts)]

    async def wait_message(
        self, channel: str, predicate: Callable[[dict[str, Any]], bool] | None = None
    ) -> dict[str, Any]:
        """Wait until `channel` has a message (top-level or reply) matching `predicate` (any
        message if None) and return it, metadata included; no deadline of its own.

        With `slow(..., after=...)` it returns while the poster still waits for its answer.
        """
        while True:
            for message in _by_ts(self._messages.get(channel, {}).values()):
                rendered = self._render(channel, message, metadata=True)
                if predicate is None or predicate(rendered):
                    return rendered
            await self._message_stored.wait()

    def _store(self, channel: str, message: dict[str, Any]) -> None:
        self._messages[channel][message["ts"]] = message
        self._message_stored.set()  # wake the waiters, then re-arm for the next message
        self._message_stored = asyncio.Event()

    def _thread_root(self, channel: str, thread_ts: str) -> str:
        """The parent ts of the thread `thread_ts` names: itself, or a reply's parent."""
        named = self._messages.get(channel, {}).get(thread_ts)
        if named is not None and _is_reply(named):
            return str(named["thread_ts"])
        return thread_ts

    def _replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        stored = self._messages.get(channel, {}).values()
        return _by_ts(m for m in stored if _is_reply(m) and m["thread_ts"] == thread_ts)

    def _render(self, channel: str, message: dict[str, Any], *, metadata: bool) -> dict[str, Any]:
        """`message` as conversations.history / .replies return it (a deep copy)."""
        shown = copy.deepcopy(message)
        if not metadata:
            shown.pop("metadata", None)
        if _is_reply(shown):
            parent = self._messages.get(channel, {}).get(shown["thread_ts"])
            if parent is not None and "user" in parent:
                shown["parent_user_id"] = parent["user"]
            return shown
        replies = self._replies(channel, shown["ts"])
        if replies:
            users = list(dict.fromkeys(str(r.get("user") or r.get("bot_id")) for r in replies))
            shown |= {
                "thread_ts": shown["ts"],
                "reply_count": len(replies),
                "reply_users_count": len(users),
                "latest_reply": replies[-1]["ts"],
                "reply_users": users,
            }
        return shown

    # ------------------------------------------------------------------------ answering

    def _take_slow(self, method: str) -> _Slow:
        delay = self._slow.get(method)
        if delay is None:
            return _NOT_SLOW
        if delay.times is not None:
            delay.times -= 1
            if delay.times <= 0:
                del self._slow[method]
        return delay

    def _answer(self, method: str, args: dict[str, Any]) -> web.Response:
        failures = self._failures.get(method)
        if failures:
            failure = failures.popleft()
            headers = {"Retry-After": str(failure.retry_after)} if failure.status == 429 else None
            return _json({"ok": False, "error": failure.error}, failure.status, headers)

        handler = _METHODS.get(method)
        if handler is None:
            return _error("unknown_method")
        return handler(self, args)

    def _auth_test(self, args: dict[str, Any]) -> web.Response:
        payload = {
            "ok": True,
            "url": "https://fake.slack.com/",
            "team": "Fake",
            "user": "newsbrief",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }
        scopes = "app_mentions:read,channels:history,chat:write,commands,users:read"
        return _json(payload, headers={"X-OAuth-Scopes": scopes})

    def _message(self, args: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": BOT_ID,
            "text": args.get("text") or "",
            "ts": ts,
            "team": self.team_id,
        }
        blocks = SlackCall(method="", body=args, headers={}).blocks
        if blocks is not None:
            message["blocks"] = blocks
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        return message

    def _post_message(self, args: dict[str, Any]) -> web.Response:
        problem = _channel_problem(args)
        if problem:
            return _error(problem)
        if not (args.get("text") or args.get("blocks") or args.get("attachments")):
            return _error("no_text")
        metadata = _parse_metadata(args.get("metadata"))
        if _given(args.get("metadata")) and metadata is None:
            return _error("invalid_metadata_format")
        channel = str(args["channel"])
        ts = self.next_ts()
        message = self._message(args, ts)
        if "thread_ts" in message:
            message["thread_ts"] = self._thread_root(channel, str(message["thread_ts"]))
        if metadata is not None:
            message["metadata"] = metadata
        self._store(channel, message)
        return _json({"ok": True, "channel": channel, "ts": ts, "message": copy.deepcopy(message)})

    def _post_ephemeral(self, args: dict[str, Any]) -> web.Response:
        problem = _channel_problem(args)
        if problem:
            return _error(problem)
        if not args.get("user"):
            return _error("user_not_in_channel")
        return _json({"ok": True, "message_ts": self.next_ts()})

    def _update(self, args: dict[str, Any]) -> web.Response:
        problem = _channel_problem(args)
        if problem:
            return _error(problem)
        if not args.get("ts"):
            return _error("message_not_found")
        metadata = _parse_metadata(args.get("metadata"))
        if _given(args.get("metadata")) and metadata is None:
            return _error("invalid_metadata_format")
        message = self._message(args, str(args["ts"]))
        stored = self._messages.get(str(args["channel"]), {}).get(str(args["ts"]))
        if stored is not None:  # an unknown ts is answered as before, but nothing is kept
            if "text" in args:
                stored["text"] = message["text"]
            if "blocks" in message:
                stored["blocks"] = message["blocks"]
            if metadata is not None:
                stored["metadata"] = metadata
            stored["edited"] = {"user": self.bot_user_id, "ts": self.next_ts()}
            message = copy.deepcopy(stored)
        payload = {
            "ok": True,
            "channel": args["channel"],
            "ts": args["ts"],
            "text": message["text"],
            "message": message,
        }
        return _json(payload)

    def _delete(self, args: dict[str, Any]) -> web.Response:
        problem = _channel_problem(args)
        if problem:
            return _error(problem)
        if not args.get("ts"):
            return _error("message_not_found")
        self._messages.get(str(args["channel"]), {}).pop(str(args["ts"]), None)
        return _json({"ok": True, "channel": args["channel"], "ts": args["ts"]})

    def _history(self, args: dict[str, Any]) -> web.Response:
        problem = _channel_problem(args)
        if problem:
            return _error(problem)
        channel = str(args["channel"])
        top = [m for m in self._messages.get(channel, {}).values() if not _is_reply(m)]
        return self._page(channel, list(reversed(_by_ts(top))), args, newest_first=True)

    def _conversation_replies(self, args: dict[str, Any]) -> web.Response:
        problem = _channel_problem(args)
        if problem:
            return _error(problem)
        channel = str(args["channel"])
        stored = self._messages.get(channel, {})
        named = stored.get(str(args.get("ts") or ""))
        if named is None:
            return _error("thread_not_found")
        root = self._thread_root(channel, named["ts"])
        parent = stored.get(root)
        thread = ([parent] if parent is not None else []) + self._replies(channel, root)
        return self._page(channel, thread, args, newest_first=False)

    def _page(
        self,
        channel: str,
        messages: list[dict[str, Any]],
        args: dict[str, Any],
        *,
        newest_first: bool,
    ) -> web.Response:
        """Filter `messages` (in answer order) by oldest / latest, then cut a page at cursor."""
        oldest = _ts_micros(str(args.get("oldest") or "0"))
        if oldest is None:
            return _error("invalid_ts_oldest")
        latest = _ts_micros(str(args["latest"])) if _given(args.get("latest")) else None
        if _given(args.get("latest")) and latest is None:
            return _error("invalid_ts_latest")
        try:
            limit = int(args.get("limit") or HISTORY_LIMIT)
        except (TypeError, ValueError):
            return _error("invalid_limit")
        limit = min(limit if limit > 0 else HISTORY_LIMIT, HISTORY_MAX_LIMIT)
        inclusive = _truthy(args.get("inclusive"))

        def in_window(micros: int) -> bool:
            after_oldest = micros > oldest or (inclusive and micros == oldest)
            before_latest = latest is None or micros < latest or (inclusive and micros == latest)
            return after_oldest and before_latest

        stamps = [(_ts_micros(m["ts"]) or 0, m) for m in messages]
        window = [(micros, m) for micros, m in stamps if in_window(micros)]
        if _given(args.get("cursor")):
            start = _decode_cursor(str(args["cursor"]))
            if start is None:
                return _error("invalid_cursor")
            if newest_first:
                window = [(micros, m) for micros, m in window if micros <= start]
            else:
                window = [(micros, m) for micros, m in window if micros >= start]
        page, rest = window[:limit], window[limit:]
        metadata = _truthy(args.get("include_all_metadata"))
        payload: dict[str, Any] = {
            "ok": True,
            "messages": [self._render(channel, m, metadata=metadata) for _, m in page],
            "has_more": bool(rest),
        }
        if rest:
            payload["response_metadata"] = {"next_cursor": _encode_cursor(rest[0][1]["ts"])}
        return _json(payload)

    def _users_info(self, args: dict[str, Any]) -> web.Response:
        user = self.users.get(str(args.get("user") or ""))
        if user is None:
            return _error("user_not_found")
        return _json({"ok": True, "user": user})

    def _conversations_info(self, args: dict[str, Any]) -> web.Response:
        channel = str(args.get("channel") or "")
        if not channel or channel == GONE_CHANNEL:
            return _error("channel_not_found")
        info = {
            "id": channel,
            "name": "general",
            "is_channel": True,
            "is_private": False,
            "is_archived": False,
            "is_member": channel != NOT_IN_CHANNEL,
        }
        return _json({"ok": True, "channel": info})

    def _connections_open(self, args: dict[str, Any]) -> web.Response:
        ticket = str(uuid.uuid4())
        self._tickets.add(ticket)
        return _json(
            {
                "ok": True,
                "url": f"{self.socket_url}?{urlencode({'ticket': ticket, 'app_id': APP_ID})}",
            }
        )

    # ------------------------------------------------------------------------ Socket Mode

    async def wait_socket_connected(self) -> web.WebSocketResponse:
        """Wait until a Socket Mode client is connected (hello sent); return the newest socket.

        Like the other waits here, it has no deadline of its own: wrap it in asyncio.timeout.
        """
        async with self._socket_changed:
            await self._socket_changed.wait_for(lambda: bool(self.sockets))
        return self.sockets[-1]

    async def wait_socket_closed(self) -> None:
        """Wait until no Socket Mode connection is left."""
        async with self._socket_changed:
            await self._socket_changed.wait_for(lambda: not self.sockets)

    async def socket_send(
        self, envelope_type: str, payload: dict[str, Any], *, accepts_response_payload: bool = True
    ) -> str:
        """Push an envelope ("slash_commands", "events_api", ...) to the newest connection.

        Returns the envelope id; the client's ack for it shows up in `socket_acks`.
        """
        if not self.sockets:
            raise RuntimeError("no Socket Mode client is connected")
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if envelope_type == "events_api":
            envelope |= {"retry_attempt": 0, "retry_reason": ""}
        self.socket_sent[envelope_id] = time.monotonic()
        await self.sockets[-1].send_json(envelope)
        return envelope_id

    async def wait_socket_ack(self, envelope_id: str) -> dict[str, Any]:
        """Wait for the client's ack of `envelope_id` and return it (see `socket_acks`)."""

        def found() -> dict[str, Any] | None:
            return next((a for a in self.socket_acks if a["envelope_id"] == envelope_id), None)

        async with self._socket_changed:
            await self._socket_changed.wait_for(lambda: found() is not None)
        ack = found()
        assert ack is not None
        return ack

    async def socket_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the connected client(s) to reconnect, as Slack does every few hours."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
        for ws in list(self.sockets):
            await ws.send_json(message)

    async def _socket_handler(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("ticket") not in self._tickets:
            return web.Response(status=401, text="invalid ticket")
        ws = web.WebSocketResponse(autoping=False)  # pings answered (and counted) below
        await ws.prepare(request)
        self.socket_connects += 1
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self.sockets) + 1,
                "debug_info": {
                    "host": "applink-fake",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": APP_ID},
            }
        )
        async with self._socket_changed:
            self.sockets.append(ws)
            self._socket_changed.notify_all()
        try:
            async for message in ws:
                if message.type == WSMsgType.PING:
                    self.socket_pings += 1
                    await ws.pong(message.data)
                elif message.type == WSMsgType.TEXT:
                    await self._socket_received(message.data)
        finally:
            async with self._socket_changed:
                self.sockets.remove(ws)
                self._socket_changed.notify_all()
        return ws

    async def _socket_received(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        if not isinstance(message, dict) or "envelope_id" not in message:
            return
        ack = {
            **message,
            "received_at": time.monotonic(),
            "sent_at": self.socket_sent.get(str(message["envelope_id"])),
        }
        async with self._socket_changed:
            self.socket_acks.append(ack)
            self._socket_changed.notify_all()


_METHODS = {
    "auth.test": FakeSlack._auth_test,
    "chat.postMessage": FakeSlack._post_message,
    "chat.postEphemeral": FakeSlack._post_ephemeral,
    "chat.update": FakeSlack._update,
    "chat.delete": FakeSlack._delete,
    "users.info": FakeSlack._users_info,
    "conversations.info": FakeSlack._conversations_info,
    "conversations.history": FakeSlack._history,
    "conversations.replies": FakeSlack._conversation_replies,
    "apps.connections.open": FakeSlack._connections_open,
}


def _json(
    payload: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(payload, status=status, headers=headers)


def _error(error: str) -> web.Response:
    return _json({"ok": False, "error": error})


def _given(value: Any) -> bool:
    return value is not None and value != ""


def _truthy(value: Any) -> bool:
    """A boolean argument as Slack reads it: true, "true" or "1" (slack_sdk sends GET
    params' booleans as "1" / "0")."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true")
    return value is True or value == 1


def _parse_metadata(value: Any) -> dict[str, Any] | None:
    """`{"event_type": str, "event_payload": dict}` from the object or its JSON string; None
    when absent or malformed (tell the two apart with `_given`)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, dict):
        return None
    event_type, event_payload = value.get("event_type"), value.get("event_payload")
    if not isinstance(event_type, str) or not event_type or not isinstance(event_payload, dict):
        return None
    return {"event_type": event_type, "event_payload": copy.deepcopy(event_payload)}


def _format_ts(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _ts_micros(ts: str) -> int | None:
    """A ts ("1700000000.000100", "1700000000", "0") in microseconds; None if it isn't one."""
    if not _TS_PATTERN.fullmatch(ts):
        return None
    seconds, _, fraction = ts.partition(".")
    return int(seconds) * 1_000_000 + int(fraction.ljust(6, "0"))


def _is_reply(message: dict[str, Any]) -> bool:
    return bool(message.get("thread_ts", message["ts"]) != message["ts"])


def _by_ts(messages: Any) -> list[dict[str, Any]]:
    return sorted(messages, key=lambda m: _ts_micros(m["ts"]) or 0)


def _encode_cursor(ts: str) -> str:
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def _decode_cursor(cursor: str) -> int | None:
    try:
        text = base64.b64decode(cursor, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    prefix, _, ts = text.partition(":")
    return _ts_micros(ts) if prefix == "next_ts" else None


def _channel_problem(args: dict[str, Any]) -> str | None:
    channel = args.get("channel")
    if not channel or channel == GONE_CHANNEL:
        return "channel_not_found"
    if channel == NOT_IN_CHANNEL:
        return "not_in_channel"
    return None


async def _read_args(request: web.Request) -> dict[str, Any]:
    """Query string, then the body on top: JSON, urlencoded or multipart (files as names)."""
    args: dict[str, Any] = dict(request.query)
    if not request.body_exists:
        return args
    if request.content_type == "application/json":
        raw = await request.read()
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {"_unparsed": raw.decode(errors="replace")}
        args.update(parsed if isinstance(parsed, dict) else {"_unparsed": parsed})
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for key, value in form.items():
            args[key] = value if isinstance(value, str) else getattr(value, "filename", "")
    else:
        raw = await request.read()
        if raw:
            args["_unparsed"] = raw.decode(errors="replace")
    return args


def _has_token(headers: dict[str, str], args: dict[str, Any]) -> bool:
    auth = headers.get("Authorization", "")
    if auth.startswith("Bearer ") and auth.removeprefix("Bearer ").strip():
        return True
    return bool(args.get("token"))


def _bearer(headers: dict[str, str], args: dict[str, Any]) -> str:
    auth = headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return auth.removeprefix("Bearer ").strip()
    return str(args.get("token") or "")


@asynccontextmanager
async def fake_slack() -> AsyncIterator[FakeSlack]:
    server = FakeSlack(base_url="")

    async def api(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _read_args(request)
        headers = dict(request.headers)
        call = SlackCall(method=method, body=args, headers=headers, http_method=request.method)
        server.calls.append(call)
        if not _has_token(headers, args):
            return _error("not_authed")
        if method == "apps.connections.open" and not _bearer(headers, args).startswith("xapp-"):
            return _error("not_allowed_token_type")  # Slack wants the app-level token here
        delay = server._take_slow(method)
        if delay.before:
            await asyncio.sleep(delay.before)
        response = server._answer(method, args)
        if response.body is not None and response.status == 200:
            call.response = json.loads(bytes(response.body))  # type: ignore[arg-type]
        if delay.after:
            await asyncio.sleep(delay.after)
        return response

    async def respond(request: web.Request) -> web.Response:
        args = await _read_args(request)
        server.calls.append(
            SlackCall(
                method=RESPONSE_URL_METHOD,
                body=args,
                headers=dict(request.headers),
                http_method=request.method,
            )
        )
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/api/{method}", api)
    app.router.add_post("/response/{tail:.*}", respond)
    app.router.add_get(SOCKET_PATH, server._socket_handler)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []
    port = sockets[0].getsockname()[1]
    server.base_url = f"http://127.0.0.1:{port}/api/"
    server.response_url = f"http://127.0.0.1:{port}/response/T0001/1/fake"
    server.socket_url = f"ws://127.0.0.1:{port}{SOCKET_PATH}"
    try:
        yield server
    finally:
        for ws in list(server.sockets):  # a client still connected: hang up like Slack would
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
        await runner.cleanup()
        await asyncio.sleep(0)


# ---------------------------------------------------------------------------- Bolt HTTP mode


def sign(signing_secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers for POSTing `body` to a Bolt app: Slack's v0 signature and the content type.

    SignatureVerifier rejects timestamps more than 5 minutes from now; pass an old one to
    test that.
    """
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(
        signing_secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256
    ).hexdigest()
    is_json = body.lstrip().startswith("{")
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/json" if is_json else "application/x-www-form-urlencoded",
    }


def slash_command_payload(
    command: str,
    text: str,
    *,
    user_id: str = "UMEMBER",
    channel_id: str = "C0001",
    team_id: str = "T0001",
    trigger_id: str | None = None,
    response_url: str = "http://127.0.0.1:1/resp",
) -> dict[str, str]:
    """A slash command's fields as Slack sends them: a Socket Mode `slash_commands` payload.
    Each has a trigger_id of its own unless one is given, as Slack's are."""
    if trigger_id is None:
        trigger_id = f"{next(_TRIGGERS)}.{secrets.randbelow(10**9)}"
    return {
        "token": "verification-token",
        "team_id": team_id,
        "team_domain": "fake",
        "channel_id": channel_id,
        "channel_name": "general",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A1",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def slash_command_body(
    command: str,
    text: str,
    *,
    user_id: str = "UMEMBER",
    channel_id: str = "C0001",
    team_id: str = "T0001",
    trigger_id: str | None = None,
    response_url: str = "http://127.0.0.1:1/resp",
) -> str:
    """A slash-command request body, urlencoded with the fields Slack sends."""
    payload = slash_command_payload(
        command,
        text,
        user_id=user_id,
        channel_id=channel_id,
        team_id=team_id,
        trigger_id=trigger_id,
        response_url=response_url,
    )
    return urlencode(payload)


def event_payload(
    event: dict[str, Any], *, team_id: str = "T0001", event_id: str | None = None
) -> dict[str, Any]:
    """An Events API `event_callback` envelope around `event`: an `events_api` payload."""
    return {
        "token": "x",
        "team_id": team_id,
        "context_team_id": team_id,
        "api_app_id": "A1",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_event_ids):08d}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": "UBOT",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def event_body(
    event: dict[str, Any], *, team_id: str = "T0001", event_id: str | None = None
) -> str:
    """An Events API `event_callback` envelope around `event`, as JSON."""
    return json.dumps(event_payload(event, team_id=team_id, event_id=event_id))


def message_event(
    text: str,
    *,
    user: str | None = "UMEMBER",
    channel: str = "C0001",
    ts: str = "1700000100.000200",
    thread_ts: str | None = None,
    bot_id: str | None = None,
    subtype: str | None = None,
) -> dict[str, Any]:
    """A `message` event; bot_id="BBOT" with user="UBOT" is the bot's own message."""
    event: dict[str, Any] = {
        "type": "message",
        "text": text,
        "channel": channel,
        "ts": ts,
        "event_ts": ts,
        "channel_type": "channel",
    }
    if user is not None:
        event["user"] = user
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    if bot_id is not None:
        event["bot_id"] = bot_id
    if subtype is not None:
        event["subtype"] = subtype
    return event


def app_mention_event(
    text: str,
    *,
    user: str = "UMEMBER",
    channel: str = "C0001",
    ts: str = "1700000100.000300",
    thread_ts: str | None = None,
) -> dict[str, Any]:
    """An `app_mention` event; `text` is used as is, so include "<@UBOT>" yourself."""
    event: dict[str, Any] = {
        "type": "app_mention",
        "text": text,
        "user": user,
        "channel": channel,
        "ts": ts,
        "event_ts": ts,
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event

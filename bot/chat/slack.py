"""The Slack adapter on slack-bolt: /brief, /newsbrief, and answers in threads.

Socket Mode when SLACK_APP_TOKEN is set (no public URL needed), else HTTP mode
on SLACK_PORT at /slack/events, verified with SLACK_SIGNING_SECRET. One bot
token serves one workspace. Handlers ack at once (Slack allows 3 seconds),
then call one service and post what it returns.

Each listener is Bolt's pair: an ack function that answers Slack at once, and a
lazy listener that does the work after it (one call to the chat service, then what
it says rendered for Slack). `drain()` waits for the lazy work started so far.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.reach import TRIES, reach
from bot.chat.slack_blocks import (
    SLACK_HINTS,
    SlackMessage,
    escape,
    render_blocks,
    reply_parts,
    with_hint,
)
from bot.domain import Hint, Message, Scope, StartupError, StoreUnavailable
from bot.services.chat import STORE_AWAY, Chat, Reply, Where
from bot.services.delivery import Delivery, OutboxPart, PostRefused, SentPart
from bot.services.feeds import FeedChange
from bot.services.subscriptions import parse_topics

log = logging.getLogger(__name__)

PLATFORM = "slack"
# Message metadata on every part the outbox posts: {"delivery": key, "part": number}.
PART_EVENT = "newsbrief_part"
# History pages (200 messages each) searched for a part whose send was cut off.
FIND_PAGES = 5
# Answers that mean the bot may not read the history (scopes channels:history,
# groups:history, im:history, mpim:history): the part is sent again instead.
_CANNOT_LOOK_UP = frozenset({"missing_scope", "not_in_channel", "channel_not_found"})
ADMIN_CACHE_SECONDS = 300
EVENTS_PATH = "/slack/events"
# A response_url takes 5 responses in 30 minutes; further parts go by chat.postEphemeral.
RESPONSE_URL_USES = 5
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")

NEWSBRIEF_HELP = """*newsbrief commands*
• `/brief <topic>`: a cited brief on a topic, posted here; reply in its thread to ask about it
• `/newsbrief digest HH:MM <IANA zone> [topics, comma-separated]`: this channel's daily digest
• `/newsbrief digest off` · `/newsbrief digest now`
• `/newsbrief feeds`: the feeds read here, with their health
• `/newsbrief subscribe <feed url>` · `/newsbrief unsubscribe <feed url>`
• `/newsbrief resume <feed url>`: fetch a paused feed again
• `/newsbrief why <article url>`: where an article went, or why it did not appear
Changing feeds or the digest is for workspace admins and owners."""

_CANNOT_POST = {
    "not_in_channel": "I'm not in this channel: `/invite @newsbrief`, then try again.",
    "channel_not_found": "I can't see this channel. Invite me to it, then try again.",
    "is_archived": "This channel is archived, so I can't post here.",
    "restricted_action": "This workspace doesn't let me post here.",
}


def _form_fields(req: AsyncBoltRequest) -> dict[str, str] | None:
    """A form body's plain fields where Bolt misread it as interactivity: Bolt's
    parse_body reads a form body as `payload=<JSON>` whenever the text "payload" appears
    anywhere, so `/brief payload prices` parses as `{}` and reaches no listener."""
    if req.content_type != "application/x-www-form-urlencoded" or "payload" not in req.raw_body:
        return None
    fields = dict(parse_qsl(req.raw_body, keep_blank_values=True))
    return None if "payload" in fields else fields  # a real payload: Bolt read it right


class FormRequest(AsyncBoltRequest):
    """A request whose form body is read as plain fields when it only mentions
    "payload"; its copies for lazy listeners (which Bolt parses again from the raw
    body) too. The signature is still checked by Bolt, on the raw body as received."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        fields = _form_fields(self)
        if fields is not None:
            self.body = fields
            self.context = build_async_context(AsyncBoltContext({}), fields)

    def to_copyable(self) -> AsyncBoltRequest:
        copy = super().to_copyable()
        fields = _form_fields(copy)
        if fields is not None:
            copy.body = fields  # the context copied is the one built from the fields
        return copy


def events_app(app: AsyncApp, path: str = EVENTS_PATH) -> web.Application:
    """Bolt's HTTP endpoint, with slash-command text that mentions "payload" kept."""

    async def handle(request: web.Request) -> web.Response:
        req = FormRequest(
            body=await request.text(), query=request.query_string, headers=request.headers
        )
        return await to_aiohttp_response(await app.async_dispatch(req))

    web_app = web.Application()
    web_app.router.add_post(path, handle)
    return web_app


class SlackAdapter:
    platform = PLATFORM
    opens_with_digest = False

    def __init__(
        self,
        *,
        bot_token: str,
        app_token: str | None,
        signing_secret: str | None,
        api_url: str,
        admin_users: Sequence[str],
        chat: Chat,
        host: str = "0.0.0.0",  # HTTP mode must be reachable by Slack
        port: int = 3000,
        start_tries: int = TRIES,
        extra_routes: Sequence[web.RouteDef] = (),
    ) -> None:
        if not app_token and not signing_secret:
            raise ValueError(
                "Slack needs SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode)"
            )
        self._chat = chat
        self._app_token = app_token
        self._admin_users = set(admin_users)
        self._admin_cache: dict[str, tuple[float, bool]] = {}
        self._host, self._port = host, port
        self._start_tries = start_tries
        self._extra_routes = list(extra_routes)  # /healthz and /metrics, on HTTP mode's server
        # No client= here: Bolt reads SLACK_BOT_TOKEN itself and would warn that the token
        # is unused. Its own client is configured instead; every call reads base_url anew,
        # and Bolt's per-request clients copy base_url and retry handlers from it.
        self.app = AsyncApp(
            token=bot_token,
            signing_secret=signing_secret or "",
            request_verification_enabled=signing_secret is not None and not app_token,
            # Ack functions answer at once; the work is in lazy listeners, started
            # before the answer goes back (see _register).
            process_before_response=True,
        )
        self.client: AsyncWebClient = self.app.client
        self.client.base_url = api_url if api_url.endswith("/") else f"{api_url}/"
        self.client.retry_handlers = [
            _RetryConnectionsButNotPosts(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ]
        self.team_id = ""
        self.bot_user_id = ""
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self.bound_port: int | None = None
        self._register()

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Check the tokens and connect; a refused token or a port in use is a
        StartupError naming its setting, a Slack that cannot be reached is tried again."""
        advice = f"Check the network, or SLACK_API_URL ({self.client.base_url})."
        identity = await reach(
            "Slack",
            self._identify,
            unreachable=_UNREACHABLE,
            advice=advice,
            tries=self._start_tries,
        )
        self.team_id = str(identity["team_id"])
        self.bot_user_id = str(identity["user_id"])
        if self._app_token:
            self._socket = AsyncSocketModeHandler(self.app, self._app_token, web_client=self.client)
            try:
                await reach(
                    "Slack Socket Mode",
                    self._connect,
                    unreachable=_UNREACHABLE,
                    advice=advice,
                    tries=self._start_tries,
                )
            except BaseException:
                await self._socket.close_async()  # type: ignore[no-untyped-call]
                self._socket = None
                raise
            log.info("Slack: connected in Socket Mode to team %s", self.team_id)
            return
        server = events_app(self.app)
        server.add_routes(self._extra_routes)
        self._runner = web.AppRunner(server, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise StartupError(
                f"cannot listen on {self._host}:{self._port} for Slack's HTTP mode "
                f"({exc.strerror or exc}): set SLACK_PORT (or PORT) to a free port"
            ) from None
        self.bound_port = self._runner.addresses[0][1]
        log.info("Slack: HTTP mode on %s:%s%s", self._host, self.bound_port, EVENTS_PATH)

    async def _identify(self) -> Any:
        try:
            return await self.client.auth_test()
        except SlackApiError as exc:
            raise _refused(exc, "SLACK_BOT_TOKEN", BOT_TOKEN_HELP) from None

    async def _connect(self) -> None:
        """Socket Mode, its token checked first: the SDK itself would retry a refused
        token for ever, logging a traceback each time. The URL issued for the check is
        the one the SDK connects to (it issues one only when it has none)."""
        assert self._socket is not None and self._app_token is not None
        try:
            opened = await self.client.apps_connections_open(app_token=self._app_token)
        except SlackApiError as exc:
            raise _refused(exc, "SLACK_APP_TOKEN", APP_TOKEN_HELP) from None
        self._socket.client.wss_uri = str(opened["url"])
        await self._socket.connect_async()  # type: ignore[no-untyped-call]

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
        if self._runner is not None:
            await self._runner.cleanup()

    async def drain(self) -> None:
        """Wait for the lazy work started so far (tests, and a clean shutdown)."""
        await asyncio.sleep(0)  # lazy listeners started just now take their first step
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _lazy(self, work: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        """A lazy listener that `drain` and `stop` know of, and whose failure is logged.
        Bolt passes it the arguments `work` names (it reads them through the wrapper)."""

        @functools.wraps(work)
        async def tracked(**kwargs: Any) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._tasks.add(task)
            try:
                await work(**kwargs)
            except StoreUnavailable as exc:
                log.warning("Slack: a request met an unavailable database: %s", exc)
                await _say_privately(kwargs, STORE_AWAY)
            except Exception:
                log.exception("Slack: handling a request failed after its ack")
            finally:
                self._tasks.discard(task)

        return tracked

    # --- posting -----------------------------------------------------------------------

    def scope(self, team_id: str | None = None) -> Scope:
        return Scope(PLATFORM, team_id or self.team_id)

    def _where(self, command: dict[str, Any]) -> Where:
        return Where(self.scope(command.get("team_id")), str(command["channel_id"]))

    # --- the outbox's parts: one chat.postMessage each -------------------------------

    def render_parts(
        self, message: Message, *, in_thread: bool, replying_to: str | None = None
    ) -> list[str]:
        return [
            json.dumps({"text": part.text, "blocks": part.blocks})
            for part in render_blocks(message, SLACK_HINTS)
        ]

    async def send_part(self, delivery: Delivery, part: OutboxPart) -> SentPart:
        """Post a part with the delivery's key and the part's number in its metadata, by
        which `find_part` knows it again; each part of a digest or brief opens a thread."""
        content = json.loads(part.payload)
        try:
            response = await self.client.chat_postMessage(
                channel=delivery.channel,
                text=content["text"],
                blocks=content["blocks"],
                thread_ts=delivery.thread_key,
                unfurl_links=False,
                unfurl_media=False,
                metadata={"event_type": PART_EVENT, "event_payload": _part_tag(delivery, part)},
            )
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown_error"))
            if error in _CANNOT_POST:
                raise PostRefused(_CANNOT_POST[error]) from exc
            raise
        return self._sent(delivery, str(response["ts"]))

    async def find_part(self, delivery: Delivery, part: OutboxPart) -> SentPart | None:
        """The part in the channel's history (or the thread's), by its metadata: messages
        since a minute before its send began, newest first, a few pages at most."""
        since = delivery.look_back(part)
        query: dict[str, Any] = {
            "channel": delivery.channel,
            "oldest": f"{since.timestamp():.6f}",
            "include_all_metadata": True,
            "limit": 200,
        }
        wanted = _part_tag(delivery, part)
        try:
            for _ in range(FIND_PAGES):
                if delivery.thread_key is None:
                    page = await self.client.conversations_history(**query)
                else:
                    page = await self.client.conversations_replies(ts=delivery.thread_key, **query)
                for found in page.get("messages") or []:
                    metadata = found.get("metadata") or {}
                    if (
                        metadata.get("event_type") == PART_EVENT
                        and metadata.get("event_payload") == wanted
                    ):
                        return self._sent(delivery, str(found["ts"]))
                query["cursor"] = (page.get("response_metadata") or {}).get("next_cursor")
                if not query["cursor"]:
                    break
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error not in _CANNOT_LOOK_UP:
                raise
            # Without the history scopes the bot cannot tell: the part is sent again.
            log.warning(
                "Slack: cannot look in %s for part %d of %s (%s); sending it again",
                delivery.channel,
                part.index,
                delivery.key,
                error,
            )
        return None

    def serves(self, scope: Scope) -> bool:
        """Every process serves every workspace: Slack spreads events over the Socket
        Mode connections (or the load balancer over HTTP processes)."""
        return True

    def _sent(self, delivery: Delivery, ts: str) -> SentPart:
        return SentPart(ts, thread_key=ts if delivery.opens_threads else None)

    # --- handlers ----------------------------------------------------------------------

    def _register(self) -> None:
        self.app.command("/brief")(ack=self._ack_brief, lazy=[self._lazy(self._brief)])
        self.app.command("/newsbrief")(ack=self._ack_newsbrief, lazy=[self._lazy(self._newsbrief)])
        self.app.event("message")(ack=_ack, lazy=[self._lazy(self._on_message)])
        self.app.event("app_mention")(ack=_ack, lazy=[self._lazy(self._on_mention)])

    async def _ack_brief(self, ack: Any, command: dict[str, Any]) -> None:
        if not command.get("text", "").strip():
            await ack(text=escape(SLACK_HINTS[Hint.BRIEF_USAGE]))
            return
        await ack()

    async def _brief(self, command: dict[str, Any], respond: Any) -> None:
        topic = command.get("text", "")
        if not topic.strip():
            return  # told how to use it in the ack
        reply = await self._chat.brief(self, self._where(command), topic, event=_event(command))
        await self._tell(command, respond, reply)

    async def _tell(self, command: dict[str, Any], respond: Any, reply: Reply) -> None:
        """What only the person who asked is told, if anything."""
        if reply.message is not None:
            await self._reply(command, respond, reply_parts(reply.message, SLACK_HINTS))
        if reply.text is not None:
            await self._say(respond, reply.text, reply.hint)

    async def _reply(
        self, command: dict[str, Any], respond: Any, parts: Sequence[SlackMessage]
    ) -> None:
        """A reply only the user sees, in as many messages as it takes: never cut.

        The first RESPONSE_URL_USES go through response_url (it works in any channel);
        the rest by chat.postEphemeral, which needs the bot in the channel.
        """
        for index, part in enumerate(parts):
            content: dict[str, Any] = {"text": part.text, "blocks": part.blocks or None}
            if index < RESPONSE_URL_USES:
                await respond(
                    **content, response_type="ephemeral", unfurl_links=False, unfurl_media=False
                )
                continue
            try:
                await self.client.chat_postEphemeral(
                    channel=command["channel_id"], user=command["user_id"], **content
                )
            except SlackApiError as exc:
                channel, error = command["channel_id"], exc.response.get("error")
                log.warning("Slack: cannot send the rest of a reply in %s: %s", channel, error)
                return

    async def _say(self, respond: Any, text: str, hint: Hint | None = None) -> None:
        """A short reply of our own words only the user sees, with the hint it points to."""
        await respond(text=with_hint(text, hint, SLACK_HINTS), response_type="ephemeral")

    async def _ack_newsbrief(self, ack: Any, command: dict[str, Any]) -> None:
        if _action(command) not in SUBCOMMANDS:
            await ack(text=escape(NEWSBRIEF_HELP))
            return
        await ack()

    async def _newsbrief(self, command: dict[str, Any], respond: Any) -> None:
        action, args = _action(command), command.get("text", "").split()[1:]
        where = self._where(command)
        if action == "feeds":
            await self._tell(command, respond, Reply(message=await self._chat.feeds(where.scope)))
            return
        if action not in SUBCOMMANDS:
            return  # the ack showed the help
        if not await self.is_admin(command["user_id"]):
            await self._say(
                respond,
                "Sorry, only workspace admins and owners (or users the operator allows in "
                "SLACK_ADMIN_USERS) can change feeds or the daily digest.",
            )
            return
        if action == "why":
            if not args:
                await self._say(respond, "Usage: /newsbrief why <article url>")
                return
            await self._tell(command, respond, await self._chat.why(where, args[0]))
            return
        if action in ("subscribe", "unsubscribe", "resume"):
            if not args:
                await self._say(respond, f"Usage: /newsbrief {action} <feed url>")
                return
            change: FeedChange
            if action == "subscribe":
                change = await self._chat.add_feed(where, args[0], added_by=command["user_id"])
            elif action == "resume":
                change = await self._chat.resume_feed(where, args[0])
            else:
                change = await self._chat.remove_feed(where, args[0])
            await self._say(respond, change.text, change.hint)
            return
        await self._tell(command, respond, await self._digest_command(command, where, args))

    async def _digest_command(
        self, command: dict[str, Any], where: Where, args: list[str]
    ) -> Reply:
        if args and args[0].lower() == "off":
            return Reply((await self._chat.digest_off(where)).text)
        if args and args[0].lower() == "now":
            return await self._chat.digest_now(self, where, event=_event(command))
        if len(args) < 2:
            return Reply(
                "Usage: /newsbrief digest HH:MM <IANA time zone> [topics]  "
                "(e.g. /newsbrief digest 08:00 Europe/Kyiv ukraine, energy), "
                "/newsbrief digest off, /newsbrief digest now"
            )
        topics = parse_topics(" ".join(args[2:]))
        return Reply((await self._chat.schedule_digest(where, args[0], args[1], topics)).text)

    async def is_admin(self, user_id: str) -> bool:
        """Workspace admins and owners, or users in SLACK_ADMIN_USERS."""
        if user_id in self._admin_users:
            return True
        cached = self._admin_cache.get(user_id)
        if cached and time.monotonic() - cached[0] < ADMIN_CACHE_SECONDS:
            return cached[1]
        try:
            user = (await self.client.users_info(user=user_id))["user"]
        except SlackApiError as exc:
            log.warning("Slack: users.info for %s failed: %s", user_id, exc.response.get("error"))
            return False
        allowed = bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        self._admin_cache[user_id] = (time.monotonic(), allowed)
        return allowed

    async def _on_message(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        thread_ts = event.get("thread_ts")
        if event.get("subtype") or event.get("bot_id") or not thread_ts:
            return  # edits, joins, bots (ourselves included), and top-level chatter
        if thread_ts == event.get("ts") or _MENTION.search(event.get("text", "")):
            return  # a thread parent, or a mention that app_mention answers
        await self._answer(body.get("team_id") or self.team_id, event, ours_only=True)

    async def _on_mention(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("bot_id"):
            return
        await self._answer(body.get("team_id") or self.team_id, event, ours_only=False)

    async def _answer(self, team_id: str, event: dict[str, Any], *, ours_only: bool) -> None:
        channel, ts = str(event.get("channel", "")), str(event.get("ts", ""))
        question = _MENTION.sub("", event.get("text", "")).strip()
        if not channel or not ts or (not question and ours_only):
            return  # a bare mention is answered: with how to ask
        where = Where(self.scope(team_id), channel, event.get("thread_ts"))
        answered = await self._chat.answer(
            self, where, message=ts, question=question, ours_only=ours_only
        )
        log.debug("Slack: message %s in %s: %s", ts, channel, answered)


async def _ack(ack: Any) -> None:
    await ack()


def _event(command: dict[str, Any]) -> str:
    """A slash command's own id: Slack gives each invocation its own trigger_id."""
    return str(command.get("trigger_id") or time.time_ns())


def _action(command: dict[str, Any]) -> str:
    words = command.get("text", "").split()
    return words[0].lower() if words else "help"


def _part_tag(delivery: Delivery, part: OutboxPart) -> dict[str, Any]:
    return {"delivery": delivery.key, "part": part.index}


# What each token is, and where to find it, for the line that says it was refused.
BOT_TOKEN_HELP = (
    "use the app's Bot User OAuth Token (xoxb-...), from OAuth & Permissions at "
    "https://api.slack.com/apps, after installing the app to the workspace"
)
APP_TOKEN_HELP = (
    "use an app-level token (xapp-...) with the connections:write scope, from Basic "
    "Information > App-Level Tokens at https://api.slack.com/apps, or unset it for HTTP mode"
)
# Slack's answers that mean the token itself is not good (as opposed to Slack being down).
TOKEN_REFUSED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
        "missing_scope",
        "team_access_not_granted",
    }
)


# /newsbrief's subcommands other than help; all but `feeds` are for admins.
SUBCOMMANDS = ("digest", "feeds", "subscribe", "unsubscribe", "resume", "why")


class _SlackDown(Exception):
    """Slack answered 5xx: down for now, tried again like a network that is not up."""


_UNREACHABLE = (OSError, TimeoutError, _SlackDown)


def _refused(exc: SlackApiError, setting: str, help_text: str) -> Exception:
    """A Slack error at start-up: StartupError naming `setting`, or _SlackDown (5xx)."""
    status = getattr(exc.response, "status_code", 200)
    error = exc.response.get("error") if exc.response is not None else None
    if status >= 500:
        return _SlackDown(f"HTTP {status}")
    if error in TOKEN_REFUSED:
        return StartupError(f"Slack refused {setting} ({error}): {help_text}.")
    return StartupError(f"Slack refused to start with {setting}: {error or status}.")


async def _say_privately(listener_args: dict[str, Any], text: str) -> None:
    """Tell the person behind a slash command (a listener given `respond`) what went
    wrong; an event (a message) has no one to tell privately."""
    respond = listener_args.get("respond")
    if respond is None:
        return
    try:
        await respond(text=text, response_type="ephemeral")
    except Exception as exc:  # the failure is logged already; this is a courtesy
        log.warning("Slack: could not tell the user: %s", exc)


class _RetryConnectionsButNotPosts(AsyncConnectionErrorRetryHandler):
    """slack_sdk's retry after a dropped connection, except for a post: Slack may have made
    the message before the connection dropped, and sending it blindly again would post it
    twice. The outbox looks for it first (see `SlackAdapter.find_part`)."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if request.url.endswith("/chat.postMessage"):
            return False
        return await super()._can_retry_async(
            state=state, request=request, response=response, error=error
        )

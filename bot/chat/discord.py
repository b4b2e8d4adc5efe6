"""The Discord adapter on discord.py: slash commands, digests as embeds, thread answers.

Commands are application commands on a CommandTree, synced at start
(globally, or to DISCORD_GUILD_ID for fast iteration). Every message the bot
sends has `allowed_mentions` none, so article text can never ping anyone.
Handlers defer at once (Discord drops an interaction not answered within 3
seconds), make one call to the chat service, and render what it says. Text from articles,
models and users is escaped for Markdown; the bot's own words are not.

Without the message-content intent Discord delivers thread messages that do
not mention the bot with empty content: those get, once per thread, a note
saying how to ask instead of silence.

Spread over processes (DISCORD_SHARD_COUNT, DISCORD_SHARD_IDS), each process
connects only its shards, so Discord sends it only its shards' servers' events;
it also posts only their digests, and the process holding shard 0 (which gets
direct messages) syncs the commands.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import discord
import yarl
from discord import app_commands
from discord.http import Route

from bot.chat.discord_embeds import DiscordMessage, plain_text, render_embeds, with_hint
from bot.chat.reach import TRIES, reach
from bot.domain import Message, Scope, StartupError, StoreUnavailable
from bot.services.chat import STORE_AWAY, Answer, Chat, Reply, Where
from bot.services.delivery import Delivery, OutboxPart, PostRefused, SentPart
from bot.services.feeds import FeedChange
from bot.services.retry import Backoff
from bot.services.subscriptions import parse_topics

log = logging.getLogger(__name__)

PLATFORM = "discord"
NO_PINGS = discord.AllowedMentions.none()
READY_TIMEOUT_SECONDS = 60.0
SEND_ATTEMPTS = 3
THREAD_NAME_LIMIT = 100
THREAD_EXISTS = 160004  # "A thread has already been created for this message"
# Recent messages searched for a part whose send was cut off.
FIND_LIMIT = 100
T = TypeVar("T")

NEEDS = "Send Messages, Embed Links, Create Public Threads and Send Messages in Threads"
CANNOT_POST = f"I can't post here: I need {NEEDS} in this channel."
ADMIN_ONLY = "Changing feeds or the daily digest needs the Manage Server permission."
HOW_TO_ASK = (
    "I only see messages that mention me. To ask about these stories, mention {me} with "
    "your question, or use `/ask question:…` in this thread."
)


def point_at(api_url: str) -> None:
    """Send REST (webhooks and interaction callbacks included) to another base URL."""
    Route.BASE = api_url.rstrip("/")


TOKEN_REFUSED = (
    "Discord refused DISCORD_TOKEN: copy the bot's token from "
    "https://discord.com/developers/applications > your application > Bot > Reset Token"
)
INTENT_REFUSED = (
    "Discord refused the Message Content intent that DISCORD_MESSAGE_CONTENT=true asks "
    "for: switch on Bot > Privileged Gateway Intents > Message Content Intent at "
    "https://discord.com/developers/applications, or set DISCORD_MESSAGE_CONTENT=false "
    "(questions are then asked with /ask or by mentioning the bot)"
)
# What the bot does in a server: read and post in channels and its threads, with embeds.
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    read_message_history=True,
    create_public_threads=True,
    send_messages_in_threads=True,
)


def invite_url(application_id: int) -> str:
    """The link that adds the bot, with its commands and the permissions it needs."""
    return discord.utils.oauth_url(
        application_id,
        permissions=INVITE_PERMISSIONS,
        scopes=("bot", "applications.commands"),
    )


class DiscordAdapter:
    platform = PLATFORM
    opens_with_digest = False

    def __init__(
        self,
        *,
        token: str,
        api_url: str | None,
        guild_id: int | None,
        message_content: bool,
        chat: Chat,
        guild_ready_timeout: float = 2.0,
        shard_count: int | None = None,
        shard_ids: list[int] | None = None,
        start_tries: int = TRIES,
    ) -> None:
        self._token = token
        self._start_tries = start_tries
        self._api_url = api_url
        self._guild_id = guild_id
        self._chat = chat
        # The bot has no voice; the library's warnings about voice libraries are noise.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        intents = discord.Intents.default()
        intents.message_content = message_content
        self._shard_count = shard_count
        self._shard_ids = frozenset(shard_ids or range(shard_count or 1))
        if shard_count is None:
            self.client: discord.Client = discord.Client(
                intents=intents, allowed_mentions=NO_PINGS, guild_ready_timeout=guild_ready_timeout
            )
        else:
            self.client = discord.AutoShardedClient(
                intents=intents,
                allowed_mentions=NO_PINGS,
                guild_ready_timeout=guild_ready_timeout,
                shard_count=shard_count,
                shard_ids=sorted(self._shard_ids),
            )
        self.tree = app_commands.CommandTree(self.client)
        self._connection: asyncio.Task[None] | None = None
        self._register()

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Log in and connect; a refused token or intent is a StartupError naming what to
        change (the client closed, nothing left open), a Discord that cannot be reached
        is tried again."""
        try:
            await self._start()
        except BaseException:
            await self.client.close()
            raise

    async def _start(self) -> None:
        if self._api_url:
            point_at(self._api_url)
        try:
            await reach(
                "Discord",
                lambda: self.client.login(self._token),
                unreachable=(OSError, TimeoutError, discord.DiscordServerError),
                advice="Check the network"
                + (f", or DISCORD_API_URL ({self._api_url})." if self._api_url else "."),
                tries=self._start_tries,
            )
        except discord.LoginFailure:
            raise StartupError(TOKEN_REFUSED) from None
        if self._api_url:
            # A plain Client never asks REST for the gateway; behind another REST base
            # the gateway must come from there too, or it would only see half the traffic.
            _, url, _ = await self.client.http.get_bot_gateway()
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        self._connection = asyncio.create_task(self.client.connect(reconnect=True))
        ready = asyncio.create_task(self.client.wait_until_ready())
        done, _ = await asyncio.wait(
            {self._connection, ready},
            timeout=READY_TIMEOUT_SECONDS,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if ready not in done:
            ready.cancel()
            if self._connection in done:
                try:
                    self._connection.result()  # raises why the connection ended
                except discord.PrivilegedIntentsRequired:
                    raise StartupError(INTENT_REFUSED) from None
                except discord.LoginFailure:
                    raise StartupError(TOKEN_REFUSED) from None
            raise StartupError(
                f"Discord's gateway did not get ready within {READY_TIMEOUT_SECONDS:.0f} s: "
                "check the network, or DISCORD_API_URL if set"
            )
        user = self.client.user
        log.info(
            "Discord: connected as %s (id %s) to %d servers%s",
            user,
            user.id if user else "?",
            len(self.client.guilds),
            f" on shards {sorted(self._shard_ids)} of {self._shard_count}"
            if self._shard_count
            else "",
        )
        log.info(
            "Discord: invite the bot to a server with %s",
            invite_url(self.client.application_id or (user.id if user else 0)),
        )
        if 0 in self._shard_ids:
            await self.sync_commands()
        else:
            log.info("Discord: commands are synced by the process holding shard 0")

    def serves(self, scope: Scope) -> bool:
        """Whether `scope`'s server is on this process's shards (Discord's rule: the
        server id's timestamp bits modulo the shard count; direct messages on shard 0)."""
        return shard_of(scope, self._shard_count or 1) in self._shard_ids

    async def sync_commands(self) -> None:
        if self._guild_id:
            guild = discord.Object(self._guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
            log.info("Discord: commands synced to server %s", self._guild_id)
        else:
            await self.tree.sync()
            log.info(
                "Discord: commands synced globally (Discord may take up to an hour to show them)"
            )

    async def stop(self) -> None:
        await self.client.close()
        if self._connection is not None:
            try:
                await self._connection
            except Exception:
                log.debug("Discord: connection ended with an error on close", exc_info=True)

    # --- posting -----------------------------------------------------------------------

    @staticmethod
    def scope(guild_id: int | None) -> Scope:
        return Scope(PLATFORM, str(guild_id or "dm"))

    # --- the outbox's parts: a message each, then the thread opened on the first -------

    def render_parts(
        self, message: Message, *, in_thread: bool, replying_to: str | None = None
    ) -> list[str]:
        parts = [
            json.dumps({"content": part.content, "embeds": part.embeds, "reply_to": replying_to})
            for part in render_embeds(message)
        ]
        if message.opens_thread and not in_thread:
            parts.append(json.dumps({"open_thread": _thread_name(message)}))
        return parts

    async def send_part(self, delivery: Delivery, part: OutboxPart) -> SentPart:
        """Post a part with a nonce Discord enforces (the same nonce within a few minutes
        gives back the message already made, not a second one); or open the thread on the
        first part, which Discord also does once only."""
        content = json.loads(part.payload)
        if "open_thread" in content:
            return await self._open_part_thread(delivery, content["open_thread"])
        body = DiscordMessage(content["content"], content["embeds"])
        try:
            target = await self._part_target(delivery)
            reply_to = content.get("reply_to")
            sent = await _send(
                target,
                body,
                reference=target.get_partial_message(int(reply_to)) if reply_to else None,
                nonce=part_nonce(delivery.key, part.index),
            )
        except discord.Forbidden as exc:
            raise PostRefused(CANNOT_POST) from exc
        return SentPart(str(sent.id))

    async def find_part(self, delivery: Delivery, part: OutboxPart) -> SentPart | None:
        """A part the bot posted since a minute before its send began, by its content
        (Discord does not list nonces in a channel's history); a thread step, as the
        thread on the first part (which has that message's id)."""
        content = json.loads(part.payload)
        if "open_thread" in content:
            return await self._find_part_thread(delivery)
        target = await self._part_target(delivery)
        me = self.client.user.id if self.client.user else None
        after = delivery.look_back(part)
        async for found in target.history(limit=FIND_LIMIT, after=after, oldest_first=True):
            if found.author.id == me and _same_part(found, content):
                return SentPart(str(found.id))
        return None

    async def _find_part_thread(self, delivery: Delivery) -> SentPart | None:
        first = delivery.parts[0].message_id
        if first is None:
            return None
        try:
            thread = self.client.get_channel(int(first)) or await self.client.fetch_channel(
                int(first)
            )
        except discord.NotFound:
            return None
        return SentPart(first, thread_key=first) if isinstance(thread, discord.Thread) else None

    async def _part_target(self, delivery: Delivery) -> discord.TextChannel | discord.Thread:
        key = int(delivery.thread_key or delivery.channel)
        target = self.client.get_channel(key) or await self.client.fetch_channel(key)
        if not isinstance(target, discord.TextChannel | discord.Thread):
            raise ValueError(f"Discord channel {key} is not a text channel or thread")
        return target

    async def _open_part_thread(self, delivery: Delivery, name: str) -> SentPart:
        first = delivery.parts[0].message_id
        assert first is not None, "a thread step follows the message it opens on"
        channel = await self._part_target(delivery)
        assert isinstance(channel, discord.TextChannel)
        try:
            thread = await _retry(
                lambda: channel.get_partial_message(int(first)).create_thread(name=name)
            )
        except discord.Forbidden:
            log.warning("Discord: no permission to open threads in #%s", channel.name)
            return SentPart(first)
        except discord.HTTPException as exc:
            if exc.code != THREAD_EXISTS:
                raise
            # Opened before the bot stopped: a message's thread has the message's id.
            return SentPart(first, thread_key=first)
        return SentPart(str(thread.id), thread_key=str(thread.id))

    # --- commands ----------------------------------------------------------------------

    def _register(self) -> None:
        manage = discord.Permissions(manage_guild=True)

        @self.tree.command(name="brief", description="A cited brief on a topic from recent news")
        @app_commands.describe(topic="What to brief on, e.g. ukraine")
        @app_commands.guild_only()
        async def brief(interaction: discord.Interaction, topic: str) -> None:
            await self.on_brief(interaction, topic)

        @self.tree.command(name="ask", description="Ask about the stories behind this thread")
        @app_commands.describe(question="Your question")
        @app_commands.guild_only()
        async def ask(interaction: discord.Interaction, question: str) -> None:
            await self.on_ask(interaction, question)

        digest = app_commands.Group(
            name="digest",
            description="This channel's daily digest",
            default_permissions=manage,
            guild_only=True,
        )

        @digest.command(name="schedule", description="Post a daily digest here")
        @app_commands.describe(
            time="Local time, HH:MM (24-hour)",
            timezone="IANA time zone, e.g. Europe/Kyiv",
            topics="Optional topics, comma-separated",
        )
        async def schedule(
            interaction: discord.Interaction, time: str, timezone: str, topics: str | None = None
        ) -> None:
            await self.admin(
                interaction, lambda: self._schedule(interaction, time, timezone, topics or "")
            )

        @digest.command(name="off", description="Stop this channel's daily digest")
        async def off(interaction: discord.Interaction) -> None:
            await self.admin(interaction, lambda: self._off(interaction))

        @digest.command(name="now", description="Post the digest here now")
        async def now(interaction: discord.Interaction) -> None:
            await self.admin(interaction, lambda: self._digest_now(interaction), public=True)

        feeds = app_commands.Group(
            name="feeds",
            description="The feeds this server reads",
            default_permissions=manage,
            guild_only=True,
        )

        @feeds.command(name="list", description="Feeds with their health")
        async def feeds_list(interaction: discord.Interaction) -> None:
            await self.admin(interaction, lambda: self._feeds_list(interaction))

        @feeds.command(name="add", description="Follow a feed (RSS or Atom URL)")
        @app_commands.describe(url="The feed's URL")
        async def feeds_add(interaction: discord.Interaction, url: str) -> None:
            await self.admin(interaction, lambda: self._feeds_change(interaction, url, add=True))

        @feeds.command(name="remove", description="Stop following a feed")
        @app_commands.describe(url="The feed's URL")
        async def feeds_remove(interaction: discord.Interaction, url: str) -> None:
            await self.admin(interaction, lambda: self._feeds_change(interaction, url, add=False))

        @feeds.command(name="resume", description="Fetch a paused feed again")
        @app_commands.describe(url="The feed's URL")
        async def feeds_resume(interaction: discord.Interaction, url: str) -> None:
            await self.admin(interaction, lambda: self._feeds_resume(interaction, url))

        @feeds.command(name="why", description="Where an article went, or why it did not appear")
        @app_commands.describe(url="The article's URL")
        async def feeds_why(interaction: discord.Interaction, url: str) -> None:
            await self.admin(interaction, lambda: self._why(interaction, url))

        self.tree.add_command(digest)
        self.tree.add_command(feeds)
        self.tree.error(self._on_tree_error)
        self.client.event(self.on_message)

    async def _on_tree_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        cause = getattr(error, "original", error)
        if isinstance(cause, StoreUnavailable):
            log.warning("Discord: a command met an unavailable database: %s", cause)
            await _reply(interaction, STORE_AWAY)
            return
        log.error("Discord: command failed", exc_info=error)
        await _reply(interaction, "Sorry, that failed. The error is in the bot's log.")

    async def admin(
        self,
        interaction: discord.Interaction,
        work: Callable[[], Awaitable[None]],
        *,
        public: bool = False,
    ) -> None:
        """Defer, check Manage Server again at run time, then do the work."""
        await interaction.response.defer(ephemeral=not public, thinking=True)
        if not interaction.permissions.manage_guild:
            await interaction.followup.send(ADMIN_ONLY, ephemeral=True)
            return
        await work()

    async def on_brief(self, interaction: discord.Interaction, topic: str) -> None:
        # Finding is quick and a miss is shown privately at once; the writing (the model)
        # may take longer than the 3 s Discord waits, so it runs after a deferral.
        async def defer() -> None:
            await interaction.response.defer(thinking=True)

        reply = await self._chat.brief(
            _FollowUps(self, interaction),
            _where(interaction),
            topic,
            event=str(interaction.id),
            found=defer,
        )
        await _tell(interaction, reply)

    async def on_ask(self, interaction: discord.Interaction, question: str) -> None:
        await interaction.response.defer(thinking=True)
        reply = await self._chat.ask(
            _FollowUps(self, interaction), _where(interaction), question, event=str(interaction.id)
        )
        await _tell(interaction, reply)

    async def _digest_now(self, interaction: discord.Interaction) -> None:
        reply = await self._chat.digest_now(
            _FollowUps(self, interaction), _where(interaction), event=str(interaction.id)
        )
        await _tell(interaction, reply)

    async def _schedule(
        self, interaction: discord.Interaction, time: str, timezone: str, topics: str
    ) -> None:
        result = await self._chat.schedule_digest(
            _here(interaction), time, timezone, parse_topics(topics)
        )
        await interaction.followup.send(_escape(result.text), ephemeral=True)

    async def _off(self, interaction: discord.Interaction) -> None:
        result = await self._chat.digest_off(_here(interaction))
        await interaction.followup.send(_escape(result.text), ephemeral=True)

    async def _feeds_list(self, interaction: discord.Interaction) -> None:
        await self._private(interaction, await self._chat.feeds(self.scope(interaction.guild_id)))

    async def _private(self, interaction: discord.Interaction, message: Message) -> None:
        """A message only the person who asked sees, after the deferral."""
        for part in render_embeds(message):
            await interaction.followup.send(
                content=part.content or discord.utils.MISSING,
                embeds=[discord.Embed.from_dict(e) for e in part.embeds],
                ephemeral=True,
            )

    async def _feeds_change(self, interaction: discord.Interaction, url: str, *, add: bool) -> None:
        here = _here(interaction)
        if add:
            change = await self._chat.add_feed(here, url, added_by=str(interaction.user.id))
        else:
            change = await self._chat.remove_feed(here, url)
        await _tell_change(interaction, change)

    async def _why(self, interaction: discord.Interaction, url: str) -> None:
        reply = await self._chat.why(_here(interaction), url)
        assert reply.message is not None
        await self._private(interaction, reply.message)

    async def _feeds_resume(self, interaction: discord.Interaction, url: str) -> None:
        await _tell_change(interaction, await self._chat.resume_feed(_here(interaction), url))

    # --- thread messages ---------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.guild is None:
            return  # ourselves, other bots, direct messages
        channel = message.channel
        if not isinstance(channel, discord.Thread):
            return
        mentioned = self._mentions_me(message)
        # Without the intent Discord empties what does not mention us; with it, empty
        # content is an image or a sticker, nothing to answer.
        unreadable = not self.client.intents.message_content and not mentioned
        if not unreadable and not message.content.strip():
            return
        answered = await self._chat.answer(
            self,
            Where(self.scope(message.guild.id), str(channel.parent_id), str(channel.id)),
            message=str(message.id),
            question=None if unreadable else self._question(message),
            replying_to=str(message.id),
        )
        if answered is Answer.QUIET:
            log.debug("Discord: message %s in thread %s: not for us", message.id, channel.id)
        elif answered is Answer.HOW_TO_ASK:
            await self._how_to_ask(channel, message)

    def _mentions_me(self, message: discord.Message) -> bool:
        me = self.client.user
        return me is not None and any(user.id == me.id for user in message.mentions)

    def _question(self, message: discord.Message) -> str:
        """The text with mentions as @names (clean_content), less the mention of the bot,
        which clean_content shows as its server nickname if it has one."""
        text = message.clean_content
        me = self.client.user
        if me is None:
            return text.strip()
        for user in message.mentions:
            if user.id == me.id:
                text = text.replace(f"@{user.display_name}", "")
        return re.sub(rf"<@!?{me.id}>", "", text).strip()  # left raw if not resolved

    async def _how_to_ask(self, channel: discord.Thread, message: discord.Message) -> None:
        """Say how to ask when we cannot read replies (the service says it once a thread)."""
        me = self.client.user
        text = HOW_TO_ASK.format(me=me.mention if me else "me")
        try:
            await _retry(
                lambda: channel.send(
                    text, allowed_mentions=NO_PINGS, reference=message, mention_author=False
                )
            )
        except discord.Forbidden:
            log.warning("Discord: cannot post in thread %s: missing permissions", channel.id)


SEND_BACKOFF = Backoff(first=0.5, cap=4.0)


async def _tell_change(interaction: discord.Interaction, change: FeedChange) -> None:
    """A feed change's outcome, to the admin who asked. The text is the core's, with the
    URL they typed in it: escaped (links kept clickable); the hint is ours, Markdown kept."""
    await interaction.followup.send(with_hint(_escape(change.text), change.hint), ephemeral=True)


async def _retry(action: Callable[[], Awaitable[T]]) -> T:
    """Retry a send that failed on Discord's side or the network; rate limits are
    discord.py's own business (it waits and retries 429s itself)."""
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            return await action()
        except (TimeoutError, discord.DiscordServerError, OSError) as exc:
            if attempt == SEND_ATTEMPTS:
                raise
            log.warning("Discord: send failed (%s); retry %d", exc, attempt)
            await asyncio.sleep(SEND_BACKOFF.delay(attempt))
    raise AssertionError("unreachable")


async def _send(
    channel: discord.abc.Messageable,
    part: DiscordMessage,
    *,
    reference: discord.Message | discord.PartialMessage | None = None,
    nonce: str | None = None,
) -> discord.Message:
    kwargs: dict[str, Any] = {
        "embeds": [discord.Embed.from_dict(e) for e in part.embeds],
        "allowed_mentions": NO_PINGS,
    }
    if nonce is not None:
        kwargs["nonce"] = nonce  # discord.py sends enforce_nonce with it
    if part.content:
        kwargs["content"] = part.content
    if reference is not None:
        kwargs["reference"] = reference
        kwargs["mention_author"] = False
    return await _retry(lambda: channel.send(**kwargs))


def _escape(text: str) -> str:
    """Core text that carries user or feed input: Markdown escaped, URLs left clickable."""
    return discord.utils.escape_markdown(text)


class _FollowUps:
    """The adapter posting a command's reply while the command waits: its messages go
    as the interaction's follow-ups, the thread step as the adapter takes it. Resumed
    after a restart (the interaction gone by then), the adapter posts the rest in the
    channel."""

    platform = PLATFORM

    def __init__(self, adapter: DiscordAdapter, interaction: discord.Interaction) -> None:
        self._adapter = adapter
        self._interaction = interaction

    def render_parts(
        self, message: Message, *, in_thread: bool, replying_to: str | None = None
    ) -> list[str]:
        return self._adapter.render_parts(message, in_thread=in_thread, replying_to=replying_to)

    async def send_part(self, delivery: Delivery, part: OutboxPart) -> SentPart:
        content = json.loads(part.payload)
        if "open_thread" in content:
            return await self._adapter.send_part(delivery, part)
        body = DiscordMessage(content["content"], content["embeds"])
        try:
            return SentPart(str((await _follow_up_part(self._interaction, body)).id))
        except discord.Forbidden as exc:
            raise PostRefused(CANNOT_POST) from exc

    async def find_part(self, delivery: Delivery, part: OutboxPart) -> SentPart | None:
        return await self._adapter.find_part(delivery, part)

    def serves(self, scope: Scope) -> bool:
        return self._adapter.serves(scope)


def _where(interaction: discord.Interaction) -> Where:
    """Where a command's reply is posted: its channel, or the thread it was used in."""
    scope = DiscordAdapter.scope(interaction.guild_id)
    channel = interaction.channel
    if isinstance(channel, discord.Thread):
        return Where(scope, str(channel.parent_id), str(channel.id))
    return Where(scope, str(interaction.channel_id))


def _here(interaction: discord.Interaction) -> Where:
    """The channel (or thread) a settings command was used in, as its settings' key."""
    return Where(DiscordAdapter.scope(interaction.guild_id), str(interaction.channel_id))


async def _tell(interaction: discord.Interaction, reply: Reply) -> None:
    """What only the person who asked is told, if anything."""
    if reply.message is not None:
        await _reply(interaction, plain_text(reply.message))
    if reply.text is not None:
        await _reply(interaction, with_hint(reply.text, reply.hint))


async def _reply(interaction: discord.Interaction, text: str) -> None:
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True)
    else:
        await interaction.response.send_message(text, ephemeral=True)


def _thread_name(message: Message) -> str:
    name = f"Questions: {message.title}"
    return name if len(name) <= THREAD_NAME_LIMIT else name[: THREAD_NAME_LIMIT - 1] + "…"


async def _follow_up_part(
    interaction: discord.Interaction, part: DiscordMessage
) -> discord.WebhookMessage:
    return await _retry(
        lambda: interaction.followup.send(
            content=part.content or discord.utils.MISSING,
            embeds=[discord.Embed.from_dict(e) for e in part.embeds],
            allowed_mentions=NO_PINGS,
            wait=True,
        )
    )


def shard_of(scope: Scope, shard_count: int) -> int:
    """The shard Discord sends `scope`'s events on."""
    if not scope.workspace.isdigit():
        return 0  # "dm"
    return (int(scope.workspace) >> 22) % shard_count


def part_nonce(key: str, index: int) -> str:
    """A part's nonce: Discord takes at most 25 characters, so a digest of the key."""
    return hashlib.sha256(f"{key}#{index}".encode()).hexdigest()[:25]


def _same_part(found: discord.Message, content: dict[str, Any]) -> bool:
    """Whether a message in the channel is this part: the same text and embeds."""
    if (found.content or "") != (content["content"] or ""):
        return False
    mine = [(e.get("title"), e.get("description")) for e in content["embeds"]]
    theirs = [(e.title, e.description) for e in found.embeds]
    return mine == theirs

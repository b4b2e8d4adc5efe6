"""The console adapter: the bot in a terminal, interactive or fed by a pipe.

The console is one local workspace with one channel; its "thread" is the last
digest or brief printed, so a plain line is a follow-up question about it. It posts
through the outbox as every platform does: a part is a printed message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TextIO

from bot.domain import CONSOLE_SCOPE, Hint, Message, Scope, StoreUnavailable, ThreadKind
from bot.services.chat import STORE_AWAY, Chat, Reply, Where
from bot.services.delivery import Delivery, OutboxPart, SentPart
from bot.services.render import hinted, worded

log = logging.getLogger(__name__)

CHANNEL = "console"
HERE = Where(CONSOLE_SCOPE, CHANNEL)
HELP = """Commands:
  /brief <topic>       a cited brief on a topic, e.g. /brief ukraine
  /digest              today's digest
  /feeds               the feeds read, with their health
  /feeds add <url>     follow another feed (URL or local file)
  /feeds remove <url>  stop following a feed
  /feeds resume <url>  fetch a paused feed again
  /why <url>           where an article went, or why it did not appear
  /ask <question>      a question about the last digest or brief (a plain line does too)
  /help                this list
  /quit                leave (end of input does too)
Anything else is a question about the last digest or brief."""


CONSOLE_HINTS: Mapping[Hint, str] = {
    Hint.BRIEF_USAGE: "Usage: /brief <topic>, e.g. /brief ukraine or /brief interest rates",
    Hint.TRY_BRIEF: "/brief <topic> shows what the sources do cover.",
    Hint.LIST_FEEDS: "/feeds lists the feeds read here and their health.",
    Hint.ASK_USAGE: "Type a question, or /ask <question>.",
    Hint.FIX_FEED: "/feeds resume <url> fetches it again; /feeds remove <url> stops following it.",
}


def with_hint(text: str, hint: Hint | None, hints: Mapping[Hint, str] = CONSOLE_HINTS) -> str:
    return hinted(text, hint, hints)


def render_text(message: Message, hints: Mapping[Hint, str] = CONSOLE_HINTS) -> str:
    """A Message as plain terminal text: numbered stories, bullets, cited sources.

    `hints` words the commands a message points to: the console's, or the CLI's.
    """
    lines = [f"== {message.title} =="]
    numbered = message.kind in (ThreadKind.DIGEST, ThreadKind.BRIEF) and message.found
    index = 0  # stories are numbered; a brief's overview above them is not
    for section in message.sections:
        lines.append("")
        if section.heading:
            index += 1
            refs = "".join(f"[{n}]" for n in section.citations)
            prefix = f"{index}. " if numbered else ""
            note = f" ({section.note})" if section.note else ""
            lines.append(f"{prefix}{section.heading}{note} {refs}".rstrip())
        for bullet in section.bullets:
            refs = "".join(f"[{n}]" for n in bullet.citations)
            lines.append(f"   - {bullet.text} {refs}".rstrip())
    if message.citations:
        lines += ["", "Sources:"]
        for citation in message.citations:
            lines.append(f"  [{citation.number}] {citation.outlets}: {citation.title}")
            lines.append(f"      {citation.url}")
    pointers = worded(message.hints, hints)
    if pointers:
        lines.append("")
        lines += pointers
    if message.notes:
        lines.append("")
        lines += [f"Note: {note}" for note in message.notes]
    return "\n".join(lines)


class ConsoleAdapter:
    """Reads commands from a text stream and prints replies; posts (digests, updates) too.

    Started, it follows the console's daily digest at `digest_time` in
    `timezone`, prints the day's digest, and reads lines until /quit or the end
    of input, then calls `on_quit`.
    """

    platform = CONSOLE_SCOPE.platform
    opens_with_digest = True

    def __init__(
        self,
        *,
        chat: Chat,
        digest_time: str = "08:00",
        timezone: str = "UTC",
        on_quit: Callable[[], None] = lambda: None,
        stdin: TextIO = sys.stdin,
        stdout: TextIO = sys.stdout,
        interactive: bool | None = None,
    ) -> None:
        self._chat = chat
        self._digest_time = digest_time
        self._timezone = timezone
        self._on_quit = on_quit
        self._reader: asyncio.Task[None] | None = None
        self._stdin = stdin
        self._stdout = stdout
        self._interactive = interactive  # None: a terminal or not, found out when reading
        self._printed = 0
        self.thread_key: str | None = None

    async def start(self) -> None:
        await self._chat.schedule_digest(HERE, self._digest_time, self._timezone)
        await self._digest("")
        self._reader = asyncio.create_task(self._read_until_quit())

    async def stop(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _read_until_quit(self) -> None:
        try:
            await self.run()
        finally:
            self._on_quit()

    def say(self, text: str = "") -> None:
        print(text, file=self._stdout, flush=True)

    # --- the outbox's parts: one printed message each ----------------------------------

    def render_parts(
        self, message: Message, *, in_thread: bool, replying_to: str | None = None
    ) -> list[str]:
        update = in_thread and message.kind == ThreadKind.UPDATE
        return [json.dumps({"text": render_text(message), "update": update})]

    async def send_part(self, delivery: Delivery, part: OutboxPart) -> SentPart:
        """Print a part; the first part of a digest or brief becomes the console's thread."""
        content = json.loads(part.payload)
        self.say()
        if content.get("update"):
            self.say(f"(in the thread of earlier post {delivery.thread_key})")
        self.say(content["text"])
        self._printed += 1
        key = f"console-{self._printed}"
        if delivery.opens_threads and part.index == 0:
            self.thread_key = key
            return SentPart(key, thread_key=key)
        return SentPart(key)

    async def find_part(self, delivery: Delivery, part: OutboxPart) -> SentPart | None:
        """Nothing printed can be looked up: a part cut off while printing is printed again."""
        return None

    def serves(self, scope: Scope) -> bool:
        return True

    def tell(self, reply: Reply) -> None:
        """Print what a command says besides what it posted."""
        if reply.message is not None:
            self.say()
            self.say(render_text(reply.message))
        if reply.text is not None:
            self.say(with_hint(reply.text, reply.hint))

    async def handle(self, line: str) -> bool:
        """Run one input line; False when the user asked to leave."""
        line = line.strip()
        if not line:
            return True
        command, _, rest = line.partition(" ") if line.startswith("/") else ("", "", line)
        rest = rest.strip()
        handlers: dict[str, Callable[[str], Awaitable[None]]] = {
            "/brief": self._brief,
            "/digest": self._digest,
            "/feeds": self._feeds_command,
            "/why": self._why,
            "/ask": self._ask,
            "": self._ask,
        }
        if command.lower() in ("/quit", "/exit", "/q"):
            return False
        if command.lower() in ("/help", "/?"):
            self.say(HELP)
            return True
        handler = handlers.get(command.lower())
        if handler is None:
            self.say(f"Unknown command {command}. {HELP}")
            return True
        try:
            await handler(rest)
        except StoreUnavailable as exc:
            log.warning("console command %r: %s", line, exc)
            self.say(STORE_AWAY)
        except Exception as exc:  # one bad command must not end the session
            log.exception("console command %r failed", line)
            self.say(f"Sorry, that failed: {exc.__class__.__name__}: {exc}")
        return True

    async def _brief(self, topic: str) -> None:
        if not topic:
            self.say("Usage: /brief <topic>, e.g. /brief ukraine")
            return
        self.tell(await self._chat.brief(self, HERE, topic, event=_event()))

    async def _digest(self, _: str) -> None:
        self.tell(await self._chat.digest_now(self, HERE, event=_event()))

    async def _ask(self, question: str) -> None:
        if not question:
            self.say("Usage: /ask <question>, or type the question on its own")
            return
        where = Where(CONSOLE_SCOPE, CHANNEL, self.thread_key)
        await self._chat.answer(self, where, message=_event(), question=question, ours_only=False)

    async def _why(self, url: str) -> None:
        if not url.strip():
            self.say("Usage: /why <article url>")
            return
        self.tell(await self._chat.why(HERE, url))

    async def _feeds_command(self, rest: str) -> None:
        action, _, url = rest.partition(" ")
        action = action.lower() or "list"
        if action == "list":
            self.say(render_text(await self._chat.feeds(CONSOLE_SCOPE)))
        elif action in ("add", "remove", "resume") and url.strip():
            if action == "add":
                change = await self._chat.add_feed(HERE, url, allow_local=True)
            elif action == "resume":
                change = await self._chat.resume_feed(HERE, url)
            else:
                change = await self._chat.remove_feed(HERE, url)
            self.say(with_hint(change.text, change.hint))
        else:
            self.say(
                "Usage: /feeds [list] | /feeds add <url> | /feeds remove <url> | "
                "/feeds resume <url>"
            )

    async def run(self) -> None:
        """Read lines until /quit or end of input."""
        if self._interactive is None:
            self._interactive = self._stdin.isatty()
        lines = _line_reader(self._stdin)
        while True:
            if self._interactive:
                print("> ", end="", file=self._stdout, flush=True)
            line = await lines.get()
            if line is None:
                if self._interactive:
                    self.say()
                return
            if not await self.handle(line):
                return


def _event() -> str:
    """A command's own id: unique across runs, as the outbox keeps its posts for good."""
    return uuid.uuid4().hex


def _line_reader(stream: TextIO) -> asyncio.Queue[str | None]:
    """Lines from a blocking stream, read on a daemon thread so exit never waits on it."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        try:
            for line in stream:
                loop.call_soon_threadsafe(queue.put_nowait, line)
        except (OSError, ValueError, RuntimeError):
            pass
        finally:
            with contextlib.suppress(RuntimeError):  # the loop closed first: nobody listens
                loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="console-stdin", daemon=True).start()
    return queue

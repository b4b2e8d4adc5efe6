"""`python -m bot ...`: run the bot, or do one thing and exit."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from pydantic import ValidationError

from bot import __version__
from bot.app import App, bootstrap, database_name, no_chat, serve
from bot.chat.console import CHANNEL, render_text, with_hint
from bot.config import ENV_FILE, Settings, bundled_sample_feeds, secret_value
from bot.domain import CONSOLE_SCOPE, FeedReport, Hint, StartupError, StoreInUse, StoreUnavailable
from bot.llm.capacity import model_server_problem
from bot.services.render import plural
from bot.services.typed import topic_problem, typed_topic
from bot.timeutil import utcnow

log = logging.getLogger(__name__)

STATS_DAYS = 7  # days of claim checks `stats` shows

# The one-shot commands' names for what a message points to.
CLI_HINTS = {
    Hint.BRIEF_USAGE: "Usage: python -m bot brief TOPIC, e.g. python -m bot brief ukraine",
    Hint.TRY_BRIEF: "`python -m bot brief TOPIC` shows what the sources do cover.",
    Hint.LIST_FEEDS: "`python -m bot feeds list` lists the feeds read and their health.",
    Hint.ASK_USAGE: 'Usage: python -m bot ask "QUESTION"',
    Hint.FIX_FEED: "`python -m bot feeds resume URL` fetches it again; "
    "`python -m bot feeds remove URL` stops following it.",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="newsbrief: cited news digests, briefs and answers.",
    )
    parser.add_argument("--version", action="version", version=f"newsbrief {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser("run", help="run the bot (console when no chat tokens are set)")
    sub.add_parser("ingest", help="fetch every feed now and report")
    digest = sub.add_parser("digest", help="print the digest of the last 24 hours")
    digest.add_argument("topics", nargs="*", help="only stories on these topics")
    brief = sub.add_parser("brief", help="print a cited brief on a topic")
    brief.add_argument("topic", nargs="+", help="e.g. ukraine, or interest rates")
    ask = sub.add_parser("ask", help="answer a question from the stored articles")
    ask.add_argument("question", nargs="+")
    sub.add_parser("stats", help="model calls, tokens, cache hits and failures")
    sub.add_parser("health", help="the database, feeds overdue and being polled, posts unfinished")
    why = sub.add_parser("why", help="trace one article's URL: where it went, or where it stopped")
    why.add_argument("url")
    feeds = sub.add_parser("feeds", help="list, add, remove or resume feeds")
    feeds_sub = feeds.add_subparsers(dest="action", metavar="ACTION", required=True)
    feeds_sub.add_parser("list", help="feeds with their health")
    add = feeds_sub.add_parser("add", help="follow a feed URL or file")
    add.add_argument("url")
    remove = feeds_sub.add_parser("remove", help="stop following a feed")
    remove.add_argument("url")
    resume = feeds_sub.add_parser("resume", help="fetch a paused feed again")
    resume.add_argument("url")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "brief":
        problem = topic_problem(typed_topic(" ".join(args.topic)))
        if problem is not None:
            parser.error(f"brief needs a topic, e.g. python -m bot brief ukraine. {problem}")
    if args.command == "ask" and not " ".join(args.question).strip():
        parser.error('ask needs a question, e.g. python -m bot ask "what happens next?"')
    try:
        settings = Settings()
    except ValidationError as exc:
        print("newsbrief: the settings are not valid:", file=sys.stderr)
        for error in exc.errors():
            where = f"{error['loc'][0]}: " if error["loc"] else ""  # a rule across settings
            print(f"  {where}{error['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        print("Fix them in the environment or .env (see .env.example).", file=sys.stderr)
        return 2
    # The console is a conversation and a one-shot command prints its result: both keep
    # the log to warnings; serving Slack or Discord, the operator reads INFO lines.
    serving = args.command == "run" and bool(settings.slack_bot_token or settings.discord_token)
    configure_logging(settings, quiet=not serving)
    try:
        return asyncio.run(_dispatch(args, settings))
    except KeyboardInterrupt:
        return 130


# Libraries whose INFO lines are chatter to an operator ("Added job", "Shard connected").
THIRD_PARTY = (
    "apscheduler",
    "discord",
    "slack_bolt",
    "slack_sdk",
    "aiohttp",
    "httpx",
    "httpcore",
    "openai",
    "asyncio",
    "trafilatura",
    "websockets",
)


def configure_logging(settings: Settings, *, quiet: bool) -> None:
    """Our own lines at NEWSBRIEF_LOG_LEVEL, libraries at WARNING; `quiet` (the console,
    a one-shot command) shows warnings only, whatever `.env` says, unless DEBUG is asked
    for. Serving Slack or Discord, the operator sees our start-up and health lines."""
    level = settings.log_level
    if quiet and level != "DEBUG":
        level = "WARNING"
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    for name in THIRD_PARTY:
        logging.getLogger(name).setLevel("DEBUG" if level == "DEBUG" else "WARNING")


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    try:
        app = await bootstrap(settings, chat=None if args.command == "run" else no_chat)
    except StartupError as exc:
        print(f"newsbrief: cannot start: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        log.debug("start-up failed", exc_info=True)
        print(f"newsbrief: cannot start: {exc}", file=sys.stderr)
        return 1
    try:
        if args.command == "run":
            return await _run(app)
        if args.command == "ingest":
            reports = await app.ingest.poll_all(force=True)
            print(_ingest_summary(reports))
            for report in reports:
                detail = report.error or f"{report.new_articles} new"
                print(f"  {report.status:<12} {report.url}  {detail}")
            return 0 if all(r.status != "error" for r in reports) else 1
        if args.command == "feeds":
            return await _feeds(app, args)
        if args.command == "stats":
            print(await _stats(app))
            return 0
        if args.command == "health":
            print(await _health(app))
            return 0
        if args.command == "why":
            print(render_text(await app.chat.trace.why(args.url), CLI_HINTS))
            return 0
        await app.ingest.poll_due()
        if args.command == "digest":
            message = await app.chat.digests.digest(CONSOLE_SCOPE, args.topics)
        elif args.command == "brief":
            message = await app.chat.briefs.brief(CONSOLE_SCOPE, " ".join(args.topic))
        else:
            message = await app.chat.asks.ask(CONSOLE_SCOPE, " ".join(args.question))
        print(render_text(message, CLI_HINTS))
        return 0
    except StoreUnavailable as exc:
        print(f"newsbrief: the database is unavailable: {exc}", file=sys.stderr)
        return 1
    finally:
        await app.close()


async def _feeds(app: App, args: argparse.Namespace) -> int:
    if args.action == "list":
        print(render_text(await app.chat.feeds.list(CONSOLE_SCOPE), CLI_HINTS))
        return 0
    if args.action == "add":
        change = await app.chat.feeds.add(
            CONSOLE_SCOPE, args.url, channel=CHANNEL, allow_local=True
        )
    elif args.action == "resume":
        change = await app.chat.feeds.resume(CONSOLE_SCOPE, args.url)
    else:
        change = await app.chat.feeds.remove(CONSOLE_SCOPE, args.url)
    print(with_hint(change.text, change.hint, CLI_HINTS))
    return 0 if change.ok else 1


async def _health(app: App) -> str:
    """For an operator or a platform's health check: it answers only if the database does
    (start-up fails with exit code 1 otherwise)."""
    now = utcnow()
    interval = timedelta(minutes=app.settings.poll_minutes)
    h = await app.store.health(now=now, overdue_before=now - interval)
    s = app.settings
    return "\n".join(
        [
            f"Database: {h.engine} at {_database(s)}, schema {h.schema_version}: reachable",
            f"Settings: {_settings_source()}",
            f"Feeds:    {h.feeds} polled, {h.feeds_overdue} overdue (more than "
            f"{s.poll_minutes} min past their poll time), {h.feeds_leased} being polled now",
            f"Posts:    {h.deliveries_pending} unfinished, {h.deliveries_leased} being posted now",
        ]
    )


async def _stats(app: App) -> str:
    report = await app.stats.report(STATS_DAYS)
    lines = [f"Summarizer: {app.summarizer.name}"]
    for label, s in (("today (UTC)", report.today), ("all time", report.all_time)):
        lines.append(
            f"  {label:<12} requests {s.requests} (ok {s.ok}, failed {s.errors}), "
            f"invalid replies {s.invalid}, fallbacks {s.fallbacks}, cache hits {s.cache_hits}, "
            f"tokens in {s.tokens_in:,}, out {s.tokens_out:,}"
        )
        for reason, count in s.fallback_reasons:
            lines.append(f"               {count} x fell back: {reason}")
    lines.append(f"Claims checked against their sources (NEWSBRIEF_VERIFY={app.settings.verify}):")
    if not report.claim_days:
        lines.append(f"  none in the last {STATS_DAYS} days")
    for day in report.claim_days:
        lines.append(
            f"  {day.day.isoformat()}   checked {day.checked}, re-cited {day.recited}, "
            f"dropped {day.dropped}, items quoted instead {day.fallbacks}"
        )
    budget = app.settings.llm_daily_tokens
    if app.settings.llm_enabled and budget:
        lines.append(f"  daily token budget: {report.tokens_today:,} of {budget:,} used")
    d = report.deliveries
    lines.append(
        f"Posts: {d.pending} unfinished (resumed automatically), {d.late} late, "
        f"{d.abandoned} given up"
    )
    return "\n".join(lines)


def _ingest_summary(reports: Sequence[FeedReport]) -> str:
    failed = sum(r.status == "error" for r in reports)
    new = sum(r.new_articles for r in reports)
    text = f"Fetched {plural(len(reports), 'feed', 'feeds')}: "
    text += plural(new, "new article", "new articles")
    return text + (f", {failed} failed (see `feeds list`)" if failed else "")


def banner(app: App) -> str:
    """What runs and what is a default, and which setting switches on what is off."""
    s = app.settings
    chat = [a.platform.capitalize() for a in app.adapters if a.platform != CONSOLE_SCOPE.platform]
    mode = "console mode" if not chat else "serving " + " and ".join(chat)
    lines = [f"newsbrief {__version__} — {mode}"]
    switches = {"Slack": "SLACK_BOT_TOKEN", "Discord": "DISCORD_TOKEN"}
    off = [
        f"{name} is switched on by {token}" for name, token in switches.items() if name not in chat
    ]
    if chat:
        lines.append(f"  Chat:       {', '.join(chat)}")
        if off:
            lines.append(f"              {'; '.join(off)}")
    else:
        lines.append(f"  Chat:       console (this terminal); {', '.join(off)}")
    lines.append(f"  Summarizer: {app.summarizer.name}")
    if not s.llm_enabled:
        lines.append("              an LLM is switched on by OPENAI_API_KEY or OPENAI_BASE_URL")
    if s.embeddings_model:
        lines.append(f"  Stories:    grouped by words and {s.embeddings_model} embeddings")
    lines.append(f"  Feeds:      {plural(len(s.feeds), 'feed', 'feeds')} from {_feeds_source(s)}")
    lines.append(f"  Database:   {_database(s)}")
    lines.append(f"  Settings:   {_settings_source()}")
    if not chat:
        lines.append("Type /help for commands.")
    return "\n".join(lines)


def _feeds_source(s: Settings) -> str:
    """Where the default feeds came from, as the operator would look for it."""
    if s.feeds != bundled_sample_feeds():
        return "NEWSBRIEF_FEEDS"
    if "feeds" in s.model_fields_set:
        return "the bundled sample feeds (NEWSBRIEF_FEEDS is empty)"
    return "the bundled sample feeds (NEWSBRIEF_FEEDS is not set)"


def _database(s: Settings) -> str:
    """The database in full: a file's absolute path (a relative NEWSBRIEF_DB is read from
    the working directory), or a server's URL without its password."""
    if s.database_url:
        return database_name(s.database_url.get_secret_value())
    return str(s.db_path.absolute())


def _settings_source() -> str:
    """Which .env was read: it is looked for in the working directory only."""
    env_file = Path(ENV_FILE).absolute()
    if env_file.is_file():
        return f"the environment and {env_file}"
    return f"the environment only (no {ENV_FILE} in {env_file.parent})"


async def _run(app: App) -> int:
    """Serve the chat adapters (the console when no tokens are set) until stopped."""
    console = any(a.platform == CONSOLE_SCOPE.platform for a in app.adapters)
    try:
        await app.store.claim_serving()
    except StoreInUse as exc:
        print(f"newsbrief: cannot start: {exc}", file=sys.stderr)
        return 1
    print(banner(app), flush=True)
    warnings = list(app.warnings)
    if app.settings.llm_enabled:
        problem = await model_server_problem(
            app.settings.openai_base_url, secret_value(app.settings.openai_api_key)
        )
        warnings += [problem] if problem else []
    for warning in warnings:
        print(f"Warning: {warning}", flush=True)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, app.stop)
    try:
        await serve(app, on_ingest=_print_ingest if console else None)
    except StartupError as exc:
        print(f"newsbrief: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


def _print_ingest(reports: Sequence[FeedReport]) -> None:
    print(_ingest_summary(reports), flush=True)
    for report in reports:
        if report.status == "error":
            print(f"  {report.url}: {report.error}", flush=True)

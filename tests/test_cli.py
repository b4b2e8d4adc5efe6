"""The two ways a user meets the bot first: `python -m bot run` and the one-shot commands."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app import bootstrap
from bot.cli import banner, main
from bot.config import Settings
from tests.helpers import REPO, bot_env, until


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return bot_env(**{"NEWSBRIEF_DB": str(tmp_path / "cli.db"), **extra})


def _run(
    tmp_path: Path, *args: str, stdin: str = "", **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(tmp_path, **extra),
        timeout=120,
    )


def test_piped_console_session_briefs_and_answers_end_to_end(tmp_path: Path) -> None:
    """`printf '/brief ukraine\\nwhat happens next?\\n/quit\\n' | python -m bot run` works."""
    result = _run(tmp_path, "run", stdin="/brief ukraine\nwhat happens next?\n/quit\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "console mode" in out and "offline extractive summarizer" in out
    assert "DISCORD_TOKEN" in out and "SLACK_BOT_TOKEN" in out and "OPENAI_API_KEY" in out
    assert "Fetched 4 feeds: 36 new articles" in out
    digest, _, rest = out.partition("== Brief: ukraine")
    assert "== Daily digest" in digest
    brief, _, answer = rest.partition("== From the sources ==")
    assert "[1]" in brief and "https://" in brief
    assert "envoy is expected to travel to Kyiv" in answer
    assert "Extractive summary" in answer
    assert "Traceback" not in result.stderr


def test_console_exits_at_end_of_input_and_survives_bad_lines(tmp_path: Path) -> None:
    """Unknown commands and empty arguments get usage help; end of input ends the session."""
    result = _run(tmp_path, "run", stdin="/nonsense\n/brief\n/feeds add\n\n/feeds\n")
    assert result.returncode == 0, result.stderr
    assert "Unknown command /nonsense" in result.stdout
    assert "Usage: /brief <topic>" in result.stdout
    assert "Usage: /feeds" in result.stdout
    assert "Feeds (4)" in result.stdout


def test_one_shot_brief_and_ask_work_on_a_fresh_database(tmp_path: Path) -> None:
    """`brief` and `ask` ingest what is due first, so they work on a fresh clone."""
    brief = _run(tmp_path, "brief", "interest", "rates")
    assert brief.returncode == 0, brief.stderr
    assert "Continental Reserve Bank" in brief.stdout
    ask = _run(tmp_path, "ask", "How did the board vote on the rate reduction?")
    assert ask.returncode == 0, ask.stderr
    assert "6-3" in ask.stdout and "[1]" in ask.stdout


def test_one_shot_ingest_reports_per_feed_and_adds_nothing_twice(tmp_path: Path) -> None:
    """`ingest` lists each feed; a second run finds nothing new."""
    first = _run(tmp_path, "ingest")
    assert first.returncode == 0, first.stderr
    assert "36 new articles" in first.stdout
    second = _run(tmp_path, "ingest")
    assert "0 new articles" in second.stdout
    assert "not-modified" in second.stdout


def test_feeds_add_and_remove_a_local_file(tmp_path: Path) -> None:
    """`feeds add` follows a feed and fetches it at once; `feeds remove` stops following it."""
    feed = tmp_path / "extra.xml"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Extra</title>'
        "<item><title>Zeppelin racing returns</title><link>https://extra.example/z</link>"
        "<description>Airships race over the lake again.</description></item>"
        "</channel></rss>",
        encoding="utf-8",
    )
    added = _run(tmp_path, "feeds", "add", str(feed))
    assert added.returncode == 0, added.stderr
    assert "1 new articles" in added.stdout or "1 new article" in added.stdout
    listed = _run(tmp_path, "feeds", "list")
    assert "Extra" in listed.stdout and "Feeds (5)" in listed.stdout
    removed = _run(tmp_path, "feeds", "remove", str(feed))
    assert removed.returncode == 0 and "Removed" in removed.stdout
    missing = _run(tmp_path, "feeds", "remove", "https://nowhere.example/feed")
    assert missing.returncode == 1 and "not a followed feed" in missing.stdout


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["brief"],
        ["brief", ""],
        ["brief", "  ", " "],
        ["brief", '"'],
        ["brief", "*", "NEAR("],
        ["brief", "x" * 10_000],
        ["feeds"],
        ["feeds", "add"],
        ["ask"],
        ["ask", ""],
        ["feeds", "purge"],
    ],
)
def test_bad_arguments_print_usage_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad arguments get a usage message and exit code 2, never a traceback."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_invalid_settings_are_reported_by_name(tmp_path: Path) -> None:
    """A bad setting value names the setting and exits 2 without a traceback."""
    result = _run(
        tmp_path, "feeds", "list", NEWSBRIEF_DIGEST_TIME="25:99", NEWSBRIEF_TIMEZONE="Mars/Olympus"
    )
    assert result.returncode == 2
    assert "NEWSBRIEF_DIGEST_TIME" in result.stderr and "NEWSBRIEF_TIMEZONE" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_topic_too_long_is_refused_without_being_echoed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A 10,000-character topic exits 2 saying its length, not repeating it."""
    with pytest.raises(SystemExit):
        main(["brief", "x" * 10_000])
    err = capsys.readouterr().err
    assert "10,000 characters" in err and "x" * 300 not in err


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OPENAI_BASE_URL", "not-a-url"),
        ("OPENAI_BASE_URL", "ftp://llm.example/v1"),
        ("SLACK_API_URL", "slack.com/api"),
        ("DISCORD_API_URL", "http://:80/"),
        ("NEWSBRIEF_DATABASE_URL", "mysql://db.example/news"),
    ],
)
def test_a_url_setting_that_is_not_a_url_exits_2_naming_it(
    tmp_path: Path, name: str, value: str
) -> None:
    """Every URL setting must parse as one: exit 2 naming the setting, no traceback."""
    result = _run(tmp_path, "health", **{name: value})
    assert result.returncode == 2
    assert name in result.stderr and "Traceback" not in result.stderr


async def test_a_second_run_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    """SQLite is for one process: a second `run` on the file exits 1 naming the file."""
    first = await asyncio.create_subprocess_exec(  # the console, its input kept open
        sys.executable, "-m", "bot", "run", cwd=tmp_path, env=_env(tmp_path),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        lock = tmp_path / "cli.db.lock"
        await until(lambda: lock.exists() and lock.read_text().isdigit(), "the first bot serving")
        second = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=tmp_path, env=_env(tmp_path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode == 1
        assert f"pid {first.pid}" in err.decode() and str(tmp_path / "cli.db") in err.decode()
        assert "PostgreSQL" in err.decode() and "Traceback" not in err.decode()
        assert first.returncode is None  # the first serves on
    finally:
        await first.communicate(b"/quit\n")


def test_unusable_default_feed_is_reported_not_fatal(tmp_path: Path) -> None:
    """A NEWSBRIEF_FEEDS entry that is not a URL or file is skipped with a warning."""
    sample = str(REPO / "bot" / "samples" / "civic_signal.xml")
    result = _run(
        tmp_path, "run", stdin="/quit\n", NEWSBRIEF_FEEDS=f"{sample},gopher://old,/no/such.xml"
    )
    assert result.returncode == 0, result.stderr
    assert "gopher://old" in result.stdout and "/no/such.xml" in result.stdout
    assert "Fetched 1 feed: 9 new articles" in result.stdout


@pytest.mark.parametrize("command", [["brief", "ukraine"], ["run"]])
@pytest.mark.parametrize("db", ["a-folder", "a-file/newsbrief.db"])
def test_unusable_database_path_is_named_and_exits_1(
    tmp_path: Path, db: str, command: list[str]
) -> None:
    """NEWSBRIEF_DB that is a folder, or inside a file, is named in a one-line error, exit 1."""
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    result = _run(tmp_path, *command, stdin="/quit\n", NEWSBRIEF_DB=db)
    assert result.returncode == 1, result.stdout
    assert f"NEWSBRIEF_DB={db}" in result.stderr
    assert "Traceback" not in result.stderr and "Event loop is closed" not in result.stderr


def test_console_with_the_example_env_file_shows_no_log_lines(tmp_path: Path) -> None:
    """`cp .env.example .env` sets INFO, yet the console conversation shows no log noise."""
    (tmp_path / ".env").write_text(
        (REPO / ".env.example").read_text(encoding="utf-8"), encoding="utf-8"
    )
    result = _run(tmp_path, "run", stdin="/brief ukraine\nwhat happens next?\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "== Brief: ukraine" in result.stdout
    for noise in (" INFO ", "apscheduler", "Added job", "Scheduler started"):
        assert noise not in result.stdout and noise not in result.stderr


def test_one_shot_hints_name_the_cli_commands(tmp_path: Path) -> None:
    """A brief with no match points to `python -m bot feeds list`, not a chat command."""
    result = _run(tmp_path, "brief", "zeppelin", "regatta")
    assert result.returncode == 0, result.stderr
    assert "python -m bot feeds list" in result.stdout
    assert "`/feeds`" not in result.stdout


@pytest.mark.parametrize("llm", [False, True], ids=["offline", "llm"])
@pytest.mark.parametrize(
    "chat", [[], ["Slack"], ["Discord"], ["Slack", "Discord"]], ids=["console", "s", "d", "sd"]
)
async def test_banner_says_what_runs_and_what_switches_on_the_rest(
    tmp_path: Path, chat: list[str], llm: bool
) -> None:
    """The banner names the platforms served and the summarizer, and how to turn on the rest."""
    tokens = {
        "Slack": {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"},
        "Discord": {"DISCORD_TOKEN": "d-1"},
    }
    values: dict[str, object] = {"NEWSBRIEF_DB": tmp_path / "b.db"}
    for name in chat:
        values.update(tokens[name])
    if llm:
        values["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"
    app = await bootstrap(Settings(**values))  # type: ignore[arg-type]
    try:
        text = banner(app)
    finally:
        await app.close()
    first = text.splitlines()[0]
    if chat:
        assert first.endswith("serving " + " and ".join(chat))
    else:
        assert first.endswith("console mode") and "Type /help" in text
    assert "no Discord adapter" not in text and "yet" not in text
    for name, token in (("Slack", "SLACK_BOT_TOKEN"), ("Discord", "DISCORD_TOKEN")):
        assert (f"{name} is switched on by {token}" in text) is (name not in chat)
    if llm:
        assert "Summarizer: LLM (gpt-4.1-mini at http://127.0.0.1:9/v1" in text
        assert "OPENAI_API_KEY" not in text
    else:
        assert "offline extractive summarizer" in text
        assert "an LLM is switched on by OPENAI_API_KEY or OPENAI_BASE_URL" in text
    assert f"Database:   {tmp_path / 'b.db'}" in text
    assert "Feeds:      4 feeds from the bundled sample feeds (NEWSBRIEF_FEEDS is not set)" in text


async def test_banner_says_an_empty_feeds_setting_means_the_samples(tmp_path: Path) -> None:
    """NEWSBRIEF_FEEDS= (as .env.example has it) is not "4 feeds from NEWSBRIEF_FEEDS"."""
    app = await bootstrap(Settings(NEWSBRIEF_DB=tmp_path / "b.db", NEWSBRIEF_FEEDS=""))
    try:
        text = banner(app)
    finally:
        await app.close()
    assert "from the bundled sample feeds (NEWSBRIEF_FEEDS is empty)" in text


def test_ingest_fetches_every_feed_even_those_backing_off(tmp_path: Path) -> None:
    """`python -m bot ingest` run twice fetches the failing feed both times."""
    broken = tmp_path / "broken.xml"
    broken.write_text("this is not a feed", encoding="utf-8")
    sample = str(REPO / "bot" / "samples" / "civic_signal.xml")
    feeds = f"{sample},{broken}"
    for _ in range(2):
        result = _run(tmp_path, "ingest", NEWSBRIEF_FEEDS=feeds)
        assert result.returncode == 1
        assert "Fetched 2 feeds" in result.stdout and "1 failed" in result.stdout


def test_health_reports_the_database_feeds_and_posts(tmp_path: Path) -> None:
    """`health` answers when the database does: its engine, feeds, posts; exit code 0."""
    result = _run(tmp_path, "health")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    database = f"Database: sqlite at {tmp_path / 'cli.db'}, schema "  # the full path
    assert lines[0].startswith(database) and lines[0].endswith("reachable")
    assert lines[1] == f"Settings: the environment only (no .env in {tmp_path})"
    assert lines[2].startswith("Feeds:    4 polled, 0 overdue")
    assert lines[3] == "Posts:    0 unfinished, 0 being posted now"
    assert result.stderr == ""  # a one-shot prints its result, not INFO lines


def test_one_shots_elsewhere_name_the_database_and_env_they_read(tmp_path: Path) -> None:
    """From another directory with a relative NEWSBRIEF_DB: the full path says which."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".env").write_text("NEWSBRIEF_FEEDS=\n")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "health"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=bot_env(NEWSBRIEF_DB="news.db"),
        timeout=120,
    )
    assert f"sqlite at {elsewhere / 'news.db'}" in result.stdout
    assert f"Settings: the environment and {elsewhere / '.env'}" in result.stdout


def test_health_fails_when_the_database_cannot_be_reached(tmp_path: Path) -> None:
    """An unreachable PostgreSQL: exit code 1 and the setting named, not the password."""
    url = "postgresql://bot:hunter2@127.0.0.1:1/newsbrief"
    result = _run(tmp_path, "health", NEWSBRIEF_DATABASE_URL=url)
    assert result.returncode == 1
    assert "NEWSBRIEF_DATABASE_URL (postgresql://bot@127.0.0.1:1/newsbrief)" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_feeds_resume_fetches_a_paused_feed_again(tmp_path: Path) -> None:
    """`feeds resume` on a paused feed fetches it at once; on one not paused, exit 1."""
    sample = str(REPO / "bot" / "samples" / "civic_signal.xml")
    assert _run(tmp_path, "feeds", "list", NEWSBRIEF_FEEDS=sample).returncode == 0
    result = _run(tmp_path, "feeds", "resume", sample, NEWSBRIEF_FEEDS=sample)
    assert result.returncode == 1 and "is not paused" in result.stdout
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        conn.execute("UPDATE feeds SET paused = 'not-a-feed', failing_since = created_at")
    listed = _run(tmp_path, "feeds", "list", NEWSBRIEF_FEEDS=sample).stdout
    assert "paused (not-a-feed)" in listed and "feeds resume URL" in listed
    result = _run(tmp_path, "feeds", "resume", sample, NEWSBRIEF_FEEDS=sample)
    assert result.returncode == 0 and result.stdout.startswith(f"Resumed {sample}")

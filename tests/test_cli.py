"""The two ways a user meets the bot first: `python -m bot run` and the one-shot commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.helpers import REPO, bot_env


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return bot_env(NEWSBRIEF_DB=str(tmp_path / "cli.db"), **extra)


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
    [[], ["frobnicate"], ["brief"], ["feeds"], ["feeds", "add"], ["ask"], ["feeds", "purge"]],
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


def test_unusable_default_feed_is_reported_not_fatal(tmp_path: Path) -> None:
    """A NEWSBRIEF_FEEDS entry that is not a URL or file is skipped with a warning."""
    sample = str(REPO / "bot" / "samples" / "civic_signal.xml")
    result = _run(
        tmp_path, "run", stdin="/quit\n", NEWSBRIEF_FEEDS=f"{sample},gopher://old,/no/such.xml"
    )
    assert result.returncode == 0, result.stderr
    assert "gopher://old" in result.stdout and "/no/such.xml" in result.stdout
    assert "Fetched 1 feed: 9 new articles" in result.stdout

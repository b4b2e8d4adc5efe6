from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import Settings, bundled_sample_feeds

REPO = Path(__file__).resolve().parents[1]


def test_defaults_run_offline_on_the_bundled_samples() -> None:
    """With nothing set: the sample feeds, private URLs refused, no tokens."""
    settings = Settings()
    assert settings.feeds == bundled_sample_feeds()
    assert len(settings.feeds) >= 3
    assert not settings.allow_private_urls
    assert settings.discord_token is None and settings.openai_api_key is None


def test_feeds_are_comma_separated_and_blank_means_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    """NEWSBRIEF_FEEDS splits on commas; an empty value falls back to the samples."""
    monkeypatch.setenv("NEWSBRIEF_FEEDS", " https://a.example/f , /tmp/x.xml ,")
    assert Settings().feeds == ["https://a.example/f", "/tmp/x.xml"]
    monkeypatch.setenv("NEWSBRIEF_FEEDS", "")
    assert Settings().feeds == bundled_sample_feeds()


def test_tokens_are_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokens never show in a repr or log line."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    assert "sk-very-secret" not in repr(Settings())


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NEWSBRIEF_DIGEST_TIME", "8am"),
        ("NEWSBRIEF_TIMEZONE", "Kyiv"),
        ("NEWSBRIEF_POLL_MINUTES", "0"),
        ("NEWSBRIEF_LOG_LEVEL", "loud"),
    ],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    """Malformed times, unknown time zones and out-of-range numbers are errors."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name):
        Settings()


def test_slack_without_a_way_to_connect_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Slack bot token alone is refused, naming the two settings that would complete it."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    with pytest.raises(ValidationError, match=r"SLACK_APP_TOKEN .* or SLACK_SIGNING_SECRET"):
        Settings()
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    assert Settings().slack_signing_secret is not None


def test_discord_shards_are_comma_separated_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """DISCORD_SHARD_IDS splits on commas, needs the count, and each id is below it, once."""
    monkeypatch.setenv("DISCORD_SHARD_COUNT", "4")
    monkeypatch.setenv("DISCORD_SHARD_IDS", " 1, 3 ")
    settings = Settings()
    assert (settings.discord_shard_count, settings.discord_shard_ids) == (4, [1, 3])
    monkeypatch.setenv("DISCORD_SHARD_IDS", "")
    assert Settings().discord_shard_ids is None  # all four in this process
    monkeypatch.setenv("DISCORD_SHARD_IDS", "2,4")
    with pytest.raises(ValidationError, match=r"\[4\] out of range: shards are numbered 0 to 3"):
        Settings()
    monkeypatch.setenv("DISCORD_SHARD_IDS", "1,1")
    with pytest.raises(ValidationError, match="lists a shard twice"):
        Settings()
    monkeypatch.setenv("DISCORD_SHARD_COUNT", "")
    monkeypatch.setenv("DISCORD_SHARD_IDS", "0")
    with pytest.raises(ValidationError, match="needs DISCORD_SHARD_COUNT"):
        Settings()


def test_every_setting_is_in_env_example_with_a_comment() -> None:
    """.env.example lists every setting the code reads, each after a comment line."""
    example = (REPO / ".env.example").read_text(encoding="utf-8").splitlines()
    names = {f.alias for f in Settings.model_fields.values() if f.alias}
    for name in names:
        index = next(i for i, line in enumerate(example) if re.match(rf"#?\s*{name}=", line))
        assert example[index - 1].startswith("#"), name


def test_blank_prompts_dir_means_the_shipped_prompts(monkeypatch: pytest.MonkeyPatch) -> None:
    """NEWSBRIEF_PROMPTS_DIR= (as in .env.example) is the bundled prompts, found from anywhere."""
    monkeypatch.setenv("NEWSBRIEF_PROMPTS_DIR", "")
    prompts = Settings().prompts_dir
    assert prompts.is_absolute()
    assert {p.name for p in prompts.glob("*.md")} >= {"system.md", "article_digest.md"}


def test_http_mode_listens_on_port_unless_slack_port_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PORT (a Procfile platform's) is the HTTP port when SLACK_PORT is not set."""
    assert Settings().slack_port == 3000
    monkeypatch.setenv("PORT", "5005")
    assert Settings().slack_port == 5005
    monkeypatch.setenv("SLACK_PORT", "7000")
    assert Settings().slack_port == 7000


@pytest.mark.parametrize(
    ("bot", "app", "fragment"),
    [
        ("xapp-1-A1-1-x", None, "SLACK_BOT_TOKEN"),
        ("xoxp-user-token", None, "SLACK_BOT_TOKEN"),
        ("xoxb-1-x", "xoxb-2-y", "SLACK_APP_TOKEN"),
    ],
)
def test_slack_tokens_in_the_wrong_place_are_refused(
    monkeypatch: pytest.MonkeyPatch, bot: str, app: str | None, fragment: str
) -> None:
    """A token of the wrong kind for its setting is refused, naming the setting."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", bot)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    if app:
        monkeypatch.setenv("SLACK_APP_TOKEN", app)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert fragment in str(caught.value)


def test_a_platforms_database_url_is_used_when_ours_is_not_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DATABASE_URL (Heroku's postgres://) is the database unless NEWSBRIEF_DATABASE_URL."""
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.example:5432/news")
    url = Settings().database_url
    assert url is not None and url.get_secret_value() == "postgres://u:p@db.example:5432/news"
    monkeypatch.setenv("NEWSBRIEF_DATABASE_URL", "postgresql://db.example/ours")
    url = Settings().database_url
    assert url is not None and url.get_secret_value() == "postgresql://db.example/ours"

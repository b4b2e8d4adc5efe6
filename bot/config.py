"""Every setting the bot reads, from the environment and `.env`.

One place, so `.env.example`, the README and the start-up banner can all be
checked against it. Tokens are `SecretStr` so they never reach a log line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.llm.modes import OutputMode
from bot.llm.prompts import DEFAULT_PROMPTS_DIR
from bot.services.story_index import MEANING_BASE
from bot.services.verify import VerifyMode
from bot.timeutil import check_timezone, parse_hhmm

SAMPLES_DIR = Path(__file__).parent / "samples"
# Read from the working directory, as pydantic-settings does; the banner says which.
ENV_FILE = ".env"


def bundled_sample_feeds() -> list[str]:
    """The sample corpus shipped in the package, so the bot runs with no network."""
    return [str(p) for p in sorted(SAMPLES_DIR.glob("*.xml"))]


def secret_value(value: SecretStr | None) -> str | None:
    """An optional token's text, for the one place that hands it to a client."""
    return value.get_secret_value() if value else None


def http_url(value: str) -> str:
    """`value` as an http(s) URL with a host, or ValueError saying what is wrong."""
    value = value.strip()
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise ValueError(f"is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise ValueError(f"must be an http:// or https:// URL with a host, not {shown!r}")
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # --- storage and feeds ---------------------------------------------------------
    db_path: Path = Field(Path("newsbrief.db"), alias="NEWSBRIEF_DB")
    # postgresql://user:password@host:5432/db: several bot processes on one database.
    database_url: SecretStr | None = Field(None, alias="NEWSBRIEF_DATABASE_URL")
    # The database a Procfile platform (Heroku and the like) attaches: used when
    # NEWSBRIEF_DATABASE_URL is not set.
    platform_database_url: SecretStr | None = Field(None, alias="DATABASE_URL")
    feeds: Annotated[list[str], NoDecode] = Field(
        default_factory=bundled_sample_feeds, alias="NEWSBRIEF_FEEDS"
    )
    allow_private_urls: bool = Field(False, alias="NEWSBRIEF_ALLOW_PRIVATE_URLS")
    poll_minutes: int = Field(30, ge=1, le=24 * 60, alias="NEWSBRIEF_POLL_MINUTES")
    fetch_timeout_seconds: float = Field(20.0, gt=0, le=300, alias="NEWSBRIEF_FETCH_TIMEOUT")
    max_feed_bytes: int = Field(5_000_000, ge=10_000, alias="NEWSBRIEF_MAX_FEED_BYTES")
    max_redirects: int = Field(5, ge=0, le=20, alias="NEWSBRIEF_MAX_REDIRECTS")
    per_host_concurrency: int = Field(4, ge=1, le=32, alias="NEWSBRIEF_PER_HOST_CONCURRENCY")
    ingest_concurrency: int = Field(16, ge=1, le=256, alias="NEWSBRIEF_INGEST_CONCURRENCY")
    # Worker processes that parse feeds and fingerprint entries; None: one per core beyond
    # the first (at most 4); 0: a thread in the bot's own process.
    cpu_workers: int | None = Field(None, ge=0, le=32, alias="NEWSBRIEF_CPU_WORKERS")
    fetch_full_text: bool = Field(True, alias="NEWSBRIEF_FETCH_FULL_TEXT")
    max_backoff_hours: float = Field(24.0, gt=0, alias="NEWSBRIEF_MAX_BACKOFF_HOURS")
    # A feed failing this long is reported to the channels that follow it (once, and once
    # more when it works again); failing this many days, it is paused until resumed.
    feed_down_hours: float = Field(24.0, gt=0, alias="NEWSBRIEF_FEED_DOWN_HOURS")
    feed_pause_days: float = Field(7.0, gt=0, alias="NEWSBRIEF_FEED_PAUSE_DAYS")

    # --- digests and briefs ------------------------------------------------------------
    digest_time: str = Field("08:00", alias="NEWSBRIEF_DIGEST_TIME")
    timezone: str = Field("UTC", alias="NEWSBRIEF_TIMEZONE")
    digest_max_stories: int = Field(8, ge=1, le=40, alias="NEWSBRIEF_DIGEST_MAX_STORIES")
    digest_grace_minutes: int = Field(180, ge=0, alias="NEWSBRIEF_DIGEST_GRACE_MINUTES")
    brief_days: int = Field(7, ge=1, le=365, alias="NEWSBRIEF_BRIEF_DAYS")
    brief_max_stories: int = Field(5, ge=1, le=20, alias="NEWSBRIEF_BRIEF_MAX_STORIES")
    log_level: str = Field("INFO", alias="NEWSBRIEF_LOG_LEVEL")
    # Tries to reach Slack or Discord at start-up (1, 2, 4, 8, 10 s apart) before giving up.
    start_tries: int = Field(6, ge=1, le=100, alias="NEWSBRIEF_START_TRIES")

    # --- LLM: on when OPENAI_API_KEY or OPENAI_BASE_URL is set ---------------------------
    openai_api_key: SecretStr | None = Field(None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, alias="OPENAI_BASE_URL")
    openai_model: str = Field("gpt-4.1-mini", min_length=1, alias="OPENAI_MODEL")
    llm_timeout_seconds: float = Field(60.0, gt=0, le=600, alias="NEWSBRIEF_LLM_TIMEOUT")
    llm_daily_tokens: int = Field(500_000, ge=0, alias="NEWSBRIEF_LLM_DAILY_TOKENS")
    llm_max_retries: int = Field(2, ge=0, le=10, alias="NEWSBRIEF_LLM_MAX_RETRIES")
    llm_output: OutputMode = Field(OutputMode.AUTO, alias="NEWSBRIEF_LLM_OUTPUT")
    llm_concurrency: int | None = Field(None, ge=1, le=64, alias="NEWSBRIEF_LLM_CONCURRENCY")
    llm_context_tokens: int | None = Field(
        None, ge=512, le=2_000_000, alias="NEWSBRIEF_LLM_CONTEXT_TOKENS"
    )
    prompts_dir: Path = Field(DEFAULT_PROMPTS_DIR, alias="NEWSBRIEF_PROMPTS_DIR")
    verify: VerifyMode = Field(VerifyMode.STRICT, alias="NEWSBRIEF_VERIFY")

    # --- Embeddings: stories grouped by meaning as well as words, when a model is named ----
    embeddings_model: str | None = Field(None, alias="NEWSBRIEF_EMBEDDINGS_MODEL")
    # Its OpenAI-compatible server; empty: OPENAI_BASE_URL (or api.openai.com).
    embeddings_url: str | None = Field(None, alias="NEWSBRIEF_EMBEDDINGS_URL")
    # The model's cosine at which two reports are as likely one event as two: 0.66 for
    # all-MiniLM-L6-v2; measure another model's with bench/bench_stories.py --embeddings.
    embeddings_same_event: float = Field(
        MEANING_BASE, gt=0, lt=1, alias="NEWSBRIEF_EMBEDDINGS_SAME_EVENT"
    )

    # /healthz and /metrics on a server of their own (Slack's HTTP mode serves them too).
    metrics_host: str = Field("127.0.0.1", alias="NEWSBRIEF_METRICS_HOST")
    metrics_port: int | None = Field(None, ge=0, le=65535, alias="NEWSBRIEF_METRICS_PORT")
    # The status page (/status on the same server) is off unless this is set; a request
    # must carry it (?token= or Authorization: Bearer).
    status_token: SecretStr | None = Field(None, alias="NEWSBRIEF_STATUS_TOKEN")

    # --- Slack: on when SLACK_BOT_TOKEN is set ---------------------------------------------
    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_host: str = Field("0.0.0.0", alias="SLACK_HOST")
    slack_port: int = Field(3000, ge=0, le=65535, alias="SLACK_PORT")
    # The port a Procfile platform (Heroku and the like) routes to: HTTP mode listens on it
    # when SLACK_PORT is not set.
    port: int | None = Field(None, ge=0, le=65535, alias="PORT")
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    slack_admin_users: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="SLACK_ADMIN_USERS"
    )

    # --- Discord: on when DISCORD_TOKEN is set -----------------------------------------------
    discord_token: SecretStr | None = Field(None, alias="DISCORD_TOKEN")
    discord_guild_id: int | None = Field(None, alias="DISCORD_GUILD_ID")
    discord_api_url: str | None = Field(None, alias="DISCORD_API_URL")
    discord_message_content: bool = Field(False, alias="DISCORD_MESSAGE_CONTENT")
    # Several processes: the shards in all, and the ones this process connects (all if unset).
    discord_shard_count: int | None = Field(None, ge=1, le=100_000, alias="DISCORD_SHARD_COUNT")
    discord_shard_ids: Annotated[list[int] | None, NoDecode] = Field(
        None, alias="DISCORD_SHARD_IDS"
    )

    @property
    def llm_enabled(self) -> bool:
        return self.openai_api_key is not None or self.openai_base_url is not None

    @field_validator("feeds", mode="before")
    @classmethod
    def _split_feeds(cls, value: object) -> object:
        if isinstance(value, str):
            items = [part.strip() for part in value.split(",") if part.strip()]
            return items or bundled_sample_feeds()
        return value

    @field_validator("slack_admin_users", mode="before")
    @classmethod
    def _split_users(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("discord_shard_ids", mode="before")
    @classmethod
    def _split_shards(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()] or None
        return value

    @model_validator(mode="after")
    def _shards_in_range(self) -> Settings:
        ids = self.discord_shard_ids
        if ids is None:
            return self
        if self.discord_shard_count is None:
            raise ValueError("DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT (the shards in all)")
        wrong = sorted({i for i in ids if not 0 <= i < self.discord_shard_count})
        if wrong:
            raise ValueError(
                f"DISCORD_SHARD_IDS {wrong} out of range: shards are numbered 0 to "
                f"{self.discord_shard_count - 1} for DISCORD_SHARD_COUNT={self.discord_shard_count}"
            )
        if len(set(ids)) != len(ids):
            raise ValueError("DISCORD_SHARD_IDS lists a shard twice")
        return self

    @field_validator("openai_base_url", "embeddings_url", "slack_api_url", "discord_api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value)

    @field_validator("database_url", "platform_database_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        url = value.get_secret_value().strip()
        if not url:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres") or not (parts.hostname or parts.path):
            raise ValueError(  # the URL itself may hold a password: not echoed
                "must be a PostgreSQL URL, postgresql://user:password@host:5432/database"
            )
        return SecretStr(url)

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("digest_time")
    @classmethod
    def _valid_time(cls, value: str) -> str:
        parse_hhmm(value)
        return value.strip()

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("log_level")
    @classmethod
    def _valid_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator(
        "discord_token",
        "slack_bot_token",
        "slack_app_token",
        "slack_signing_secret",
        "openai_api_key",
        "status_token",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "openai_base_url",
        "embeddings_url",
        "embeddings_model",
        "discord_api_url",
        "discord_guild_id",
        "discord_shard_count",
        "port",
        "metrics_port",
        "llm_concurrency",
        "llm_context_tokens",
        mode="before",
    )
    @classmethod
    def _blank_url_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("slack_bot_token")
    @classmethod
    def _a_bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        token = value.get_secret_value().strip() if value else ""
        if value is None or token.startswith(("xoxb-", "xoxe.xoxb-")):
            return value
        if token.startswith("xapp-"):
            raise ValueError(
                "holds an app-level token (xapp-...): that one goes in SLACK_APP_TOKEN; "
                "SLACK_BOT_TOKEN is the Bot User OAuth Token (xoxb-...)"
            )
        raise ValueError(
            "must be the Bot User OAuth Token, which starts with xoxb- (OAuth & "
            "Permissions at https://api.slack.com/apps)"
        )

    @field_validator("slack_app_token")
    @classmethod
    def _an_app_token(cls, value: SecretStr | None) -> SecretStr | None:
        token = value.get_secret_value().strip() if value else ""
        if value is None or token.startswith("xapp-"):
            return value
        if token.startswith(("xoxb-", "xoxe.xoxb-")):
            raise ValueError(
                "holds a bot token (xoxb-...): that one goes in SLACK_BOT_TOKEN; "
                "SLACK_APP_TOKEN is an app-level token (xapp-...)"
            )
        raise ValueError(
            "must be an app-level token, which starts with xapp- (Basic Information > "
            "App-Level Tokens at https://api.slack.com/apps), or unset for HTTP mode"
        )

    @model_validator(mode="after")
    def _platform_conventions(self) -> Settings:
        """PORT and DATABASE_URL, as a Procfile platform hands them, where ours are unset."""
        if "slack_port" not in self.model_fields_set and self.port is not None:
            self.slack_port = self.port
        if self.database_url is None and self.platform_database_url is not None:
            self.database_url = self.platform_database_url
        return self

    @model_validator(mode="after")
    def _embeddings_have_a_server(self) -> Settings:
        reachable = self.embeddings_url or self.openai_base_url or self.openai_api_key
        if self.embeddings_model and not reachable:
            raise ValueError(
                "NEWSBRIEF_EMBEDDINGS_MODEL needs a server: NEWSBRIEF_EMBEDDINGS_URL, "
                "OPENAI_BASE_URL, or OPENAI_API_KEY for api.openai.com"
            )
        return self

    @model_validator(mode="after")
    def _slack_can_connect(self) -> Settings:
        if self.slack_bot_token and not (self.slack_app_token or self.slack_signing_secret):
            raise ValueError(
                "SLACK_BOT_TOKEN needs SLACK_APP_TOKEN (Socket Mode) "
                "or SLACK_SIGNING_SECRET (HTTP mode)"
            )
        return self

    @field_validator("prompts_dir", mode="before")
    @classmethod
    def _blank_is_bundled_prompts(cls, value: object) -> object:
        return DEFAULT_PROMPTS_DIR if isinstance(value, str) and not value.strip() else value

"""Settings from the environment or `.env` (pydantic-settings); `.env.example` explains every one.

A setting is declared once, as a field: the desk's rules in `helpdesk.policy.DeskPolicy` (inherited
here, so the domain gets them without a mapping), everything about running the process below. An empty
value (`STAFF_CHAT_ID=`) means "not set". Adding a setting: docs/internals.md, "Settings".
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from helpdesk.digest import parse_clock
from helpdesk.policy import DeskPolicy, Duration
from scheduler.delivery import DeliveryLimits
from storage.db import DEFAULT_DATABASE_URL, DEFAULT_POOL_SIZE, normalise_url

TOKEN_PATTERN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,}$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_LIMITS = DeliveryLimits()


def env_file() -> str | None:
    """`.env` by default; BOT_ENV_FILE names another file, or none when empty (tests do that)."""
    value = os.environ.get("BOT_ENV_FILE", ".env")
    return value or None


class Settings(BaseSettings, DeskPolicy):
    model_config = SettingsConfigDict(
        env_file=env_file(),
        env_file_encoding="utf-8",
        env_ignore_empty=True,  # `STAFF_CHAT_ID=` in .env means unset, as .env.example ships it
        enable_decoding=False,  # AGENT_IDS=1,2 is a list written by people, not JSON
        str_strip_whitespace=True,  # `TIMEZONE=Europe/Moscow ` is Europe/Moscow
        extra="ignore",
        frozen=True,
    )

    # Telegram
    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    #: the framework that runs the bot: aiogram or python-telegram-bot (the same product and data either way)
    bot_runtime: Literal["aiogram", "ptb"] = "aiogram"

    # storage
    database_url: str = DEFAULT_DATABASE_URL
    db_pool_size: int = Field(DEFAULT_POOL_SIZE, ge=1)
    triage_cache_dir: Path | None = None  # unset: ./data/cache

    # scheduler
    sweep_every: Duration = timedelta(seconds=5)

    # reports
    digest_at: str | None = None  # HH:MM in TIMEZONE: yesterday's digest to the staff chat; unset: none

    # outbox delivery (the defaults are Telegram's limits, kept with the sender)
    outbox_rate_per_second: float = Field(_LIMITS.per_second, gt=0)
    outbox_private_interval: Duration = timedelta(seconds=_LIMITS.private_interval)
    outbox_group_per_minute: int = Field(_LIMITS.group_per_minute, gt=0)
    outbox_max_attempts: int = Field(_LIMITS.max_attempts, ge=1)
    outbox_poll_every: Duration = timedelta(seconds=_LIMITS.poll_every)

    # update handling
    poll_timeout: int = Field(25, ge=0, le=50)
    handler_attempts: int = Field(3, ge=1)
    update_workers: int = Field(32, ge=1)

    # webhook mode
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int = Field(8080, ge=1, le=65535)
    webhook_path: str = "/telegram/webhook"

    # operations
    health_host: str = "127.0.0.1"
    health_port: int | None = Field(None, ge=1, le=65535)
    retention_days: int | None = Field(None, ge=1)  # unset: keep personal data forever
    log_level: str = "INFO"
    log_format: str = "text"

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s):// address")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return check_database_url(value)

    @field_validator("digest_at")
    @classmethod
    def _digest_at(cls, value: str | None) -> str | None:
        clock = parse_clock(value)
        return f"{clock:%H:%M}" if clock else None

    @field_validator("bot_runtime", mode="before")
    @classmethod
    def _runtime(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not a log level ({', '.join(LOG_LEVELS)})")
        return value.upper()

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value.lower() not in ("text", "json"):
            raise ValueError(f"{value!r} is not a log format (text or json)")
        return value.lower()

    def token(self) -> str:
        """The bot token, checked for shape; raises ValueError with a one-line reason."""
        if self.telegram_bot_token is None or not self.telegram_bot_token.get_secret_value().strip():
            raise ValueError("TELEGRAM_BOT_TOKEN is not set (get one from @BotFather, see README)")
        token = self.telegram_bot_token.get_secret_value().strip()
        if not TOKEN_PATTERN.match(token):
            raise ValueError("TELEGRAM_BOT_TOKEN is malformed (expected digits:letters, as @BotFather gives it)")
        return token

    def policy(self) -> DeskPolicy:
        """The desk's rules alone (no token, no URLs): what the domain is handed."""
        return DeskPolicy.model_validate({name: getattr(self, name) for name in DeskPolicy.model_fields})


def check_database_url(value: str) -> str:
    """A URL the bot can open: SQLite or PostgreSQL with an async driver. Raises ValueError, never echoing
    a password. (Whether a SQLite file's directory exists is checked when the database is opened.)"""
    try:
        url = make_url(normalise_url(value))
    except ArgumentError:
        raise ValueError(
            "not a database URL (e.g. sqlite:///./data/bot.db or postgresql://user:password@host:5432/dbname)"
        ) from None
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"{shown}: only SQLite and PostgreSQL are supported")
    try:
        dialect = url.get_dialect()
        dialect.import_dbapi()
    except (NoSuchModuleError, ImportError):
        reason = f"{shown}: unknown database driver {url.drivername!r} (use sqlite:// or postgresql://)"
        raise ValueError(reason) from None
    if not dialect.is_async:
        raise ValueError(f"{shown}: driver {url.drivername!r} is not asynchronous (use sqlite:// or postgresql://)")
    return value


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)

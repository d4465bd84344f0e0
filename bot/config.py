"""Settings from the environment or `.env` (pydantic-settings); see `.env.example` for every one."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from helpdesk.digest import parse_clock
from helpdesk.durations import parse_duration
from helpdesk.policy import DeskPolicy
from helpdesk.sla import SlaPolicy
from helpdesk.worktime import WorkCalendar
from storage.db import DEFAULT_DATABASE_URL

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
TOKEN_PATTERN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,}$")


def _env_file() -> str | None:
    """`.env` by default; BOT_ENV_FILE names another file, or disables it when empty (tests)."""
    value = os.environ.get("BOT_ENV_FILE", ".env")
    return value or None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=_env_file(), env_file_encoding="utf-8", extra="ignore")

    # Telegram
    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    #: the framework that runs the bot: aiogram or python-telegram-bot (the same product and data either way)
    bot_runtime: Literal["aiogram", "ptb"] = "aiogram"
    agent_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    staff_chat_id: int | None = None
    staff_topics: bool = False
    default_language: str = "en"

    # storage
    database_url: str = DEFAULT_DATABASE_URL

    # SLA and time
    timezone: str = "UTC"
    business_hours: str | None = None
    sla_incident_p1: str | None = None
    sla_incident_p2: str | None = None
    sla_incident_p3: str | None = None
    sla_incident_p4: str | None = None
    sla_request_p1: str | None = None
    sla_request_p2: str | None = None
    sla_request_p3: str | None = None
    sla_request_p4: str | None = None
    sla_warning_ratio: float = Field(0.8, gt=0, lt=1)

    # follow-ups (scheduler)
    info_reminder_after: Duration = timedelta(hours=24)
    info_second_reminder_after: Duration = timedelta(hours=24)
    waiting_auto_close_after: Duration = timedelta(days=3)
    resolved_auto_close_after: Duration = timedelta(days=3)
    resolved_close_warning_before: Duration = timedelta(days=1)
    progress_update_p1: Duration = timedelta(hours=1)
    progress_update_p2: Duration = timedelta(hours=4)
    #: both at once: `2h` for P1 and P2, or `1h/4h` (P1/P2); PROGRESS_UPDATE_P1/P2 take precedence
    progress_update_every: str | None = None
    survey_after: Duration = timedelta(seconds=0)
    sweep_every: Duration = timedelta(seconds=5)

    # reports
    digest_at: str | None = None  # HH:MM in TIMEZONE: yesterday's digest to the staff chat; unset: none

    # outbox delivery
    outbox_rate_per_second: float = Field(30.0, gt=0)
    outbox_private_interval: Duration = timedelta(seconds=1)
    outbox_group_per_minute: int = Field(20, gt=0)
    outbox_max_attempts: int = Field(8, ge=1)
    outbox_poll_every: Duration = timedelta(seconds=1)

    # update handling
    poll_timeout: int = Field(25, ge=0, le=50)
    handler_attempts: int = Field(3, ge=1)
    update_workers: int = Field(32, ge=1)

    # webhook mode
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int = 8080
    webhook_path: str = "/telegram/webhook"

    # operations
    health_host: str = "127.0.0.1"
    health_port: int | None = None
    retention_days: int | None = Field(None, ge=1)  # unset: keep personal data forever
    log_level: str = "INFO"
    log_format: str = "text"

    @field_validator("agent_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [p for p in re.split(r"[,\s;]+", value) if p]
            try:
                return frozenset(int(p) for p in parts)
            except ValueError:
                raise ValueError("AGENT_IDS must be Telegram user ids separated by commas") from None
        return value

    @model_validator(mode="after")
    def _progress_every(self) -> Settings:
        if not self.progress_update_every or not self.progress_update_every.strip():
            return self
        parts = [p.strip() for p in self.progress_update_every.split("/")]
        if len(parts) > 2 or not all(parts):
            raise ValueError("PROGRESS_UPDATE_EVERY must be one duration (e.g. 2h) or two, for P1/P2 (e.g. 1h/4h)")
        p1, p2 = parse_duration(parts[0]), parse_duration(parts[-1])
        if "progress_update_p1" not in self.model_fields_set:
            self.progress_update_p1 = p1
        if "progress_update_p2" not in self.model_fields_set:
            self.progress_update_p2 = p2
        return self

    @field_validator("digest_at")
    @classmethod
    def _digest_at(cls, value: str | None) -> str | None:
        clock = parse_clock(value)
        return f"{clock:%H:%M}" if clock else None

    @field_validator("bot_runtime", mode="before")
    @classmethod
    def _runtime(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("default_language")
    @classmethod
    def _language(cls, value: str) -> str:
        value = value.strip().lower()[:2]
        if value not in ("en", "ru"):
            raise ValueError("DEFAULT_LANGUAGE must be en or ru")
        return value

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return value.rstrip("/")

    def token(self) -> str:
        """The bot token, checked for shape; raises ValueError with a one-line reason."""
        if self.telegram_bot_token is None or not self.telegram_bot_token.get_secret_value().strip():
            raise ValueError("TELEGRAM_BOT_TOKEN is not set (get one from @BotFather, see README)")
        token = self.telegram_bot_token.get_secret_value().strip()
        if not TOKEN_PATTERN.match(token):
            raise ValueError("TELEGRAM_BOT_TOKEN is malformed (expected digits:letters, as @BotFather gives it)")
        return token

    def sla_policy(self) -> SlaPolicy:
        overrides = {
            name.removeprefix("sla_"): getattr(self, name)
            for name in type(self).model_fields
            if name.startswith("sla_") and name != "sla_warning_ratio" and getattr(self, name)
        }
        return SlaPolicy.from_overrides(overrides)

    def policy(self) -> DeskPolicy:
        return DeskPolicy(
            agent_ids=self.agent_ids,
            staff_chat_id=self.staff_chat_id,
            staff_topics=self.staff_topics,
            default_language=self.default_language,
            sla=self.sla_policy(),
            calendar=WorkCalendar.parse(self.business_hours, self.timezone),
            info_reminder_after=self.info_reminder_after,
            info_second_reminder_after=self.info_second_reminder_after,
            waiting_auto_close_after=self.waiting_auto_close_after,
            resolved_auto_close_after=self.resolved_auto_close_after,
            resolved_close_warning_before=self.resolved_close_warning_before,
            progress_update_p1=self.progress_update_p1,
            progress_update_p2=self.progress_update_p2,
            survey_after=self.survey_after,
            sla_warning_ratio=self.sla_warning_ratio,
        )


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)

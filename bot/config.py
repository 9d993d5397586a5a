"""Configuration from the environment and `.env` (the environment wins).

Every variable is a flat field of `Settings`, where its default lives, once; the variable names and
defaults of the outside interface (README, Configuration) are fixed. Each service receives only its own
section (`settings.chat`, `settings.renders`, …): frozen, built from those fields, with no defaults of its
own. An empty variable (`DISCORD_TOKEN=` as `cp .env.example .env` leaves it) counts as unset.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_NEMO_API_BASE = "https://mega-api-prod.nemovideo.ai"
DEFAULT_DISCORD_API_BASE = "https://discord.com/api/v10"
# Messages waiting per thread before a flood is refused (not an environment variable).
THREAD_QUEUE_LIMIT = 25


@dataclass(frozen=True, slots=True)
class BackendSettings:
    """The backend client (bot.nemo.client)."""

    api_base: str
    rate_limit_retry_seconds: float
    sse_timeout_seconds: float


@dataclass(frozen=True, slots=True)
class IntakeSettings:
    """Every message of a project thread (bot.core.intake)."""

    queue_limit: int
    user_messages_per_minute: int


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """A chat turn over the backend's event stream (bot.core.chat)."""

    heartbeat_seconds: float
    sse_timeout_seconds: float
    recovery_delays: tuple[float, ...]
    """After a dropped stream: when to look at the session state again (never re-sending)."""


@dataclass(frozen=True, slots=True)
class UploadSettings:
    """Attachments and links handed to the backend (bot.core.uploads)."""

    max_bytes: int
    url_hosts: tuple[str, ...]
    heartbeat_seconds: float


@dataclass(frozen=True, slots=True)
class RenderSettings:
    """Exports: starting, polling and taking over renders (bot.core.renders)."""

    poll_seconds: float
    timeout_seconds: float
    lease_seconds: float
    """A render is polled by the process holding its lease; a crashed holder's lease runs out after this."""


def _split_ids(value: object) -> object:
    if isinstance(value, str):
        return [int(part) for part in value.replace(";", ",").split(",") if part.strip()]
    if isinstance(value, int):
        return [value]
    return value


class Settings(BaseSettings):
    """Every setting the bot reads. Intervals are floats so tests can use sub-second values."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False)

    discord_token: SecretStr
    discord_api_base: str | None = None
    nemo_api_base: str = DEFAULT_NEMO_API_BASE
    nemo_token: SecretStr | None = None
    database_path: Path = Path("data/bot.sqlite3")
    project_channel_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    heartbeat_seconds: float = Field(default=120.0, gt=0)
    render_poll_seconds: float = Field(default=30.0, gt=0)
    rate_limit_retry_seconds: float = Field(default=30.0, ge=0)
    sse_timeout_seconds: float = Field(default=900.0, gt=0)
    log_level: str = "INFO"
    database_url: str | None = None
    shard_count: int | None = Field(default=None, ge=1)
    shard_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    log_format: Literal["text", "json"] = "text"
    health_port: int | None = Field(default=None, ge=0, le=65535)
    health_host: str = "127.0.0.1"

    # Beyond the fixed interface: operator knobs with safe defaults.
    render_timeout_seconds: float = Field(default=1800.0, gt=0)
    # After a dropped stream: look at the state after 30 s, then every 60 s, five looks in all
    # (docs/backend-contract.md, section 5).
    stream_recovery_seconds: float = Field(default=30.0, gt=0)
    render_lease_seconds: float = Field(default=60.0, gt=0)
    liveness_seconds: float = Field(default=5.0, gt=0)
    max_upload_bytes: int = Field(default=500 * 1024 * 1024, gt=0)
    project_role_id: int | None = None
    user_messages_per_minute: int = Field(default=20, ge=1)
    # The URL form of upload hands links to the backend, which fetches them: only Discord's CDN by
    # default, so users cannot make the backend fetch arbitrary (internal) addresses.
    upload_url_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["cdn.discordapp.com", "media.discordapp.net"]
    )

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        """`NAME=` (or only spaces) means "not set" for every field: its default, or "NAME is not set"."""
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if not (isinstance(value, str) and not value.strip())}
        return data

    @field_validator("project_channel_ids", "shard_ids", mode="before")
    @classmethod
    def _parse_ids(cls, value: object) -> object:
        return _split_ids(value)

    @field_validator("upload_url_hosts", mode="before")
    @classmethod
    def _parse_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("log_level")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _shards_consistent(self) -> Settings:
        if self.shard_ids and self.shard_count is None:
            raise ValueError("SHARD_IDS needs SHARD_COUNT")
        if self.shard_count is not None and any(not 0 <= i < self.shard_count for i in self.shard_ids):
            raise ValueError("every SHARD_IDS entry must be in 0..SHARD_COUNT-1")
        return self

    @property
    def sharded(self) -> bool:
        return self.shard_count is not None

    @property
    def database(self) -> str | Path:
        """DATABASE_URL (PostgreSQL, several processes) when set, else the SQLite file."""
        return self.database_url or self.database_path

    # ----------------------------------------------------------------- one section per service
    @property
    def backend(self) -> BackendSettings:
        return BackendSettings(
            api_base=self.nemo_api_base,
            rate_limit_retry_seconds=self.rate_limit_retry_seconds,
            sse_timeout_seconds=self.sse_timeout_seconds,
        )

    @property
    def intake(self) -> IntakeSettings:
        return IntakeSettings(queue_limit=THREAD_QUEUE_LIMIT, user_messages_per_minute=self.user_messages_per_minute)

    @property
    def chat(self) -> ChatSettings:
        first = self.stream_recovery_seconds
        return ChatSettings(
            heartbeat_seconds=self.heartbeat_seconds,
            sse_timeout_seconds=self.sse_timeout_seconds,
            recovery_delays=(first, first * 2, first * 2, first * 2, first * 2),
        )

    @property
    def uploads(self) -> UploadSettings:
        return UploadSettings(
            max_bytes=self.max_upload_bytes,
            url_hosts=tuple(self.upload_url_hosts),
            heartbeat_seconds=self.heartbeat_seconds,
        )

    @property
    def renders(self) -> RenderSettings:
        return RenderSettings(
            poll_seconds=self.render_poll_seconds,
            timeout_seconds=self.render_timeout_seconds,
            lease_seconds=self.render_lease_seconds,
        )

"""Configuration from the environment and `.env` (the environment wins).

Names and defaults are fixed by shared/interface.md; checks outside this repo rely on them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_NEMO_API_BASE = "https://mega-api-prod.nemovideo.ai"
DEFAULT_DISCORD_API_BASE = "https://discord.com/api/v10"


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

    @field_validator(
        "nemo_token", "discord_api_base", "project_role_id", "health_port", "database_url", "shard_count", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
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

"""The engine's configuration: `ENGINE_*` variables (and a `.env` file), overridden by command-line
options. The first six are the outside interface (docs/engine-api.md, "Start"); the rest are operator
knobs with safe defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class EngineSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ENGINE_", env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    data_dir: Path = Path("data/engine")
    max_upload_bytes: int = Field(default=500 * 1024 * 1024, gt=0)
    render_jobs: int = Field(default=1, ge=1, le=8)
    retention_days: float = Field(default=7.0, gt=0)

    public_url: str | None = None
    """The base URL users' browsers reach the engine at (behind a proxy or in Docker); by default
    links are built from the address the client used."""
    music_dir: Path | None = None
    """The operator's library of licensed tracks (docs/music.md): mood by subfolder or sidecar file."""
    soundfont: Path | None = None
    """An SF2 General MIDI soundfont; when set (or a Debian one is installed) the composer renders through it."""
    x264_preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"] = "veryfast"
    allow_private_urls: bool = False
    """Let URL uploads fetch loopback/private addresses. Only for tests and local development."""
    log_level: str = "INFO"

    @field_validator("public_url", "music_dir", "soundfont", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def db_path(self) -> Path:
        return self.data_dir / "engine.sqlite3"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def results_dir(self) -> Path:
        return self.data_dir / "results"

    @property
    def work_dir(self) -> Path:
        return self.data_dir / "work"

    @property
    def cache_dir(self) -> Path:
        """Composed music, fitted tracks and video analyses, keyed by their inputs (safe to delete)."""
        return self.data_dir / "cache"

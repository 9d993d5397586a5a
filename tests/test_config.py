"""Configuration: an empty variable is unset (issue 16), and each service's section comes from the
flat variables of the outside interface, with their defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.__main__ import EXIT_CONFIG, main
from bot.config import Settings

NOT_SET = "cutaway: configuration error: DISCORD_TOKEN is not set (see .env.example)"


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No variable of ours in the environment, and a working directory without a `.env`."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_discord_token_is_not_set(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", value)
    assert main([]) == EXIT_CONFIG == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [NOT_SET] and captured.out == ""


def test_the_env_file_as_cp_env_example_leaves_it(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (clean_env / ".env").write_text("DISCORD_TOKEN=\nNEMO_TOKEN=\nHEALTH_PORT=\n")
    assert main([]) == EXIT_CONFIG
    assert capsys.readouterr().err.splitlines() == [NOT_SET]


def test_empty_optional_variables_take_their_defaults(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "token")
    for name in ("NEMO_TOKEN", "HEALTH_PORT", "HEARTBEAT_SECONDS", "LOG_LEVEL", "PROJECT_CHANNEL_IDS", "SHARD_COUNT"):
        monkeypatch.setenv(name, "")
    settings = Settings()
    assert settings.nemo_token is None and settings.health_port is None and settings.shard_count is None
    assert settings.heartbeat_seconds == 120.0 and settings.log_level == "INFO"
    assert settings.project_channel_ids == []


def test_a_wrong_value_is_still_an_error(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "token")
    monkeypatch.setenv("HEARTBEAT_SECONDS", "soon")
    assert main([]) == EXIT_CONFIG
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("cutaway: configuration error: HEARTBEAT_SECONDS:")


def test_each_service_gets_its_section_built_from_the_flat_variables(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "token")
    defaults = Settings()
    assert defaults.chat.heartbeat_seconds == 120.0 and defaults.chat.sse_timeout_seconds == 900.0
    assert defaults.chat.recovery_delays == (30.0, 60.0, 60.0, 60.0, 60.0)  # look after 30 s, then every 60 s
    assert defaults.backend.api_base == "https://mega-api-prod.nemovideo.ai"
    assert defaults.backend.rate_limit_retry_seconds == 30.0
    assert (defaults.renders.poll_seconds, defaults.renders.timeout_seconds) == (30.0, 1800.0)
    assert defaults.uploads.max_bytes == 500 * 1024 * 1024
    assert defaults.uploads.url_hosts == ("cdn.discordapp.com", "media.discordapp.net")
    assert defaults.intake.user_messages_per_minute == 20
    for name, value in {
        "HEARTBEAT_SECONDS": "5",
        "SSE_TIMEOUT_SECONDS": "60",
        "STREAM_RECOVERY_SECONDS": "10",
        "RENDER_POLL_SECONDS": "2",
        "NEMO_API_BASE": "http://127.0.0.1:8765",
        "UPLOAD_URL_HOSTS": "Media.Example.org, cdn.discordapp.com",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.chat.heartbeat_seconds == settings.uploads.heartbeat_seconds == 5.0
    assert settings.chat.sse_timeout_seconds == settings.backend.sse_timeout_seconds == 60.0
    assert settings.chat.recovery_delays == (10.0, 20.0, 20.0, 20.0, 20.0)
    assert settings.renders.poll_seconds == 2.0 and settings.backend.api_base == "http://127.0.0.1:8765"
    assert settings.uploads.url_hosts == ("media.example.org", "cdn.discordapp.com")

"""The Docker image and compose file keep their promises (Docker does not run here: the files are read
for the invariants), and the image's HEALTHCHECK probe (bot/healthcheck.py) against real servers."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import socket
import sys
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from aiohttp import web

from bot.config import Settings
from bot.healthcheck import engine_port, runs_engine
from tests.harness import Cutaway

ROOT = Path(__file__).resolve().parent.parent
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"  # what Debian's fluid-soundfont-gm installs


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    result = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions((ROOT / "Dockerfile").read_text())
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def _env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in stage:
        if word == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def _one(stage: list[tuple[str, str]], word: str) -> str:
    found = [rest for w, rest in stage if w == word]
    assert found, f"no {word} in the final stage"
    return found[-1]


def _dotenv_value(name: str) -> str | None:
    """The value `cp .env.example .env` gives `name` (None when commented out)."""
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1]
    return None


def test_the_database_lands_in_the_volume_whatever_the_env_file_says() -> None:
    stage = _final_stage()
    volumes = json.loads(_one(stage, "VOLUME"))
    assert volumes == ["/data"]
    workdir = PurePosixPath(_one(stage, "WORKDIR"))
    env = _env(stage)
    default = str(Settings.model_fields["database_path"].default)
    candidates = [env["DATABASE_PATH"], default, "bot.sqlite3", "data/bot.sqlite3", "./state/cutaway.db"]
    if (from_example := _dotenv_value("DATABASE_PATH")) is not None:
        candidates.append(from_example)
    for value in candidates:
        resolved = workdir / value  # an absolute value replaces the working folder, as the bot resolves it
        assert resolved.is_relative_to("/data"), (value, resolved)
    assert PurePosixPath(env["ENGINE_DATA_DIR"]).is_relative_to("/data")


def test_the_image_checks_its_health_without_curl_and_runs_unprivileged() -> None:
    stage = _final_stage()
    env = _env(stage)
    healthcheck = _one(stage, "HEALTHCHECK")
    command = json.loads(healthcheck.split("CMD", 1)[1])
    assert command == ["python", "-m", "bot.healthcheck"]
    assert env["HEALTH_PORT"].isdigit()
    user = _one(stage, "USER")
    assert user not in ("root", "0")
    assert json.loads(_one(stage, "CMD")) == ["python", "-m", "bot"]


def test_the_image_carries_every_package_and_the_soundfont() -> None:
    text = (ROOT / "Dockerfile").read_text()
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    for package in (pattern.rstrip("*") for pattern in include):
        assert re.search(rf"^COPY {package} \./{package}$", text, re.MULTILINE), package
    stage = _final_stage()
    installs = " ".join(rest for word, rest in stage if word == "RUN" and "apt-get install" in rest)
    assert "fluid-soundfont-gm" in installs.split()
    assert _env(stage)["ENGINE_SOUNDFONT"] == SOUNDFONT
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".git" in ignored


def test_compose_runs_the_bot_against_the_engine_from_one_image() -> None:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    bot, engine = compose["services"]["bot"], compose["services"]["engine"]
    assert bot["image"] == engine["image"]
    assert bot["environment"]["NEMO_API_BASE"] == "http://engine:8765"
    assert bot["depends_on"]["engine"]["condition"] == "service_healthy"
    command = engine["command"]
    assert command[:3] == ["python", "-m", "engine"] and runs_engine(command)
    assert command[command.index("--host") + 1] == "0.0.0.0"
    port = command[command.index("--port") + 1]
    data = PurePosixPath(command[command.index("--data") + 1])
    assert "ENGINE_PUBLIC_URL" in engine["environment"]
    assert any(str(mapping).endswith(f":{port}:{port}") for mapping in engine["ports"])
    assert engine["healthcheck"]["test"] == ["CMD", "python", "-m", "bot.healthcheck", "--engine"]
    # Each service keeps its state in a volume of its own, mounted where its data lives.
    mounts = {name: [str(v).split(":") for v in compose["services"][name]["volumes"]] for name in ("bot", "engine")}
    assert {m[0] for m in mounts["bot"]}.isdisjoint({m[0] for m in mounts["engine"]})
    assert all(m[0] in compose["volumes"] and m[1] == "/data" for ms in mounts.values() for m in ms)
    assert data.is_relative_to("/data")
    comments = (ROOT / "compose.yaml").read_text()
    assert re.search(r"#.*ENGINE_PUBLIC_URL", comments)


def test_the_probe_reads_the_engine_port_from_its_command_line() -> None:
    command = ["/sbin/docker-init", "--", "python", "-m", "engine", "--host", "0.0.0.0", "--port", "9000"]
    assert runs_engine(command) and engine_port(command, {}) == 9000
    assert engine_port(["python", "-m", "engine", "--port=9001"], {}) == 9001
    assert engine_port(["python", "-m", "engine"], {"ENGINE_PORT": "9002"}) == 9002
    assert engine_port(["python", "-m", "engine"], {}) == 8765
    assert not runs_engine(["python", "-m", "bot"])


# ---------------------------------------------------------------------------------------------- the probe


async def _probe(*args: str, **env: str) -> tuple[int, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HEALTH_", "ENGINE_"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.healthcheck",
        *args,
        env={**base, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(30):
        out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode().strip()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.e2e
async def test_probe_is_healthy_with_a_connected_bot_and_not_without_one(cutaway: Cutaway) -> None:
    await cutaway.restart(health_port=0)
    assert cutaway.app.health is not None
    port = str(cutaway.app.health.port)
    assert await _probe("--bot", HEALTH_PORT=port) == (0, "healthy")
    assert await _probe("--bot", HEALTH_PORT=port, HEALTH_HOST="0.0.0.0") == (0, "healthy")
    await cutaway.app.repo.close()  # the database goes away: /healthz says 503
    code, line = await _probe("--bot", HEALTH_PORT=port)
    assert code == 1 and "503" in line
    code, line = await _probe("--bot", HEALTH_PORT=str(_closed_port()))
    assert code == 1 and line.startswith("unhealthy: no answer")
    assert await _probe("--bot") == (0, "healthy: nothing to check (HEALTH_PORT is not set)")


@pytest.mark.e2e
async def test_probe_of_the_engine_asks_whether_its_port_answers() -> None:
    async def not_found(_request: web.Request) -> web.Response:
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/", not_found)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        assert await _probe("--engine", ENGINE_PORT=str(port)) == (0, "healthy")
    finally:
        await runner.cleanup()
    code, line = await _probe("--engine", ENGINE_PORT=str(_closed_port()))
    assert code == 1 and "does not answer" in line

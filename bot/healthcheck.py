"""`python -m bot.healthcheck`: the Docker image's HEALTHCHECK (docs/deploy.md), in Python because the
slim image has no curl.

One image runs either the bot or the engine, so the probe checks whichever this container runs (the
command line of its process 1, or `--bot` / `--engine`):
- the bot: `GET /healthz` on HEALTH_HOST:HEALTH_PORT must answer 200 (gateway connected, database
  answering). With HEALTH_PORT unset there is nothing to ask: healthy, with a note;
- the engine: its port (`--port` on its command line, else ENGINE_PORT, else 8765) must answer HTTP at all.
Exit 0 healthy, 1 not; one line on stdout either way (Docker keeps it in `docker inspect`).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import sys
from collections.abc import Sequence
from pathlib import Path

TIMEOUT_SECONDS = 4.0
ENGINE_DEFAULT_PORT = 8765
WILDCARD_HOSTS = ("", "0.0.0.0", "::", "[::]")


def _container_command() -> list[str]:
    try:
        raw = Path("/proc/1/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def runs_engine(command: Sequence[str]) -> bool:
    """Whether a container's command line runs the engine (`python -m engine …`, behind an init or not)."""
    return any(a == "-m" and b == "engine" for a, b in itertools.pairwise(command))


def engine_port(command: Sequence[str], env: dict[str, str]) -> int:
    for flag, value in itertools.pairwise(command):
        if flag == "--port" and value.isdigit():
            return int(value)
    for part in command:
        if part.startswith("--port=") and part[7:].isdigit():
            return int(part[7:])
    value = env.get("ENGINE_PORT", "").strip()
    return int(value) if value.isdigit() else ENGINE_DEFAULT_PORT


def _get(host: str, port: int, path: str) -> int:
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("GET", path, headers={"User-Agent": "cutaway-healthcheck"})
        return connection.getresponse().status
    finally:
        connection.close()


def check_bot(env: dict[str, str]) -> tuple[bool, str]:
    port = env.get("HEALTH_PORT", "").strip()
    if not port:
        return True, "healthy: nothing to check (HEALTH_PORT is not set)"
    host = env.get("HEALTH_HOST", "").strip()
    host = "127.0.0.1" if host in WILDCARD_HOSTS else host.strip("[]")
    try:
        status = _get(host, int(port), "/healthz")
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return False, f"unhealthy: no answer from http://{host}:{port}/healthz ({exc})"
    if status != 200:
        return False, f"unhealthy: /healthz answered {status} (gateway or database down)"
    return True, "healthy"


def check_engine(port: int) -> tuple[bool, str]:
    try:
        status = _get("127.0.0.1", port, "/")
    except (OSError, http.client.HTTPException) as exc:
        return False, f"unhealthy: the engine does not answer on port {port} ({exc})"
    if status >= 500:
        return False, f"unhealthy: the engine answered {status}"
    return True, "healthy"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.healthcheck", description="The container's health probe.")
    role = parser.add_mutually_exclusive_group()
    role.add_argument("--bot", action="store_true", help="probe the bot's /healthz")
    role.add_argument("--engine", action="store_true", help="probe the engine's port")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    command = _container_command()
    if args.engine or (not args.bot and runs_engine(command)):
        ok, line = check_engine(engine_port(command, env))
    else:
        ok, line = check_bot(env)
    print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

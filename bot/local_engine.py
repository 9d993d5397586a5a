"""`NEMO_API_BASE=local`: the bot runs Cutaway's engine (docs/engine.md) as its own child process.

One command for the operator, and still two processes: the engine's ffmpeg work never competes
with the bot's event loop, and a crash of one does not take the other down. The child is started
with the same `ENGINE_*` variables `python -m engine` reads; its one start-up line gives the base
URL the bot's ordinary client then uses. If the engine dies, it is started again on the same port
(links already posted keep working); when the bot stops, so does the engine — also when the bot
is killed, because the engine exits when its stdin (a pipe from the bot) closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from dotenv import dotenv_values

log = logging.getLogger(__name__)

LOCAL = "local"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
DRAIN_TIMEOUT = 5.0
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
_URL = re.compile(r"http://[^\s]+")


class EngineStartFailed(RuntimeError):
    """The engine did not print its URL: the message is one line for the operator."""


def _dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    return {key: value for key, value in dotenv_values(path).items() if value is not None}


def is_local(nemo_api_base: str) -> bool:
    return nemo_api_base.strip().lower() == LOCAL


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LocalEngine:
    """The engine as a supervised child process; `base_url` is valid once entered."""

    def __init__(self, env: Mapping[str, str] | None = None, *, python: str = sys.executable) -> None:
        # The engine reads `.env` itself, but its host and port are decided here (a free port is chosen
        # once and kept across restarts): so the same file counts here too, the environment winning.
        self._env = dict(env) if env is not None else {**_dotenv(Path(".env")), **os.environ}
        self._python = python
        self._host = self._env.get("ENGINE_HOST") or "127.0.0.1"
        port = self._env.get("ENGINE_PORT") or "8765"
        # Port 0 means "any free port": chosen once here, so a restarted engine keeps the same URL.
        self._port = _free_port(self._host) if port.strip() == "0" else int(port)
        self._proc: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._drain_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.base_url = ""
        self.restarts = 0

    @property
    def env(self) -> Mapping[str, str]:
        """The variables the engine starts with (`.env` below the environment), as it will read them."""
        return self._env

    async def __aenter__(self) -> Self:
        await self._start()
        self._supervisor = asyncio.create_task(self._supervise(), name="local-engine")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _start(self) -> None:
        cmd = [self._python, "-m", "engine", "--host", self._host, "--port", str(self._port), "--exit-with-stdin"]
        env = {**self._env, "PYTHONUNBUFFERED": "1"}
        self._proc = proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env
        )
        assert proc.stdout is not None
        try:
            async with asyncio.timeout(START_TIMEOUT):
                while True:
                    raw = await proc.stdout.readline()
                    if not raw:
                        code = await proc.wait()
                        raise EngineStartFailed(f"the local engine exited with code {code} before it was ready")
                    line = raw.decode("utf-8", "replace").strip()
                    match = _URL.search(line)
                    if match:
                        self.base_url = match.group(0).rstrip("/.,;)")
                        break
        except TimeoutError:
            await self._kill()
            raise EngineStartFailed(f"the local engine was not ready within {START_TIMEOUT:.0f} s") from None
        except BaseException:
            await self._kill()
            raise
        # Keep reading its stdout so a chatty engine never blocks on a full pipe.
        self._drain_task = asyncio.create_task(self._drain(proc), name="local-engine-stdout")
        log.info("local engine ready at %s (pid %s)", self.base_url, proc.pid)

    @staticmethod
    async def _drain(proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            log.info("engine: %s", line.decode("utf-8", "replace").rstrip())

    async def _supervise(self) -> None:
        """Start the engine again when it dies (not when we stop it), with growing pauses."""
        failures = 0
        while not self._stopping.is_set():
            proc = self._proc
            if proc is None:
                return
            code = await proc.wait()
            if self._stopping.is_set():
                return
            await self._end_drain()  # before _start replaces it: a task nobody holds may be collected mid-run
            delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)]
            log.error("local engine exited with code %s; starting it again in %.0f s", code, delay)
            await asyncio.sleep(delay)
            try:
                await self._start()
            except (EngineStartFailed, OSError) as exc:  # OSError: the child could not even be spawned
                failures += 1
                log.error("local engine restart failed: %s", exc)
                continue
            failures = 0
            self.restarts += 1

    async def close(self) -> None:
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        proc = self._proc
        if proc is not None and proc.returncode is None:
            if proc.stdin is not None:
                proc.stdin.close()  # the engine's cue to shut down cleanly
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                async with asyncio.timeout(STOP_TIMEOUT):
                    await proc.wait()
            except TimeoutError:
                log.warning("local engine did not stop within %.0f s; killing it", STOP_TIMEOUT)
                await self._kill()
            log.info("local engine stopped (code %s)", proc.returncode)
        await self._end_drain()

    async def _end_drain(self) -> None:
        """Wait for the reader of an exited child's stdout to read its last lines: it ends with the pipe,
        unless something the child started still holds the pipe, so the wait is bounded."""
        task, self._drain_task = self._drain_task, None
        if task is None:
            return
        _, pending = await asyncio.wait({task}, timeout=DRAIN_TIMEOUT)
        if pending:
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def _kill(self) -> None:
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

"""`python -m engine` as a real subprocess: the URL line, serving, clean exits on SIGTERM, SIGINT and
a closed stdin, and one clear line for bad settings."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

pytestmark = pytest.mark.e2e

URL_LINE = re.compile(r"^Cutaway engine: (http://127\.0\.0\.1:(\d+)) \(data in (.+)\)$")
ROOT = Path(__file__).resolve().parents[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGINE_")}
    env.update(extra)
    return env


@asynccontextmanager
async def engine_process(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: int | None = None
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "engine", *args,
        cwd=cwd, env=env or _env(), stdin=stdin if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(60):
            line = (await proc.stdout.readline()).decode().rstrip("\n")
        yield proc, line
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_port_zero_prints_the_url_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with engine_process("--port", "0", "--data", str(data), cwd=tmp_path) as (proc, line):
        match = URL_LINE.match(line)
        assert match, line
        base, port = match.group(1), int(match.group(2))
        assert port > 0 and Path(match.group(3)) == data
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/healthz") as resp:
                assert resp.status == 200 and (await resp.json())["ok"] is True
            async with http.post(f"{base}/api/auth/anonymous-token", headers={"X-Client-Id": "cli"}) as resp:
                body = await resp.json()
                assert body["code"] == 0 and body["data"]["token"].startswith("nmv_usr_")
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            assert await proc.wait() == 0
        assert proc.stderr is not None
        log = (await proc.stderr.read()).decode()
        assert "Traceback" not in log and "stopped" in log
    assert (data / "engine.sqlite3").is_file()


async def test_sigint_and_closed_stdin_also_stop_it_cleanly(tmp_path: Path) -> None:
    async with engine_process("--port", "0", "--data", str(tmp_path / "a"), cwd=tmp_path) as (proc, line):
        assert URL_LINE.match(line), line
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(20):
            assert await proc.wait() == 0
    async with engine_process(
        "--port", "0", "--data", str(tmp_path / "b"), "--exit-with-stdin", cwd=tmp_path, stdin=asyncio.subprocess.PIPE
    ) as (proc, line):
        assert URL_LINE.match(line), line
        assert proc.stdin is not None
        proc.stdin.close()
        async with asyncio.timeout(20):
            assert await proc.wait() == 0


async def test_environment_configures_it_and_options_win(tmp_path: Path) -> None:
    env = _env(ENGINE_DATA_DIR=str(tmp_path / "from-env"), ENGINE_PORT="1")  # port 1: options must win
    async with engine_process("--port", "0", cwd=tmp_path, env=env) as (proc, line):
        match = URL_LINE.match(line)
        assert match and Path(match.group(3)) == tmp_path / "from-env", line
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            assert await proc.wait() == 0


async def run_to_exit(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "engine", *args, cwd=cwd, env=env or _env(),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_help(tmp_path: Path) -> None:
    code, out, _ = await run_to_exit("--help", cwd=tmp_path)
    assert code == 0 and "--port" in out and "--data" in out and "ENGINE_" in out


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (("--port", "70000"), {}, "port"),
        (("--port", "0"), {"ENGINE_RENDER_JOBS": "0"}, "render_jobs"),
        (("--port", "0"), {"ENGINE_MAX_UPLOAD_BYTES": "lots"}, "max_upload_bytes"),
        (("--port", "0", "--log-level", "LOUD"), {}, "log_level"),
    ],
)
async def test_bad_settings_get_one_clear_line(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], expected: str
) -> None:
    code, out, err = await run_to_exit(*args, "--data", str(tmp_path / "d"), cwd=tmp_path, env=_env(**env))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("engine: bad engine setting") and expected in lines[0], err


async def test_port_in_use_and_unusable_data_get_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out, err = await run_to_exit("--port", str(port), "--data", str(tmp_path / "d"), cwd=tmp_path)
    assert code == 1 and out == "" and "port is in use" in err and len(err.strip().splitlines()) == 1, err
    not_a_db = tmp_path / "bad"
    not_a_db.mkdir()
    (not_a_db / "engine.sqlite3").write_bytes(b"this is not a database" * 200)
    code, out, err = await run_to_exit("--port", "0", "--data", str(not_a_db), cwd=tmp_path)
    assert code == 1 and "cannot use the data folder" in err and "Traceback" not in err, err


def test_engine_imports_without_the_bot() -> None:
    code = (
        "import sys, engine.__main__, engine.app, engine.server, engine.wire\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('bot', 'cogs', 'storage', 'devkit', 'discord'))\n"
        "assert not bad, bad\n"
    )
    import subprocess

    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr

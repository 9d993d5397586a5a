"""The render queue, restarts and retention, through the bot's real client against an engine on
127.0.0.1, with a small real-ffmpeg stand-in render (tests/engine_support.py) so order,
concurrency and cancel are exact; plus the store's own guarantees (undo stack, file mode).
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import stat
import time
from pathlib import Path

import aiohttp
import pytest

from bot.nemo.client import NemoClient
from engine.jobs import MAX_ATTEMPTS
from engine.retention import sweep
from engine.server import Engine
from engine.store import SCHEMA_VERSION, UNDO_DEPTH, RenderRow, Store, StoreError
from storage.sqlite import SqliteRepository
from tests import mediagen
from tests.engine_support import (
    StandInRender,
    client_for,
    ffmpeg_children,
    file_source,
    make_engine,
    settings,
    stand_in_turn,
    wait_until,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mediagen.clip(tmp_path_factory.mktemp("engine-jobs") / "clip.mp4", 2.0, size=(320, 180))


async def prepared(client: NemoClient, clip: Path) -> tuple[str, dict[str, object]]:
    session = await client.create_session("en")
    await client.upload_files(session.session_id, [file_source(clip)])
    state = await client.state(session.session_id)
    assert state.draft is not None
    return session.session_id, state.draft


async def finished(client: NemoClient, render_id: str, timeout: float = 60.0) -> str:
    async with asyncio.timeout(timeout):
        while not (progress := await client.render_status(render_id)).finished:
            await asyncio.sleep(0.05)
    return progress.status


# ---------------------------------------------------------------------------- queue


async def test_one_render_at_a_time_in_order(
    tmp_path: Path, http: aiohttp.ClientSession, repo: SqliteRepository, clip: Path
) -> None:
    render = StandInRender()
    async with make_engine(tmp_path / "engine", render_fn=render) as engine:
        client = client_for(engine, http, repo)
        sid, draft = await prepared(client, clip)
        ids = [(await client.start_render(sid, draft, render_id=f"render_order_{n}")).render_id for n in range(4)]
        assert [await finished(client, rid) for rid in ids] == ["completed"] * 4
    assert render.started == ids and render.peak == 1


async def test_render_jobs_setting_runs_that_many_at_once(
    tmp_path: Path, http: aiohttp.ClientSession, repo: SqliteRepository, clip: Path
) -> None:
    render = StandInRender(realtime=True)
    async with make_engine(tmp_path / "engine", render_fn=render, render_jobs=2) as engine:
        client = client_for(engine, http, repo)
        sid, draft = await prepared(client, clip)
        ids = [(await client.start_render(sid, draft)).render_id for _ in range(3)]
        await render.wait_for(lambda: render.running == 2)
        statuses = [(await client.render_status(rid)).status for rid in ids]
        assert statuses == ["processing", "processing", "pending"]
        assert [await finished(client, rid) for rid in ids] == ["completed"] * 3
    assert render.peak == 2


async def test_progress_comes_from_ffmpeg(
    tmp_path: Path, http: aiohttp.ClientSession, repo: SqliteRepository, clip: Path
) -> None:
    render = StandInRender(realtime=True)
    async with make_engine(tmp_path / "engine", render_fn=render) as engine:
        client = client_for(engine, http, repo)
        session = await client.create_session("en")
        long_clip = tmp_path / "long.mp4"
        mediagen.clip(long_clip, 4.0, size=(160, 90), audio=None)
        await client.upload_files(session.session_id, [file_source(long_clip)])
        state = await client.state(session.session_id)
        assert state.draft is not None
        rid = (await client.start_render(session.session_id, state.draft)).render_id
        seen: list[int] = []
        async with asyncio.timeout(30):
            while not (progress := await client.render_status(rid)).finished:
                seen.append(progress.progress)
                await asyncio.sleep(0.1)
        assert progress.status == "completed" and progress.progress == 100
        middle = [p for p in seen if 0 < p < 100]
        assert middle and middle == sorted(middle)


async def test_cancel_stops_ffmpeg_at_once(
    tmp_path: Path, http: aiohttp.ClientSession, repo: SqliteRepository, clip: Path
) -> None:
    render = StandInRender(realtime=True)
    async with make_engine(tmp_path / "engine", render_fn=render) as engine:
        client = client_for(engine, http, repo)
        sid, draft = await prepared(client, clip)
        running = (await client.start_render(sid, draft)).render_id
        waiting = (await client.start_render(sid, draft)).render_id
        await wait_until(lambda: len(ffmpeg_children()) == 1, timeout=20)
        await client.cancel_render(waiting)
        assert (await client.render_status(waiting)).status == "cancelled"
        await client.cancel_render(running)
        assert ffmpeg_children() == []  # gone (killed and reaped) by the time cancel answered
        assert (await client.render_status(running)).status == "cancelled"
        assert render.started == [running]
        assert not (engine.settings.work_dir / running).exists()
        again = (await client.start_render(sid, draft)).render_id  # the queue goes on
        assert await finished(client, again) == "completed"


async def test_a_job_cancelled_as_the_worker_takes_it_is_never_rendered(
    tmp_path: Path, http: aiohttp.ClientSession, repo: SqliteRepository, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cancel lands between the worker taking the job off the queue and starting it: the
    cancel wins (the job is started only if it is still pending), and the queue goes on."""
    render = StandInRender()
    async with make_engine(tmp_path / "engine", render_fn=render) as engine:
        assert engine.store is not None
        claim = engine.store.claim_render
        taken, go_on = asyncio.Event(), asyncio.Event()

        async def claim_after_a_pause(render_id: str, now: float) -> RenderRow | None:
            taken.set()
            await go_on.wait()
            return await claim(render_id, now)

        monkeypatch.setattr(engine.store, "claim_render", claim_after_a_pause)
        client = client_for(engine, http, repo)
        sid, draft = await prepared(client, clip)
        cancelled = (await client.start_render(sid, draft)).render_id
        await asyncio.wait_for(taken.wait(), 10)
        await client.cancel_render(cancelled)
        go_on.set()
        again = (await client.start_render(sid, draft)).render_id  # queued behind it: done means it was passed
        assert await finished(client, again) == "completed"
        assert (await client.render_status(cancelled)).status == "cancelled"
    assert render.started == [again]


# ---------------------------------------------------------------------------- restarts


async def test_everything_survives_a_restart(
    tmp_path: Path, http: aiohttp.ClientSession, repo: SqliteRepository, clip: Path
) -> None:
    data = tmp_path / "engine"
    slow = StandInRender(realtime=True)
    async with make_engine(data, render_fn=slow, turn_fn=stand_in_turn) as first:
        client = client_for(first, http, repo)
        sid, _ = await prepared(client, clip)
        [e async for e in client.chat(sid, "mute the clips")]
        state_before = await client.state(sid)
        token_before = (await repo.get_auth()).token  # type: ignore[union-attr]
        slow.realtime = False
        done = (await client.start_render(sid, state_before.draft or {})).render_id
        assert await finished(client, done) == "completed"
        slow.realtime = True
        interrupted = (await client.start_render(sid, state_before.draft or {})).render_id
        queued = (await client.start_render(sid, state_before.draft or {})).render_id
        await wait_until(lambda: len(ffmpeg_children()) == 1, timeout=20)
    assert ffmpeg_children() == []  # stopping the engine stopped ffmpeg

    fresh = StandInRender()
    async with make_engine(data, render_fn=fresh) as second:
        client = client_for(second, http, repo)
        assert (await repo.get_auth()).token == token_before  # type: ignore[union-attr]
        state_after = await client.state(sid)  # the same token still works: no 1001
        assert state_after.draft == state_before.draft and state_after.draft["m"]["clip_sound"] == "mute"  # type: ignore[index]
        assert [v["media_id"] for v in state_after.video_infos] == [v["media_id"] for v in state_before.video_infos]
        assert await finished(client, done) == "completed"
        for rid in (interrupted, queued):
            assert await finished(client, rid) == "completed"  # rendered again, never left processing
        assert fresh.started == [interrupted, queued]
        url = (await client.render_status(interrupted)).url
        assert url is not None and url.startswith(second.base_url)
        async with http.get(url) as resp:
            assert resp.status == 200 and len(await resp.read()) > 0
        # the old id is still taken: the client's retry with a fresh id is what works
        again = await client.start_render(sid, state_after.draft or {}, render_id=done)
        assert again.render_id != done


async def test_a_job_that_keeps_killing_the_engine_is_failed(tmp_path: Path, clip: Path) -> None:
    data = tmp_path / "engine"
    async with make_engine(data) as engine:
        assert engine.store is not None
        session = await engine.store.create_session("anon_x", "project", "en", time.time())
        await engine.store.add_render(
            RenderRow(
                render_id="render_crashy",
                session_id=session.session_id,
                user_id="anon_x",
                draft={},
                resolution="1080p",
                quality="high",
                status="processing",
                progress=40,
                created_at=time.time(),
                attempts=MAX_ATTEMPTS,
            )
        )
    async with make_engine(data) as engine:
        assert engine.store is not None
        row = await engine.store.render("render_crashy")
        assert row is not None and row.status == "failed" and row.error and "more than once" in row.error


# ---------------------------------------------------------------------------- retention


async def test_results_expire_after_the_retention_period(
    tmp_path: Path, http: aiohttp.ClientSession, repo: SqliteRepository, clip: Path
) -> None:
    data = tmp_path / "engine"
    async with make_engine(data, retention_days=2) as engine:
        client = client_for(engine, http, repo)
        sid, draft = await prepared(client, clip)
        rid = (await client.start_render(sid, draft)).render_id
        assert await finished(client, rid) == "completed"
        url = (await client.render_status(rid)).url
        assert url is not None
        result = engine.settings.results_dir / f"{rid}.mp4"
        assert result.is_file()
        assert engine.store is not None
        assert await sweep(engine.store, engine.settings, time.time() + 1 * 86_400) == 0  # not yet
        assert result.is_file()
        assert await sweep(engine.store, engine.settings, time.time() + 3 * 86_400) == 1
        assert not result.exists()
        progress = await client.render_status(rid)
        assert progress.status == "failed" and progress.url is None
        assert progress.error is not None and "expired" in progress.error and "2 days" in progress.error
        assert progress.user_message == progress.error  # the engine's reasons are written for users
        async with http.get(url) as resp:
            assert resp.status == 410 and "expired" in await resp.text()


async def test_expired_results_are_swept_at_start(
    tmp_path: Path, http: aiohttp.ClientSession, repo: SqliteRepository, clip: Path
) -> None:
    data = tmp_path / "engine"
    async with make_engine(data, retention_days=1) as engine:
        client = client_for(engine, http, repo)
        sid, draft = await prepared(client, clip)
        rid = (await client.start_render(sid, draft)).render_id
        assert await finished(client, rid) == "completed"
        assert engine.store is not None
        await engine.store.update_render(rid, completed_at=time.time() - 2 * 86_400)
    assert (data / "results" / f"{rid}.mp4").is_file()
    async with make_engine(data, retention_days=1) as engine:
        assert not (data / "results" / f"{rid}.mp4").exists()
        client = client_for(engine, http, repo)
        assert (await client.render_status(rid)).status == "failed"


async def test_cached_music_and_analyses_go_once_unused_for_the_retention_period(tmp_path: Path) -> None:
    from engine.music.facade import _load

    data = tmp_path / "engine"
    async with make_engine(data, retention_days=1) as engine:
        music = engine.settings.cache_dir / "music"
        music.mkdir(parents=True, exist_ok=True)
        old_wav, old_meta = music / "old.wav", music / "old.json"
        used_wav, used_meta = music / "used.wav", music / "used.json"
        for path in (old_wav, used_wav):
            path.write_bytes(b"RIFF")
        for path in (old_meta, used_meta):
            path.write_text('{"duration_s": 1.0}')
        two_days_ago = time.time() - 2 * 86_400
        for path in (old_wav, old_meta, used_wav, used_meta):
            os.utime(path, (two_days_ago, two_days_ago))
        assert _load(music, "used") is not None  # reading an entry makes it recent again
        assert engine.store is not None
        await sweep(engine.store, engine.settings)
    assert not old_wav.exists() and not old_meta.exists()
    assert used_wav.exists() and used_meta.exists()


# ---------------------------------------------------------------------------- store


async def test_store_file_is_private_and_versioned(tmp_path: Path) -> None:
    async with make_engine(tmp_path / "engine"):
        pass
    db = tmp_path / "engine" / "engine.sqlite3"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "engine").stat().st_mode) == 0o700
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer engine"):
        await Store.open(db, tmp_path / "engine")
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(StoreError):
        await Store.open(garbage, tmp_path)


async def test_undo_stack(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db.sqlite3", tmp_path)
    try:
        session = await store.create_session("anon_1", "project", "en", time.time())
        sid = session.session_id
        assert await store.undo_draft(sid) is None
        for n in range(3):
            await store.commit_draft(sid, {"n": n}, time.time())
        assert await store.draft(sid) == {"n": 2}
        assert await store.undo_draft(sid) == {"n": 1}
        assert await store.undo_draft(sid) == {"n": 0}
        assert await store.undo_draft(sid) == {}  # back to the empty timeline
        assert await store.undo_draft(sid) is None and await store.draft(sid) == {}
        for n in range(UNDO_DEPTH + 5):
            await store.commit_draft(sid, {"n": n}, time.time())
        undone = [await store.undo_draft(sid) for _ in range(UNDO_DEPTH + 2)]
        assert undone[: UNDO_DEPTH - 1] == [{"n": n} for n in range(UNDO_DEPTH + 3, 4, -1)]
        assert undone[UNDO_DEPTH - 1 :] == [None, None, None]  # the oldest fell off; never an empty timeline
        assert json.dumps(await store.draft(sid)) == json.dumps({"n": 5})
    finally:
        await store.close()


async def test_sigterm_like_close_leaves_the_job_pending(
    tmp_path: Path, http: aiohttp.ClientSession, repo: SqliteRepository, clip: Path
) -> None:
    slow = StandInRender(realtime=True)
    async with make_engine(tmp_path / "engine", render_fn=slow) as engine:
        client = client_for(engine, http, repo)
        sid, draft = await prepared(client, clip)
        rid = (await client.start_render(sid, draft)).render_id
        await slow.wait_for(lambda: slow.running == 1)
    store = await Store.open(tmp_path / "engine" / "engine.sqlite3", tmp_path / "engine")
    try:
        row = await store.render(rid)
        assert row is not None and row.status == "pending" and row.attempts == 1
    finally:
        await store.close()


async def test_clean_restarts_mid_render_do_not_fail_the_export(
    tmp_path: Path, http: aiohttp.ClientSession, repo: SqliteRepository, clip: Path
) -> None:
    """Only a job the engine died under counts against it: an operator restarting the engine
    (or the bot restarting its child engine) as often as MAX_ATTEMPTS mid-render loses nothing."""
    data = tmp_path / "engine"
    rid = ""

    async def stop_while_rendering(*, submit: bool) -> None:
        nonlocal rid
        slow = StandInRender(realtime=True)
        async with make_engine(data, render_fn=slow) as engine:
            client = client_for(engine, http, repo)
            if submit:
                sid, draft = await prepared(client, clip)
                rid = (await client.start_render(sid, draft)).render_id
            await slow.wait_for(lambda: slow.running == 1)
            assert slow.started == [rid]

    for stop in range(MAX_ATTEMPTS):
        await stop_while_rendering(submit=stop == 0)
    render = StandInRender()
    async with make_engine(data, render_fn=render) as engine:
        client = client_for(engine, http, repo)
        assert await finished(client, rid) == "completed"
        assert render.started == [rid]


# ---------------------------------------------------------------------------- with the real render


async def test_real_render_is_cancelled_at_once_and_resumes_after_a_restart(
    tmp_path: Path, http: aiohttp.ClientSession, repo: SqliteRepository
) -> None:
    """The real pipeline (engine.render.render): cancel leaves no ffmpeg behind; a render cut off
    by a stop is rendered again by the next engine and ends completed with its link."""
    long_clip = mediagen.clip(tmp_path / "long.mp4", 40.0, size=(320, 180))
    data = tmp_path / "engine"
    async with Engine(settings(data)) as engine:
        client = client_for(engine, http, repo)
        sid, draft = await prepared(client, long_clip)
        cancelled = (await client.start_render(sid, draft)).render_id
        await wait_until(lambda: len(ffmpeg_children()) > 0, timeout=60)
        await client.cancel_render(cancelled)
        assert ffmpeg_children() == []
        assert (await client.render_status(cancelled)).status == "cancelled"
        interrupted = (await client.start_render(sid, draft, output={"resolution": "720p"})).render_id
        await wait_until(lambda: len(ffmpeg_children()) > 0, timeout=60)
    assert ffmpeg_children() == []
    async with Engine(settings(data)) as engine:
        client = client_for(engine, http, repo)
        assert await finished(client, interrupted, timeout=300) == "completed"
        url = (await client.render_status(interrupted)).url
        assert url is not None
        async with http.get(url) as resp:
            (tmp_path / "out.mp4").write_bytes(await resp.read())
    out = mediagen.probe(tmp_path / "out.mp4")
    assert (out.width, out.height) == (1280, 720) and out.duration_s == pytest.approx(40.0, abs=0.2)

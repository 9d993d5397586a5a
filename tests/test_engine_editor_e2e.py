"""The editor behind the engine's real `/run_sse`, read by the bot's own client and summariser:
uploads placed in order, one chat message → ADK events with the committed draft, `silent:` giving
the bot a turn without text whose change it can still describe."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.core.timeline import describe_changes, summarise
from bot.nemo.client import NemoClient
from bot.nemo.events import EndEvent, StateDeltaEvent, TextEvent, ToolCallEvent, ToolResultEvent
from engine import editor
from engine.server import Engine
from storage.sqlite import SqliteRepository
from tests import mediagen
from tests.engine_support import client_for, file_source, make_engine

pytestmark = pytest.mark.e2e


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with make_engine(tmp_path / "engine", turn_fn=editor.run_turn, place_fn=editor.place_uploads) as running:
        yield running


@pytest.fixture
def client(engine: Engine, http: aiohttp.ClientSession, repo: SqliteRepository) -> NemoClient:
    return client_for(engine, http, repo)


async def test_a_chat_turn_through_the_engine(client: NemoClient, tmp_path: Path) -> None:
    clip = mediagen.clip(tmp_path / "pier.mp4", 2.0, size=(320, 180))
    photo = mediagen.image(tmp_path / "sunset.png", size=(320, 240))
    session = await client.create_session("en")
    sid = session.session_id
    await client.upload_files(sid, [file_source(clip, content_type="video/mp4")])
    await client.upload_files(sid, [file_source(photo, content_type="image/png")])
    before = await client.state(sid)
    assert "1. Video: pier.mp4 (0-5s, +1 more)" in summarise(before.draft)  # placed at upload, in order

    events = [
        e async for e in client.chat(sid, 'add calm music and the title "夏天" at the top, then make it vertical')
    ]
    kinds = [type(e) for e in events]
    assert kinds == [TextEvent, ToolCallEvent, ToolResultEvent, StateDeltaEvent, TextEvent, EndEvent]
    call = events[1]
    assert isinstance(call, ToolCallEvent) and call.name == "generate_music"
    delta = events[3]
    assert isinstance(delta, StateDeltaEvent)
    assert delta.delta["canvas_config"] == {"width": 1080, "height": 1920, "aspect_ratio": "9:16", "fit": "blur"}
    after = await client.state(sid)
    assert after.draft == delta.delta["draft"]
    line = summarise(after.draft)
    assert "BGM: Calm (composed) (0-5s, 35%)" in line and 'Title: "夏天" (0-3s)' in line
    closing = events[4]
    assert isinstance(closing, TextEvent) and "Added a Calm track" in closing.text and "9:16" in closing.text

    silent = [e async for e in client.chat(sid, "silent: make it square with black bars")]
    assert not any(isinstance(e, TextEvent) for e in silent)
    assert any(isinstance(e, StateDeltaEvent) for e in silent)
    later = await client.state(sid)
    changes = describe_changes(
        after.draft, later.draft, canvas_before=after.canvas_config, canvas_after=later.canvas_config
    )
    assert any("9:16" in c and "1:1" in c for c in changes)  # what the bot posts for a turn without text

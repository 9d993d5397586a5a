"""The playground: its web API over the real bot, its change feed, its CLI, and the page in headless Chromium."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import struct
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from devkit.fakes.discord import FakeDiscord
from devkit.playground import server as server_module
from devkit.playground.runner import Playground, PlaygroundConfig, RealBackendEnv, build_settings, sample_clip
from devkit.playground.server import PlaygroundServer
from tests import mediagen

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = pytest.mark.e2e  # starts the bot, a fake server or a subprocess

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "docs" / "playground.png"
HISTORY_SCREENSHOT = ROOT / "docs" / "playground-history.png"
FAST = PlaygroundConfig(
    backend="fake", turn_delay=0.02, heartbeat_seconds=5.0, render_poll_seconds=0.05, render_polls=2
)

Event = dict[str, Any]


@pytest.fixture
async def playground() -> AsyncIterator[Playground]:
    async with Playground(FAST) as running:
        yield running


class Feed:
    """The page's websocket, read the way the page reads it."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.seen: list[Event] = []

    async def hello(self) -> Event:
        async with asyncio.timeout(5):
            data: Event = await self.ws.receive_json()
        assert data["type"] == "hello"
        return data

    async def until(self, predicate: Callable[[Event], Any], timeout: float = 10.0) -> Any:
        """The first truthy predicate(event) over events already seen, then new ones."""
        for event in self.seen:
            if result := predicate(event):
                return result
        async with asyncio.timeout(timeout):
            while True:
                batch = await self.ws.receive_json()
                for event in batch["events"]:
                    self.seen.append(event)
                    if result := predicate(event):
                        return result


def bot_message(contains: str, channel_id: str | None = None) -> Callable[[Event], Event | None]:
    def match(event: Event) -> Event | None:
        if event["type"] != "message":
            return None
        msg: Event = event["message"]
        if msg["author"]["bot"] and contains in msg["content"] and channel_id in (None, msg["channel_id"]):
            return msg
        return None

    return match


def link_buttons(msg: Event) -> list[str]:
    return [c["url"] for row in msg["components"] for c in row.get("components", []) if c.get("style") == 5]


async def post(http: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, Any]:
    async with http.post(url, json=body) as response:
        return response.status, await response.json()


# ---------------------------------------------------------------------------------------------- web API


async def test_page_and_static_files_are_served_on_loopback(playground: Playground) -> None:
    assert playground.url.startswith("http://127.0.0.1:")
    async with aiohttp.ClientSession() as http:
        async with http.get(playground.url) as response:
            page = await response.text()
            assert response.status == 200 and '<script src="/static/app.js">' in page
        for name, kind in (("app.js", "javascript"), ("style.css", "css")):
            async with http.get(f"{playground.url}static/{name}") as response:
                assert response.status == 200 and kind in response.content_type
        async with http.get(f"{playground.url}static/../runner.py") as response:
            assert response.status == 404


async def test_web_api_drives_the_real_bot_from_project_to_playable_export(playground: Playground) -> None:
    base = playground.url
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{base}api/ws") as ws:
        feed = Feed(ws)
        hello = await feed.hello()
        world = hello["world"]
        assert {"project", "export", "credits", "status"} <= {c["name"] for c in world["commands"]}
        assert {c["type"] for c in world["channels"]} == {"text", "forum"}
        general = world["default_channel_id"]
        alice = next(u["id"] for u in world["users"] if u["name"] == "alice")

        status, body = await post(
            http, f"{base}api/slash", {"channel_id": general, "command": "project", "options": {"name": "Beach trip"}}
        )
        assert status == 200 and body["interaction_id"].isdigit()
        thread_id = await feed.until(
            lambda e: (
                e["type"] == "world"
                and next((t["id"] for t in e["world"]["threads"] if t["name"] == "Beach trip"), None)
            )
        )
        await feed.until(bot_message("Cutaway video project", thread_id))

        form = aiohttp.FormData()
        form.add_field("file", sample_clip(), filename="beach.mp4", content_type="video/mp4")
        async with http.post(f"{base}api/attachments", data=form) as response:
            attachment = (await response.json())["attachments"][0]
        assert attachment["size"] == len(sample_clip())
        status, _ = await post(
            http, f"{base}api/messages", {"channel_id": thread_id, "content": "", "attachments": [attachment["id"]]}
        )
        assert status == 200
        await feed.until(bot_message("Uploaded **beach.mp4**", thread_id))
        assert playground.nemo is not None and playground.nemo.uploads[-1].size == len(sample_clip())

        await post(http, f"{base}api/messages", {"channel_id": thread_id, "content": "add lo-fi music"})
        reply = await feed.until(bot_message("Lo-fi", thread_id))
        assert "Added 1 clip" in reply["content"]
        await post(http, f"{base}api/messages", {"channel_id": thread_id, "content": "加一个标题“夏日”"})
        await feed.until(bot_message("夏日", thread_id))  # the fake answers in the message's language

        status, _ = await post(http, f"{base}api/slash", {"channel_id": general, "command": "credits", "user": alice})
        assert status == 200
        credits = await feed.until(
            lambda e: (
                e["type"] == "message"
                and e["message"]["ephemeral_for"] == alice
                and not e["message"]["loading"]
                and e["message"]
            )
        )
        assert credits["interaction"]["command"] == "credits"

        await post(http, f"{base}api/slash", {"channel_id": thread_id, "command": "export"})
        ready = await feed.until(lambda e: (m := bot_message("", thread_id)(e)) and link_buttons(m) and m)
        url = link_buttons(ready)[0]
        assert url.endswith(".mp4") and url in ready["content"]
        async with http.get(url) as response:
            assert response.status == 200 and response.content_type == "video/mp4"
            assert response.headers["Content-Disposition"].startswith("inline")
            assert await response.read() == sample_clip()


async def test_refused_actions_answer_400_with_a_readable_reason(playground: Playground) -> None:
    base = playground.url
    general = str(playground.discord.text_channel_id)
    forum = str(playground.discord.forum_channel_id)
    async with aiohttp.ClientSession() as http:
        cases = [
            ("slash", {"channel_id": general, "command": "project", "options": {"bogus": 1}}, "no option"),
            ("slash", {"channel_id": general, "command": "nope"}, "not synced"),
            ("messages", {"channel_id": forum, "content": "hi"}, "non-text channel"),
            ("messages", {"channel_id": general, "content": "  "}, "write something"),
            ("messages", {"channel_id": general, "content": "x", "attachments": ["123"]}, "unknown attachment"),
            ("messages", {"channel_id": general, "content": "x", "user": "42"}, "unknown user"),
            ("forum-posts", {"forum_id": forum, "title": ""}, "needs a title"),
        ]
        for path, body, reason in cases:
            status, answer = await post(http, f"{base}api/{path}", body)
            assert status == 400 and reason in answer["error"], (path, body, answer)
        async with http.post(
            f"{base}api/messages", data=b"not json", headers={"Content-Type": "application/json"}
        ) as response:
            assert response.status == 400


async def test_forum_post_becomes_a_project_and_reactions_toggle(playground: Playground) -> None:
    base = playground.url
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{base}api/ws") as ws:
        feed = Feed(ws)
        await feed.hello()
        forum = str(playground.discord.forum_channel_id)
        status, body = await post(
            http, f"{base}api/forum-posts", {"forum_id": forum, "title": "Travel reel", "content": "add upbeat music"}
        )
        assert status == 200
        thread_id = body["thread_id"]
        reply = await feed.until(bot_message("Upbeat", thread_id))
        await post(http, f"{base}api/reactions", {"message_id": reply["id"], "emoji": "👍"})
        reacted = await feed.until(
            lambda e: (
                e["type"] == "message"
                and e["message"]["id"] == reply["id"]
                and e["message"]["reactions"]
                and e["message"]
            )
        )
        assert reacted["reactions"][0]["emoji"] == "👍" and reacted["reactions"][0]["count"] == 1
        await post(http, f"{base}api/reactions", {"message_id": reply["id"], "emoji": "👍"})
        await feed.until(
            lambda e: e["type"] == "message" and e["message"]["id"] == reply["id"] and not e["message"]["reactions"]
        )


# ---------------------------------------------------------------------------------------------- change feed


async def test_change_feed_reports_edits_deletes_typing_and_unanswered_interactions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without a bot: the fake's own state changes, as the page would receive them."""
    monkeypatch.setattr(server_module, "NO_RESPONSE_SECONDS", 0.1)
    async with FakeDiscord() as fake:
        server = PlaygroundServer(fake)
        await server.start()
        try:
            fake.bulk_overwrite_commands(None, [{"name": "ping", "description": "test", "options": []}])
            async with aiohttp.ClientSession() as http, http.ws_connect(f"{server.url}api/ws") as ws:
                feed = Feed(ws)
                hello = await feed.hello()
                assert [c["name"] for c in hello["world"]["commands"]] == ["ping"]
                channel = fake.text_channel_id
                msg = fake.create_message(channel, fake.bot_user, content="⏳ Still working… (1s)")
                created = await feed.until(bot_message("Still working… (1s)"))
                fake.edit_message(msg, {"content": "⏳ Still working… (3s)"})
                edited = await feed.until(bot_message("(3s)"))
                assert edited["id"] == created["id"] and edited["edits"] == 1 and edited["edited_at"]
                fake.delete_message(msg)
                deleted = await feed.until(lambda e: e["type"] == "delete" and e)
                assert deleted["id"] == created["id"]
                fake.typing_calls.append(channel)
                fake.changed()
                typing = await feed.until(lambda e: e["type"] == "typing" and e)
                assert typing["channel_id"] == str(channel)
                slash = {"channel_id": str(channel), "command": "ping"}
                status, body = await post(http, f"{server.url}api/slash", slash)
                assert status == 200
                failed = await feed.until(lambda e: e["type"] == "no_response" and e, timeout=5)
                assert failed["interaction_id"] == body["interaction_id"]

                # A modal the bot opens reaches the page; what the page submits reaches the bot.
                status, body = await post(http, f"{server.url}api/slash", slash)
                inter = fake.interactions[int(body["interaction_id"])]
                row = {"type": 1, "components": [{"type": 4, "custom_id": "title", "label": "Title", "style": 1}]}
                modal = {"custom_id": "rename", "title": "Rename", "components": [row]}
                fake.interaction_callback(inter.id, inter.token, {"type": 9, "data": modal}, [])
                opened = await feed.until(lambda e: e["type"] == "modal" and e)
                assert opened["interaction_id"] == str(inter.id) and opened["modal"]["title"] == "Rename"
                status, body = await post(
                    http,
                    f"{server.url}api/modals",
                    {"interaction_id": opened["interaction_id"], "values": {"title": "Trip"}},
                )
                assert status == 200
                submitted = fake.interactions[int(body["interaction_id"])]
                assert submitted.type == 5 and submitted.data["custom_id"] == "rename"
                assert submitted.data["components"][0]["components"][0]["value"] == "Trip"
        finally:
            await server.close()


# ---------------------------------------------------------------------------------------------- pieces


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the MP4 boxes between start and end."""
    found, offset, end = [], start, len(data) if end is None else end
    while offset + 8 <= end:
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        assert size >= 8, f"bad box size at {offset}"
        found.append((kind, offset + 8, offset + size))
        offset += size
    assert offset == end, "boxes do not fill their parent"
    return found


def test_bundled_clip_is_a_small_real_mp4_with_a_video_track() -> None:
    data = sample_clip()
    assert len(data) < 100 * 1024
    top = _boxes(data)
    kinds = [k for k, _, _ in top]
    assert kinds[0] == b"ftyp" and b"moov" in kinds and b"mdat" in kinds
    assert kinds.index(b"moov") < kinds.index(b"mdat"), "moov first, so a browser can start playing at once"
    _, start, end = next(b for b in top if b[0] == b"moov")
    tracks = [b for b in _boxes(data, start, end) if b[0] == b"trak"]
    assert tracks and b"avc1" in data[tracks[0][1] : tracks[0][2]]


def test_real_backend_reads_only_the_nemo_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("NEMO_TOKEN", "NEMO_API_BASE", "PROJECT_ROLE_ID", "DATABASE_PATH"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text("NEMO_TOKEN=nmv_usr_from_dotenv\nPROJECT_ROLE_ID=99\nDATABASE_PATH=/x.db\n")
    env = RealBackendEnv()
    assert env.nemo_token is not None and env.nemo_token.get_secret_value() == "nmv_usr_from_dotenv"
    monkeypatch.setenv("NEMO_API_BASE", "https://nemo.example.test")
    env = RealBackendEnv()
    assert env.nemo_api_base == "https://nemo.example.test"
    settings = build_settings(
        PlaygroundConfig(backend="real"),
        discord_token="t" * 10,
        discord_api_base="http://x/api",
        project_channel_ids=[1, 2],
        database=tmp_path / "p.db",
        nemo_api_base=env.nemo_api_base,
        nemo_token="tok",
    )
    assert settings.project_role_id is None and settings.database_path == tmp_path / "p.db"
    assert settings.nemo_token is not None and settings.nemo_token.get_secret_value() == "tok"
    assert settings.project_channel_ids == [1, 2]


async def test_cli_needs_no_discord_token_prints_the_url_and_stops_on_sigint(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "NEMO_"))}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "devkit.playground",
        "--no-browser",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            line = (await proc.stdout.readline()).decode()
        assert "Cutaway playground: http://127.0.0.1:" in line, line
        url = line.split(": ", 1)[1].strip()
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            assert response.status == 200
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(20):
            _, stderr = await proc.communicate()
        assert proc.returncode == 0, stderr.decode()[-2000:]
        assert "closed cleanly" in stderr.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


# ---------------------------------------------------------------------------------------------- the page in Chromium

CHROMIUM = os.environ.get("CUTAWAY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    # A headless page counts as hidden: without these Chromium throttles its timers and stops producing
    # frames for seconds at a time, so ResizeObserver (the page's stay-at-the-bottom rule) runs late.
    "--disable-renderer-backgrounding",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _browser_missing() -> str | None:
    reasons = []
    if not Path(CHROMIUM).exists():
        reasons.append(f"no Chromium at {CHROMIUM}")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        reasons.append("the playwright Python client is not installed")
    return "; ".join(reasons) or None


@pytest.fixture
def browser_required() -> None:
    missing = _browser_missing()
    if missing is None:
        return
    message = f"browser test needs Chromium and playwright: {missing} (run .ci/setup-browser.sh)"
    if IN_CI:
        pytest.fail(f"!!! {message} — CI must run the browser test", pytrace=False)
    pytest.skip(message)


@contextlib.asynccontextmanager
async def browser_page(site: Playground | PlaygroundServer, *, height: int) -> AsyncIterator[tuple[Page, list[str]]]:
    """The page of `site` in headless Chromium, 1280 px wide; the list collects its uncaught errors."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": height})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(site.url)
            yield page, errors
        finally:
            with contextlib.suppress(Exception):
                await browser.close()


WATCH_STATUS = """() => {
  window.__statusTexts = {};
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) {
      if (n.nodeType === 1 && n.matches('.message[data-id]') && n.textContent.includes('Still working')) {
        const texts = (window.__statusTexts[n.dataset.id] ??= []);
        const text = n.querySelector('.content')?.textContent ?? '';
        if (!texts.includes(text)) texts.push(text);
      }
    }
  }).observe(document.querySelector('#messages'), {childList: true});
}"""

PLAY_VIDEO = """async (url) => {
  const video = document.createElement('video');
  video.muted = true;
  video.src = url;
  await new Promise((resolve, reject) => {
    video.onloadeddata = resolve;
    video.onerror = () => reject(new Error('cannot play: ' + (video.error && video.error.code)));
  });
  return {duration: video.duration, width: video.videoWidth, height: video.videoHeight};
}"""


async def test_browser_local_engine_returns_the_uploaded_clip_with_music(
    browser_required: None, tmp_path: Path
) -> None:
    """The README's first command, as a newcomer uses it: the playground on the local engine. A clip
    dropped in, music that matches the mood and a title asked for, /export: the link plays that clip,
    rendered at 1080p with music. UPDATE_SCREENSHOT=1 refreshes docs/playground.png from this page."""
    from playwright.async_api import expect

    clip = mediagen.clip(tmp_path / "beach_day.mp4", 6, size=(1280, 720), audio=mediagen.speech_bursts(6, [(1, 2.5)]))
    config = PlaygroundConfig(backend="local", heartbeat_seconds=5.0, render_poll_seconds=0.2)
    async with Playground(config) as pg, browser_page(pg, height=1000) as (page, errors):
        await expect(page.locator("#backend-badge")).to_have_text("Backend: local engine")
        composer = page.locator("#input")
        await composer.fill("/project name:Summer reel")
        await composer.press("Enter")
        await page.locator(".channel.thread", has_text="Summer reel").click()
        await expect(page.locator(".message.bot", has_text="Cutaway video project")).to_be_visible()

        await page.locator("#file-input").set_input_files(str(clip))
        await expect(page.locator("#pending-files .pending-file:not(.uploading)")).to_have_count(1)
        await composer.press("Enter")
        await expect(page.locator(".message.bot", has_text="Uploaded beach_day.mp4")).to_be_visible(timeout=30_000)
        await composer.fill('add background music that matches the mood and the title "Summer"')
        await composer.press("Enter")
        done = page.locator(".message.bot", has_text="Done!")
        await expect(done).to_contain_text("composed for this clip", timeout=60_000)
        await expect(done).to_contain_text("“Summer”")

        await composer.fill("/export")
        await composer.press("Enter")
        link = page.locator("a.button.link", has_text="Download MP4")
        await expect(link).to_be_visible(timeout=120_000)
        href = await link.get_attribute("href")
        assert href is not None
        played = await page.evaluate(PLAY_VIDEO, href)
        assert (played["width"], played["height"]) == (1920, 1080) and abs(played["duration"] - 6) < 0.1, played

        result = tmp_path / "result.mp4"
        async with aiohttp.ClientSession() as http, http.get(href) as response:
            result.write_bytes(await response.read())
        audio = mediagen.decode_audio(result)
        assert mediagen.window_db(mediagen.decode_audio(clip), 3.0, 5.0) < -80  # the clip is silent here,
        assert mediagen.window_db(audio, 3.0, 5.0) > -35  # the export has music

        await page.wait_for_function(
            "[...document.querySelectorAll('#messages video')].every(v => v.readyState >= 1)", polling=POLL_MS
        )
        # The player shows the title (it is on screen for the first 3 s).
        await page.evaluate("[...document.querySelectorAll('#messages video')].pop().currentTime = 1.6")
        await page.wait_for_function(
            "[...document.querySelectorAll('#messages video')].pop().readyState >= 2", polling=POLL_MS
        )
        await page.wait_for_function(f"({DISTANCE_FROM_BOTTOM}) < 2", polling=POLL_MS)
        if os.environ.get("UPDATE_SCREENSHOT"):  # the media controls fade their spinner out: no state to wait for
            await page.wait_for_timeout(1500)
            await page.screenshot(path=str(SCREENSHOT))
        assert not errors, errors


async def test_browser_send_upload_export_and_live_status(browser_required: None, tmp_path: Path) -> None:
    from playwright.async_api import FilePayload, expect

    config = PlaygroundConfig(
        backend="fake", turn_delay=0.3, heartbeat_seconds=0.4, render_poll_seconds=0.1, render_polls=3
    )
    async with Playground(config) as pg, browser_page(pg, height=860) as (page, errors):
        await expect(page.locator("#connection")).to_have_class("ok")
        badge = page.locator("#backend-badge")
        await expect(badge).to_have_text("Backend: scripted fake · exports are a sample clip")
        composer = page.locator("#input")

        await composer.fill("/project name:Beach trip")
        await expect(page.locator("#command-hint")).to_contain_text("/project")
        await composer.press("Enter")
        await page.locator(".channel.thread", has_text="Beach trip").click()
        await expect(page.locator("#channel-title")).to_have_text("Beach trip")
        await expect(page.locator(".message.bot", has_text="Cutaway video project")).to_be_visible()

        clip = FilePayload(name="beach.mp4", mimeType="video/mp4", buffer=sample_clip())
        await page.locator("#file-input").set_input_files(files=[clip])
        await expect(page.locator("#pending-files .pending-file:not(.uploading)")).to_have_count(1)
        await composer.press("Enter")
        await expect(page.locator(".message.bot", has_text="Uploaded beach.mp4")).to_be_visible(timeout=10_000)
        await expect(page.locator(".message:not(.bot) video")).to_have_count(1)

        await page.evaluate(WATCH_STATUS)
        await composer.fill('add lo-fi music and the title "Summer"')
        await composer.press("Enter")
        await expect(page.locator(".message:not(.bot)", has_text="add lo-fi music")).to_be_visible()
        reply = page.locator(".message.bot", has_text='Added the title "Summer"')
        await expect(reply).to_be_visible(timeout=15_000)
        await expect(reply.locator("button", has_text="Export")).to_be_visible()
        statuses: dict[str, list[str]] = await page.evaluate("window.__statusTexts")
        assert any(len(texts) >= 2 for texts in statuses.values()), f"status never edited in place: {statuses}"

        await composer.fill("/export")
        await composer.press("Enter")
        await expect(page.locator(".message.bot", has_text="Export started")).to_be_visible(timeout=10_000)
        link = page.locator("a.button.link", has_text="Download MP4")
        await expect(link).to_be_visible(timeout=15_000)
        href = await link.get_attribute("href")
        assert href is not None and href.endswith(".mp4")
        played = await page.evaluate(PLAY_VIDEO, href)
        assert played["duration"] > 0.5 and played["width"] > 0, played

        await page.locator(".message.bot video.link-preview").last.scroll_into_view_if_needed()
        await page.wait_for_function(
            "[...document.querySelectorAll('video')].every(v => v.readyState >= 3 && v.networkState !== 2)",
            polling=POLL_MS,
        )
        await page.wait_for_function("document.getAnimations().length === 0", polling=POLL_MS)  # the "edited" flashes
        update = bool(os.environ.get("UPDATE_SCREENSHOT"))
        if update:  # Chromium's media controls fade their spinner out: no state to wait for
            await page.wait_for_timeout(1500)
        await page.wait_for_function(f"({DISTANCE_FROM_BOTTOM}) < 2", polling=POLL_MS)
        await page.screenshot(path=str(tmp_path / "playground.png"))
        assert (tmp_path / "playground.png").stat().st_size > 10_000
        assert not errors, errors


DISTANCE_FROM_BOTTOM = """(() => {
  const box = document.querySelector('#messages');
  return box.scrollHeight - box.scrollTop - box.clientHeight;
})()"""

LAST_IN_VIEW = """(selector) => {
  const box = document.querySelector('#messages').getBoundingClientRect();
  const all = document.querySelectorAll(selector);
  if (!all.length) return false;
  const r = all[all.length - 1].getBoundingClientRect();
  return r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
}"""

POST_AS = """async (body) => {
  const response = await fetch('/api/messages', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                 body: JSON.stringify(body)});
  if (!response.ok) throw new Error(await response.text());
}"""

# Waits poll on a timer rather than on animation frames: a headless page holding video players can
# go seconds without producing a frame, and a frame-driven wait then sits idle although its condition
# already holds (seen here: page.evaluate of the same condition was true).
POLL_MS = 100
MEDIA_LOADED = "[...document.querySelectorAll('#messages video')].every(v => v.readyState >= 1)"


async def test_browser_thread_with_several_videos_stays_at_the_bottom_and_history_is_compact(
    browser_required: None, tmp_path: Path
) -> None:
    """Video previews grow after layout (their size is known once their metadata loads): the list must
    still end at the bottom, and sending always jumps there. /history lists exports compactly, with its
    dates in the reader's language."""
    from playwright.async_api import FilePayload, expect

    config = PlaygroundConfig(
        backend="fake", turn_delay=0.05, heartbeat_seconds=5.0, render_poll_seconds=0.05, render_polls=2
    )
    async with Playground(config) as pg, browser_page(pg, height=860) as (page, errors):
        await expect(page.locator("#connection")).to_have_class("ok")
        composer = page.locator("#input")
        await composer.fill("/project name:Reel")
        await composer.press("Enter")
        await page.locator(".channel.thread", has_text="Reel").click()
        await expect(page.locator(".message.bot", has_text="Cutaway video project")).to_be_visible()

        for index in range(3):  # three clips, each shown as a player
            clip = FilePayload(name=f"clip{index}.mp4", mimeType="video/mp4", buffer=sample_clip())
            await page.locator("#file-input").set_input_files(files=[clip])
            await expect(page.locator("#pending-files .pending-file:not(.uploading)")).to_have_count(1)
            await composer.press("Enter")
            await expect(page.locator(".message.bot", has_text=f"Uploaded clip{index}.mp4")).to_be_visible(
                timeout=10_000
            )
        await composer.fill("add lo-fi music")
        await composer.press("Enter")
        await expect(page.locator(".message.bot", has_text="Lo-fi")).to_be_visible(timeout=15_000)
        for done in range(1, 4):  # three exports, each with a preview player
            await composer.fill("/export")
            await composer.press("Enter")
            await expect(page.locator("a.button.link", has_text="Download MP4")).to_have_count(done, timeout=15_000)
        await expect(page.locator("#messages video")).to_have_count(6)
        await page.wait_for_function(MEDIA_LOADED, polling=POLL_MS)
        await page.wait_for_function(f"({DISTANCE_FROM_BOTTOM}) < 2", polling=POLL_MS)
        assert await page.evaluate(LAST_IN_VIEW, "#messages .message")

        # A reader scrolled up is not pulled down by someone else's message: it is announced instead.
        await page.evaluate("document.querySelector('#messages').scrollTop = 0")
        thread_id = await page.evaluate("location.hash.slice(1)")
        bob = str(pg.discord.users["bob"].id)
        await page.evaluate(POST_AS, {"channel_id": thread_id, "content": "nice one", "user": bob})
        await expect(page.locator(".message", has_text="nice one")).to_have_count(1)
        await expect(page.locator("#jump")).to_be_visible()
        assert await page.evaluate("document.querySelector('#messages').scrollTop") == 0
        await page.locator("#jump").click()
        await page.wait_for_function(f"({DISTANCE_FROM_BOTTOM}) < 2", polling=POLL_MS)
        await expect(page.locator("#jump")).to_be_hidden()

        # Sending jumps to the bottom and shows your message and the bot's answer, even from higher up.
        await page.evaluate("document.querySelector('#messages').scrollTop = 0")
        await composer.fill("status")
        await composer.press("Enter")
        mine = page.locator(".message:not(.bot)", has_text="status").last
        await expect(mine).to_be_visible()
        await expect(page.locator(".message.bot", has_text="📋")).to_be_visible(timeout=10_000)
        await page.wait_for_function(f"({DISTANCE_FROM_BOTTOM}) < 2", polling=POLL_MS)
        assert await page.evaluate(LAST_IN_VIEW, "#messages .message.bot")

        # /history in Chinese: one compact list, no player per export, Chinese dates.
        await page.locator("#locale-select").select_option("zh-CN")
        await composer.fill("/history")
        await composer.press("Enter")
        history = page.locator(".message.ephemeral", has_text="导出记录").last
        await expect(history).to_be_visible(timeout=10_000)
        await expect(history.locator("a[href$='.mp4']")).to_have_count(3)
        assert await history.locator("video").count() == 0
        box = await history.bounding_box()
        assert box is not None and box["height"] < 300, box
        dates = await history.locator("time.timestamp").all_text_contents()
        assert len(dates) == 3 and all(re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日 \d{1,2}:\d{2}", d) for d in dates), (
            dates
        )
        await page.wait_for_function(f"({DISTANCE_FROM_BOTTOM}) < 2", polling=POLL_MS)
        assert await page.evaluate(LAST_IN_VIEW, "#messages .message")

        await page.wait_for_function("document.getAnimations().length === 0", polling=POLL_MS)
        update = bool(os.environ.get("UPDATE_SCREENSHOT"))
        if update:  # Chromium's media controls fade their spinner out: no state to wait for
            await page.wait_for_timeout(1500)
        await page.screenshot(path=str(tmp_path / "history.png"))
        if update:
            shutil.copyfile(tmp_path / "history.png", HISTORY_SCREENSHOT)
        assert not errors, errors


@pytest.mark.parametrize(
    ("backend", "badge"),
    [
        ("local", "Backend: local engine"),
        ("fake", "Backend: scripted fake · exports are a sample clip"),
        ("real", "Backend: NemoVideo service · real renders, real credits"),
    ],
)
async def test_browser_page_says_which_backend_it_runs(browser_required: None, backend: str, badge: str) -> None:
    from playwright.async_api import expect

    async with FakeDiscord() as fake:
        server = PlaygroundServer(fake, backend=backend)
        await server.start()
        try:
            async with browser_page(server, height=700) as (page, errors):
                await expect(page.locator("#connection")).to_have_class("ok")
                await expect(page.locator("#backend-badge")).to_have_text(badge)
                await expect(page.locator("#backend-badge")).to_be_in_viewport()
                assert await page.locator("#backend-badge").get_attribute("data-kind") == backend
                assert not errors, errors
        finally:
            await server.close()

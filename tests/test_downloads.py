"""Downloads on behalf of a user follow no redirect except to allowed hosts (issue 15, item 4), and
what went wrong with a file is what the user is told, through every wrapper (issue 15, item 6): a
file larger than it said, a CDN link that expired, a download that broke off partway, the backend's
own refusal."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from bot.core.links import MAX_REDIRECTS, link_allowed
from bot.core.uploads import CdnStreamer, DownloadFailed, TooLargeWhileStreaming
from bot.metrics import REGISTRY
from bot.nemo.client import UploadSource
from devkit.fakes.discord_cdn import MAGIC
from tests.harness import Cutaway

HOSTS = ("cdn.discordapp.com", "media.discordapp.net")
MIB = 1024 * 1024
MP4 = MAGIC["mp4"] + bytes(range(256)) * 64
RETRY = "please attach it again"


def uploads(outcome: str) -> float:
    return REGISTRY.get_sample_value("cutaway_uploads_total", {"outcome": outcome}) or 0.0


# --- the rule every hop must pass -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://cdn.discordapp.com/attachments/1/2/a.mp4", True),
        ("https://media.discordapp.net/attachments/1/2/a.mp4?ex=1", True),
        ("https://CDN.discordapp.com:443/a.mp4", True),
        ("http://cdn.discordapp.com/a.mp4", False),
        ("https://cdn.discordapp.com:8443/a.mp4", False),
        ("https://user:pw@cdn.discordapp.com/a.mp4", False),
        ("https://cdn.discordapp.com.evil.example/a.mp4", False),
        ("https://127.0.0.1/a.mp4", False),
        ("https://cdn.discordapp.com:99999/a.mp4", False),
        ("file:///etc/passwd", False),
    ],
)
def test_one_rule_for_links_and_redirect_hops(url: str, allowed: bool) -> None:
    assert link_allowed(url, HOSTS) is allowed


# --- each hop checked (a stand-in for aiohttp's session that answers by URL) ----------------------


@dataclass
class _Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    async def __aenter__(self) -> _Answer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    @property
    def content(self) -> _Answer:
        return self

    async def iter_chunked(self, size: int) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), size):
            yield self.body[start : start + size]


@dataclass
class _Web:
    answers: dict[str, _Answer]
    asked: list[str] = field(default_factory=list)

    def get(self, url: str, *, allow_redirects: bool = True, **_: Any) -> _Answer:
        assert allow_redirects is False  # never aiohttp's own redirect following
        self.asked.append(url)
        return self.answers[url]


def _streamer(answers: dict[str, _Answer], hosts: tuple[str, ...] = HOSTS) -> tuple[CdnStreamer, _Web]:
    web_ = _Web(answers)
    return CdnStreamer(web_, max_bytes=MIB, redirect_hosts=hosts), web_  # type: ignore[arg-type]


async def test_a_redirect_to_an_allowed_host_is_followed() -> None:
    a, b = "https://cdn.discordapp.com/attachments/1/2/a.mp4", "https://media.discordapp.net/attachments/1/2/a.mp4"
    cdn, web_ = _streamer({a: _Answer(302, {"Location": b}), b: _Answer(200, body=MP4)})
    assert await cdn.head_bytes(a) == MP4[:64]
    assert web_.asked == [a, b]


@pytest.mark.parametrize(
    "target",
    ["http://127.0.0.1:8080/admin", "http://cdn.discordapp.com/a.mp4", "/relative/but/http/origin", ""],
)
async def test_a_redirect_anywhere_else_is_refused(target: str) -> None:
    origin = "http://127.0.0.1:9000/attachments/1/2/a.mp4"  # a Discord-compatible server's CDN
    cdn, web_ = _streamer({origin: _Answer(302, {"Location": target} if target else {})})
    with pytest.raises(DownloadFailed) as failed:
        await cdn.head_bytes(origin)
    assert failed.value.reason_key == DownloadFailed.FAILED
    assert web_.asked == [origin]


async def test_no_redirect_at_all_without_allowed_hosts_and_never_in_a_loop() -> None:
    a, b = "https://cdn.discordapp.com/a.mp4", "https://media.discordapp.net/a.mp4"
    cdn, web_ = _streamer({a: _Answer(302, {"Location": b}), b: _Answer(200, body=MP4)}, hosts=())
    with pytest.raises(DownloadFailed):
        await cdn.head_bytes(a)
    assert web_.asked == [a]
    cdn, web_ = _streamer({a: _Answer(302, {"Location": b}), b: _Answer(301, {"Location": a})})
    with pytest.raises(DownloadFailed):
        await cdn.head_bytes(a)
    assert len(web_.asked) == MAX_REDIRECTS + 1


async def test_an_expired_or_removed_link_says_so() -> None:
    a = "https://cdn.discordapp.com/a.mp4"
    for status in (403, 404, 410):
        cdn, _ = _streamer({a: _Answer(status)})
        with pytest.raises(DownloadFailed) as failed:
            await cdn.head_bytes(a)
        assert failed.value.reason_key == DownloadFailed.EXPIRED


# --- end to end: the real bot, the fake Discord and backend, and servers of the test's own ---------


@dataclass
class Servers:
    """A 'local service' the bot must never fetch for a user, and a CDN that redirects to it or breaks off."""

    base: str
    internal_hits: int = 0


@pytest.fixture
async def servers() -> AsyncIterator[Servers]:
    state = Servers(base="")

    async def internal(request: web.Request) -> web.Response:
        state.internal_hits += 1
        return web.Response(body=MAGIC["mp4"] + b"INTERNAL SECRET " * 1000, content_type="video/mp4")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"{state.base}/internal/secret.mp4")

    async def cut(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Range"):
            return web.Response(status=206, body=MP4[:64], content_type="video/mp4")
        response = web.StreamResponse(headers={"Content-Length": str(2 * MIB), "Content-Type": "video/mp4"})
        await response.prepare(request)
        await response.write(MP4 + b"\x00" * (256 * 1024))
        assert request.transport is not None
        request.transport.close()  # the CDN breaks off partway
        return response

    app = web.Application()
    app.router.add_get("/internal/secret.mp4", internal)
    app.router.add_get("/cdn/redirect.mp4", redirect)
    app.router.add_get("/cdn/cut.mp4", cut)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield state
    finally:
        await runner.cleanup()


def _attachment(cutaway: Cutaway, filename: str, url: str, size: int) -> dict[str, Any]:
    """An attachment entry as a Discord-compatible server would send it, pointing wherever it says."""
    fake = cutaway.discord
    return {
        "id": str(fake.ids.next()),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
        "content_type": "video/mp4",
    }


async def _skipped(cutaway: Cutaway, thread_id: int, attachments: list[dict[str, Any]], expect: str) -> str:
    await cutaway.discord.send_message(thread_id, "", attachments=attachments)
    message = await cutaway.discord.wait_for_bot_message(thread_id, contains=expect, timeout=15)
    await cutaway.idle()
    return message.text


@pytest.mark.e2e
async def test_a_cdn_redirect_to_a_local_service_is_not_followed(cutaway: Cutaway, servers: Servers) -> None:
    thread_id = await cutaway.new_project()
    att = _attachment(cutaway, "clip.mp4", f"{servers.base}/cdn/redirect.mp4", 4096)
    text = await _skipped(cutaway, thread_id, [att], "Skipped clip.mp4")
    assert text == f"⚠️ Skipped clip.mp4: I couldn't download it from Discord — {RETRY}"
    assert servers.internal_hits == 0 and cutaway.nemo.uploads == []


@pytest.mark.e2e
async def test_a_file_larger_than_it_said_is_stopped_at_the_cap_and_told_so(cutaway: Cutaway) -> None:
    await cutaway.restart(max_upload_bytes=MIB)
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    real = fake.add_attachment("big.mp4", size=3 * MIB, content_type="video/mp4")
    liar = {**real, "id": str(fake.ids.next()), "size": 1000}  # the payload says 1000 bytes
    fine = fake.add_attachment("fine.mp4", size=2000, content_type="video/mp4")
    before = uploads("too_large")
    text = await _skipped(cutaway, thread_id, [liar, fine], "Skipped big.mp4")
    assert text == "⚠️ Skipped big.mp4: larger than 1 MB — try compressing or trimming it"
    texts = cutaway.texts(thread_id)
    assert any(t.startswith("⚠️ The other files of that message") and "fine.mp4" in t for t in texts)
    assert not any("can't reach" in t for t in texts)
    assert cutaway.nemo.uploads == []
    assert uploads("too_large") == before + 1


@pytest.mark.e2e
async def test_a_download_that_breaks_off_partway_is_told_so(cutaway: Cutaway, servers: Servers) -> None:
    thread_id = await cutaway.new_project()
    att = _attachment(cutaway, "cut.mp4", f"{servers.base}/cdn/cut.mp4", 2 * MIB)
    text = await _skipped(cutaway, thread_id, [att], "Skipped cut.mp4")
    assert text == f"⚠️ Skipped cut.mp4: the download from Discord broke off partway — {RETRY}"
    assert cutaway.nemo.uploads == []


@pytest.mark.e2e
async def test_an_expired_attachment_link_is_told_so(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    att = fake.add_attachment("old.mp4", size=4096, content_type="video/mp4")
    stale = {**att, "id": str(fake.ids.next())}  # keeps the URL signed before the expiry
    fake.expire_attachment(att)
    text = await _skipped(cutaway, thread_id, [stale], "Skipped old.mp4")
    assert text == f"⚠️ Skipped old.mp4: its Discord link has expired or the file was removed — {RETRY}"


@pytest.mark.e2e
async def test_the_backends_refusal_during_the_upload_is_told_as_such(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    cutaway.nemo.upload_limit_bytes = MIB  # the backend refuses (4002) once 1 MiB has arrived
    att = fake.add_attachment("long.mp4", size=4 * MIB, content_type="video/mp4")
    await fake.send_message(thread_id, "", attachments=[att])
    message = await fake.wait_for_bot_message(thread_id, contains="⚠️", timeout=15)
    assert message.text == "⚠️ That file is too large. Try compressing or trimming it."


@pytest.mark.e2e
@pytest.mark.parametrize(
    "failure",
    [lambda: TooLargeWhileStreaming("big.mp4"), lambda: DownloadFailed("cut", filename="big.mp4")],
    ids=["size-cap", "cdn-cut"],
)
async def test_the_clients_upload_raises_the_streams_own_error(
    make_client: Callable[..., Any], failure: Callable[[], Exception]
) -> None:
    """aiohttp reports an error of a body stream as a broken connection; the client must not."""
    client = make_client()
    session = await client.create_session("en")

    async def stream() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield MP4 + b"\x00" * (64 * 1024)
        raise failure()

    source = UploadSource(filename="big.mp4", open=stream, content_type="video/mp4")
    with pytest.raises(type(failure())):
        await client.upload_files(session.session_id, [source])

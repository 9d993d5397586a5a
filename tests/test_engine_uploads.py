"""Uploads into the engine through the bot's real client: streamed multipart and links, probed by
content (real media made with ffmpeg), refused with 4001/4002 when they must be, and links that
point inside the machine's network refused without a single byte fetched.

No test here sends traffic anywhere but 127.0.0.1: a guard (`loopback_only`) fails any attempt to
connect elsewhere, so a broken address check would fail the test instead of leaving the machine.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import os
import socket
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.nemo import errors
from bot.nemo.client import NemoClient
from engine import probe
from engine.fetch import AddressPolicy, is_public
from engine.ingest import clean_filename
from engine.server import Engine
from storage.sqlite import SqliteRepository
from tests import mediagen
from tests.engine_support import LOOPBACK_ONLY, client_for, file_source, make_engine, settings, stream_source

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024


def _animated_gif(path: Path) -> Path:
    mediagen.ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=1", path)
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("engine-uploads-media")
    clip = mediagen.clip(d / "clip.mp4", 2.0, size=(320, 180))
    broken = d / "broken.mp4"
    broken.write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
    text = d / "notes.mp4"
    text.write_text("these are my notes, not a video\n" * 20)
    empty = d / "empty.mp3"
    empty.write_bytes(b"")
    return {
        "clip": clip,
        # a phone held upright: stored 320x180, display matrix turns it a quarter clockwise
        "phone": mediagen.clip(d / "phone.mov", 2.0, size=(320, 180), rotate=-90),
        "vfr": mediagen.vfr_clip(d / "vfr.mp4", 3.0, size=(320, 180)),
        "mute": mediagen.clip(d / "mute.webm", 1.0, size=(320, 180), vcodec="libvpx-vp9", audio=None),
        "photo": mediagen.image(d / "photo.jpg", size=(400, 300)),
        "anim": _animated_gif(d / "anim.gif"),
        "song": mediagen.audio_file(d / "song.mp3", seconds=2.0),
        "broken": broken,
        "text": text,
        "empty": empty,
    }


@pytest.fixture
async def loopback_only(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[tuple[str, int]]]:
    """Fail any outgoing connection that is not to the loopback range; record every attempt."""
    attempts: list[tuple[str, int]] = []
    loop_type = type(asyncio.get_running_loop())
    original_sock_connect = loop_type.sock_connect
    original_create_connection = loop_type.create_connection

    def check(host: Any, port: Any) -> None:
        attempts.append((str(host), int(port or 0)))
        if not ipaddress.ip_address(str(host).split("%")[0]).is_loopback:
            raise AssertionError(f"the test tried to connect to {host}")

    async def sock_connect(self: Any, sock: socket.socket, address: Any) -> None:
        check(address[0], address[1])
        await original_sock_connect(self, sock, address)

    async def create_connection(self: Any, *args: Any, **kwargs: Any) -> Any:
        host = kwargs.get("host", args[1] if len(args) > 1 else None)
        if host is not None:
            check(host, kwargs.get("port", args[2] if len(args) > 2 else 0))
        return await original_create_connection(self, *args, **kwargs)

    monkeypatch.setattr(loop_type, "sock_connect", sock_connect)
    monkeypatch.setattr(loop_type, "create_connection", create_connection)
    yield attempts


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with make_engine(tmp_path / "engine", url_policy=LOOPBACK_ONLY) as running:
        yield running


@pytest.fixture
def client(engine: Engine, http: aiohttp.ClientSession, repo: SqliteRepository) -> NemoClient:
    return client_for(engine, http, repo)


class FileServer:
    """A local web server for link uploads; records every request it gets."""

    def __init__(self, files: dict[str, Path], redirects: dict[str, str] | None = None) -> None:
        self.files = files
        self.redirects = redirects or {}
        self.requests: list[str] = []
        self.base = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> FileServer:
        app = web.Application()
        app.router.add_get("/{name:.*}", self._serve)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.requests.append(name)
        if name in self.redirects:  # sent as it is (aiohttp's HTTPFound would refuse a broken one)
            return web.Response(status=302, headers={"Location": self.redirects[name]})
        if name in self.files:
            return web.FileResponse(self.files[name])
        raise web.HTTPNotFound()


def media_files(engine: Engine) -> list[Path]:
    return [p for p in engine.settings.media_dir.rglob("*") if p.is_file()]


# ---------------------------------------------------------------------------- probing


async def test_uploads_are_probed_by_content(client: NemoClient, media: dict[str, Path]) -> None:
    session = await client.create_session("en")
    names = ["clip", "phone", "vfr", "mute", "photo", "anim", "song"]
    # Names lie on purpose where they can: the content decides.
    sources = [file_source(media[n], f"{n}{'.bin' if n == 'song' else media[n].suffix}") for n in names]
    await client.upload_files(session.session_id, sources)
    state = await client.state(session.session_id)
    infos = {v["filename"].rsplit(".", 1)[0]: v for v in state.video_infos}
    assert list(infos) == names

    clip = infos["clip"]
    assert (clip["file_type"], clip["width"], clip["height"], clip["rotation"]) == ("video", 320, 180, 0)
    assert clip["duration"] == pytest.approx(2.0, abs=0.05) and clip["fps"] == pytest.approx(30)
    assert clip["has_audio"] is True and clip["vfr"] is False and clip["video_codec"] == "h264"

    phone = infos["phone"]  # displayed upright
    assert (phone["width"], phone["height"], phone["rotation"]) == (180, 320, 90)

    vfr = infos["vfr"]
    assert vfr["vfr"] is True and vfr["duration"] == pytest.approx(3.0, abs=0.2)

    mute = infos["mute"]
    assert mute["has_audio"] is False and mute["video_codec"] == "vp9" and mute["file_type"] == "video"

    photo = infos["photo"]
    assert (photo["file_type"], photo["width"], photo["height"], photo["duration"]) == ("image", 400, 300, None)

    anim = infos["anim"]  # an animated GIF is a short clip
    assert anim["file_type"] == "video" and anim["duration"] == pytest.approx(1.0, abs=0.15)

    song = infos["song"]
    assert (song["file_type"], song["has_audio"], song["width"]) == ("audio", True, None)
    assert song["duration"] == pytest.approx(2.0, abs=0.1)

    # Clips and images are on the timeline in upload order; the song is not.
    assert state.draft is not None
    placed = [s["m"]["media"] for s in state.draft["t"][0]["sg"]]
    assert placed == [infos[n]["media_id"] for n in names if n != "song"]


def latin1_tagged_clip(path: Path) -> Path:
    """An MP4 whose title tag is Latin-1 bytes, not UTF-8 (what some older cameras write)."""
    mediagen.ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=1",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-metadata", "title=" + os.fsdecode(b"caf\xe9"), path,
    )  # fmt: skip
    return path


async def test_tags_that_are_not_utf8_do_not_refuse_the_clip(
    tmp_path: Path, engine: Engine, client: NemoClient
) -> None:
    clip = latin1_tagged_clip(tmp_path / "camera.mp4")
    session = await client.create_session("en")
    await client.upload_files(session.session_id, [file_source(clip)])
    [info] = (await client.state(session.session_id)).video_infos
    assert (info["file_type"], info["width"], info["height"]) == ("video", 320, 180)
    assert len(media_files(engine)) == 1


def test_an_unexpected_probe_error_refuses_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever a hostile file makes the demuxer raise, the uploader gets 4001's reason, not a 500."""

    def trips(_: Path) -> probe.Probe:
        raise IndexError("a stream list the file promised but does not have")

    monkeypatch.setattr(probe, "_probe", trips)
    odd = tmp_path / "odd.mp4"
    odd.write_bytes(b"\0" * 64)
    with pytest.raises(probe.ProbeRefused, match="mp4, mov"):
        probe.probe_file(odd)


@pytest.mark.parametrize(
    ("key", "name"),
    [("text", "holiday.mp4"), ("broken", "broken.mp4"), ("empty", "silence.mp3")],
)
async def test_files_that_are_not_media_get_4001(
    engine: Engine, client: NemoClient, media: dict[str, Path], key: str, name: str
) -> None:
    session = await client.create_session("en")
    with pytest.raises(errors.UnsupportedFileType) as refused:
        await client.upload_files(session.session_id, [file_source(media[key], name)])
    assert refused.value.code == 4001
    # the reason fits the file: an empty one is called empty, anything else gets the formats list
    assert ("the file is empty" if key == "empty" else "mp4, mov") in str(refused.value.detail)
    assert media_files(engine) == []
    assert (await client.state(session.session_id)).video_infos == []


async def test_one_bad_file_refuses_the_whole_request(
    engine: Engine, client: NemoClient, media: dict[str, Path]
) -> None:
    session = await client.create_session("en")
    with pytest.raises(errors.UnsupportedFileType, match=r"notes\.mp4"):
        await client.upload_files(
            session.session_id, [file_source(media["clip"]), file_source(media["text"], "notes.mp4")]
        )
    assert media_files(engine) == [] and (await client.state(session.session_id)).video_infos == []


async def test_file_names_are_cleaned(client: NemoClient, media: dict[str, Path]) -> None:
    session = await client.create_session("en")
    hostile = "../../etc/\u202egnp.exe\x07 \u200bholiday   clip.mp4"
    result = await client.upload_files(session.session_id, [file_source(media["clip"], hostile)])
    assert result.files[0].filename == "gnp.exe holiday clip.mp4"


def test_clean_filename_rules() -> None:
    assert clean_filename("C:\\Users\\me\\Videos\\trip.mov") == "trip.mov"
    assert clean_filename("/abs/path/../x.mp4") == "x.mp4"
    assert clean_filename("..") == "upload" and clean_filename("") == "upload" and clean_filename(None, "f") == "f"
    assert clean_filename(".hidden.mp4") == "hidden.mp4"
    assert clean_filename("a\u2066b\u2069c\u202a.mp4") == "abc.mp4"
    assert clean_filename("line\nbreak\r\t.mp4") == "linebreak.mp4"
    long = clean_filename("x" * 500 + ".mp4")
    assert len(long) <= 120 and long.endswith(".mp4")
    assert clean_filename("夏天的海边.MP4") == "夏天的海边.MP4"


# ---------------------------------------------------------------------------- size cap


async def test_over_the_cap_is_4002_while_streaming(
    tmp_path: Path, http: aiohttp.ClientSession, repo: SqliteRepository
) -> None:
    async with make_engine(tmp_path / "engine", max_upload_bytes=MIB) as engine:
        client = client_for(engine, http, repo)
        session = await client.create_session("en")
        with pytest.raises(errors.FileTooLarge) as refused:
            await client.upload_files(session.session_id, [stream_source("huge.mp4", 200 * MIB)])
        assert "1 MB" in refused.value.detail
        assert media_files(engine) == []
        assert (await client.credits()).total == 0  # still serving
        assert (await client.state(session.session_id)).video_infos == []


async def test_three_hour_file_over_the_cap(
    tmp_path: Path, http: aiohttp.ClientSession, repo: SqliteRepository
) -> None:
    long_clip = tmp_path / "three_hours.mp4"
    mediagen.ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=1:duration=10800",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "600", long_clip,
    )  # fmt: skip
    cap = long_clip.stat().st_size // 2
    async with make_engine(tmp_path / "engine", max_upload_bytes=cap) as engine:
        client = client_for(engine, http, repo)
        session = await client.create_session("en")
        with pytest.raises(errors.FileTooLarge):
            await client.upload_files(session.session_id, [file_source(long_clip)])
        assert media_files(engine) == []
        clip = tmp_path / "small.mp4"
        mediagen.clip(clip, 1.0, size=(160, 90), audio=None)
        await client.upload_files(session.session_id, [file_source(clip)])  # the engine goes on
        assert len((await client.state(session.session_id)).video_infos) == 1


# ---------------------------------------------------------------------------- links


async def test_link_upload_from_an_allowed_server(
    client: NemoClient, media: dict[str, Path], loopback_only: list[tuple[str, int]]
) -> None:
    async with FileServer({"videos/Beach day.mp4": media["clip"], "d/photo": media["photo"]}) as server:
        session = await client.create_session("en")
        await client.upload_urls(
            session.session_id, [f"{server.base}/videos/Beach%20day.mp4", f"{server.base}/d/photo"]
        )
        state = await client.state(session.session_id)
    assert [v["filename"] for v in state.video_infos] == ["Beach day.mp4", "photo"]
    assert [v["file_type"] for v in state.video_infos] == ["video", "image"]
    assert state.video_infos[0]["duration"] == pytest.approx(2.0, abs=0.05)
    assert server.requests == ["videos/Beach day.mp4", "d/photo"]
    assert {port for _, port in loopback_only} >= {int(server.base.rsplit(":", 1)[1])}


async def test_link_that_is_not_media_gets_4001_and_too_big_gets_4002(
    tmp_path: Path,
    http: aiohttp.ClientSession,
    repo: SqliteRepository,
    media: dict[str, Path],
    loopback_only: list[tuple[str, int]],
) -> None:
    async with (
        make_engine(tmp_path / "engine", url_policy=LOOPBACK_ONLY, max_upload_bytes=64 * 1024) as engine,
        FileServer({"notes.mp4": media["text"], "clip.mp4": media["clip"]}) as server,
    ):
        client = client_for(engine, http, repo)
        session = await client.create_session("en")
        with pytest.raises(errors.UnsupportedFileType):
            await client.upload_urls(session.session_id, [f"{server.base}/notes.mp4"])
        with pytest.raises(errors.FileTooLarge):
            await client.upload_urls(session.session_id, [f"{server.base}/clip.mp4"])
        with pytest.raises(errors.NemoError) as missing:
            await client.upload_urls(session.session_id, [f"{server.base}/nothing.mp4"])
        assert missing.value.code == 4004 and "404" in missing.value.detail
        assert media_files(engine) == []


@pytest.mark.parametrize(
    "target",
    [
        "http://10.1.2.3/clip.mp4",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/clip.mp4",
        "http://127.0.0.1:{port}/clip.mp4",
        "http://[::ffff:127.0.0.1]:{port}/clip.mp4",
        "http://0.0.0.0:{port}/clip.mp4",
        "http://localhost:{port}/clip.mp4",
        "http://2130706433:{port}/clip.mp4",
        "http://192.168.1.1/clip.mp4",
        "ftp://example.com/clip.mp4",
        "file:///etc/passwd",
    ],
)
async def test_links_to_private_addresses_are_refused_unfetched(
    tmp_path: Path,
    http: aiohttp.ClientSession,
    repo: SqliteRepository,
    media: dict[str, Path],
    loopback_only: list[tuple[str, int]],
    target: str,
) -> None:
    async with (
        make_engine(tmp_path / "engine") as engine,  # the real rule: public addresses only
        FileServer({"clip.mp4": media["clip"]}) as server,
    ):
        client = client_for(engine, http, repo)
        session = await client.create_session("en")
        port = int(server.base.rsplit(":", 1)[1])
        with pytest.raises(errors.NemoError) as refused:
            await client.upload_urls(session.session_id, [target.format(port=port)])
        assert refused.value.code == 4003, refused.value
        assert server.requests == [] and port not in {p for _, p in loopback_only}, loopback_only
        assert media_files(engine) == []


async def test_a_name_that_resolves_inside_is_refused(
    tmp_path: Path, http: aiohttp.ClientSession, repo: SqliteRepository, loopback_only: list[tuple[str, int]]
) -> None:
    asked: list[str] = []

    async def resolve(host: str, port: int) -> Sequence[str]:
        asked.append(host)
        return {"inside.example": ["93.184.216.34", "10.0.0.7"], "meta.example": ["fd00::1"]}[host]

    async with make_engine(tmp_path / "engine", resolve=resolve) as engine:
        client = client_for(engine, http, repo)
        session = await client.create_session("en")
        for url in ("https://inside.example/a.mp4", "http://meta.example/a.mp4"):
            with pytest.raises(errors.NemoError) as refused:
                await client.upload_urls(session.session_id, [url])
            assert refused.value.code == 4003
    assert asked == ["inside.example", "meta.example"]


async def test_redirect_to_a_private_address_is_refused(
    tmp_path: Path,
    http: aiohttp.ClientSession,
    repo: SqliteRepository,
    media: dict[str, Path],
    loopback_only: list[tuple[str, int]],
) -> None:
    redirects = {"go": "http://10.9.8.7/clip.mp4", "hop": "/clip.mp4", "broken": "http://127.0.0.1:99999/clip.mp4"}
    async with (
        make_engine(tmp_path / "engine", url_policy=LOOPBACK_ONLY) as engine,
        FileServer({"clip.mp4": media["clip"]}, redirects) as server,
    ):
        client = client_for(engine, http, repo)
        session = await client.create_session("en")
        with pytest.raises(errors.NemoError) as refused:
            await client.upload_urls(session.session_id, [f"{server.base}/go"])
        assert refused.value.code == 4003 and server.requests == ["go"]
        await client.upload_urls(session.session_id, [f"{server.base}/hop"])  # a redirect that stays is followed
        assert server.requests == ["go", "hop", "clip.mp4"]
        with pytest.raises(errors.NemoError) as broken:  # a Location that is not a valid address
            await client.upload_urls(session.session_id, [f"{server.base}/broken"])
        assert broken.value.code == 4004 and "not valid" in broken.value.detail
        assert len((await client.state(session.session_id)).video_infos) == 1


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:93.184.216.34", True),
        ("2002:0a00:0001::1", False),  # 6to4 around 10.0.0.1
        ("64:ff9b::7f00:1", False),  # NAT64 around 127.0.0.1
        ("2001:db8::1", False),
    ],
)
def test_address_rule(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public
    assert AddressPolicy().permits(ipaddress.ip_address(address)) is public
    assert AddressPolicy(allow_private=True).permits(ipaddress.ip_address(address))


async def test_4k_hevc_is_accepted_and_rendered_to_1080p(
    tmp_path: Path, http: aiohttp.ClientSession, repo: SqliteRepository
) -> None:
    """A phone's 4K HEVC 10-bit clip is taken as it is; the real render scales it to the canvas."""
    hevc = tmp_path / "IMG_0001.MOV"
    mediagen.ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=3840x2160:rate=30:duration=0.4",
        "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
        "-pix_fmt", "yuv420p10le", "-tag:v", "hvc1", "-f", "mov", hevc,
    )  # fmt: skip
    async with Engine(settings(tmp_path / "engine")) as engine:
        client = client_for(engine, http, repo)
        session = await client.create_session("en")
        await client.upload_files(session.session_id, [file_source(hevc)])
        state = await client.state(session.session_id)
        info = state.video_infos[0]
        assert (info["video_codec"], info["width"], info["height"]) == ("hevc", 3840, 2160)
        assert state.draft is not None
        started = await client.start_render(session.session_id, state.draft)
        async with asyncio.timeout(240):
            while not (done := await client.render_status(started.render_id)).finished:
                await asyncio.sleep(0.1)
        assert done.status == "completed" and done.url, done
        async with http.get(done.url) as resp:
            (tmp_path / "out.mp4").write_bytes(await resp.read())
    out = mediagen.probe(tmp_path / "out.mp4")
    assert (out.video_codec, out.pix_fmt, out.width, out.height) == ("h264", "yuv420p", 1920, 1080)


async def test_a_full_disk_is_a_clear_507(
    engine: Engine, client: NemoClient, media: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(self: object, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("engine.ingest._Sink._write", no_space)
    session = await client.create_session("en")
    with pytest.raises(errors.NemoError) as refused:
        await client.upload_files(session.session_id, [file_source(media["clip"])])
    assert refused.value.code == 507 and "disk is full" in refused.value.detail
    assert media_files(engine) == []
    monkeypatch.undo()
    await client.upload_files(session.session_id, [file_source(media["clip"])])
    assert len(media_files(engine)) == 1


async def test_an_upload_cut_off_midway_leaves_nothing(
    engine: Engine, client: NemoClient, http: aiohttp.ClientSession, repo: SqliteRepository
) -> None:
    session = await client.create_session("en")
    token = (await repo.get_auth()).token  # type: ignore[union-attr]
    partial = engine.settings.media_dir / session.session_id
    seen_partial = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"\x00" * MIB
        async with asyncio.timeout(10):
            while not any(partial.glob("*.part")):
                await asyncio.sleep(0.01)
        seen_partial.set()
        raise ConnectionResetError("the uploader went away")

    writer = aiohttp.MultipartWriter("form-data")
    part = writer.append(body(), {"Content-Type": "video/mp4"})
    part.set_content_disposition("form-data", name="files", filename="cut.mp4")
    with pytest.raises((aiohttp.ClientError, ConnectionResetError)):
        await http.post(
            f"{engine.base_url}/api/upload-video/nemo_agent/me/{session.session_id}",
            data=writer,
            headers={"Authorization": f"Bearer {token}"},
        )
    assert seen_partial.is_set()
    async with asyncio.timeout(10):
        while media_files(engine):
            await asyncio.sleep(0.02)
    assert (await client.state(session.session_id)).video_infos == []


async def test_a_half_received_upload_left_by_a_killed_engine_is_removed_at_start(
    tmp_path: Path, http: aiohttp.ClientSession, repo: SqliteRepository, media: dict[str, Path]
) -> None:
    data = tmp_path / "engine"
    async with make_engine(data) as engine:
        client = client_for(engine, http, repo)
        session = await client.create_session("en")
        await client.upload_files(session.session_id, [file_source(media["clip"])])
        kept = media_files(engine)
    stray = data / "media" / session.session_id / "m_0123456789abcdef0123456789abcdef.part"
    stray.write_bytes(b"\0" * 1024)  # what a SIGKILL in the middle of an upload leaves
    async with make_engine(data) as engine:
        assert media_files(engine) == kept
        assert len((await client_for(engine, http, repo).state(session.session_id)).video_infos) == 1

"""Uploads (bot.core.uploads) in memory: every check and its verdict text, streaming, the upload status."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from bot.core.ports import IncomingFile
from bot.nemo.client import UploadSource
from tests.core_kit import Core, eventually

MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 500


def _file(name: str, data: bytes = b"", *, size: int | None = None, content_type: str | None = None) -> IncomingFile:
    url = f"https://cdn.discordapp.com/attachments/1/2/{name}"
    return IncomingFile(name, url, len(data) if size is None else size, content_type)


async def test_each_refused_file_says_why_and_the_rest_are_streamed_intact(core: Core) -> None:
    project = await core.project(100)
    files = {
        "clip.mp4": MP4,
        "still.png": PNG,
        "fake.mp4": PNG,
        "empty.mov": b"",
    }
    for name, data in files.items():
        core.attachments.files[_file(name, data).url] = data
    incoming = (
        _file("clip.mp4", MP4, content_type="video/mp4"),
        _file("setup.exe", b"MZ", content_type="application/octet-stream"),
        _file("huge.mp4", size=600 * 1024 * 1024),
        _file("fake.mp4", PNG),
        _file("empty.mov", b""),
        _file("gone.mp4", size=100),  # the CDN does not have it
        _file("still.png", PNG, content_type="image/png"),
    )
    core.send(100, files=incoming)
    await core.idle()
    texts = core.surface(100).texts[1:]
    assert texts == [
        "⚠️ Skipped setup.exe: not a format I can use (supported: mp4, mov, avi, webm, mkv, jpg, png, gif, webp, "
        "mp3, wav, m4a, aac)",
        "⚠️ Skipped huge.mp4: larger than 500 MB — try compressing or trimming it",
        "⚠️ Skipped fake.mp4: its contents don't look like MP4",
        "⚠️ Skipped empty.mov: the file is empty",
        "⚠️ Skipped gone.mp4: I couldn't download it from Discord — please attach it again",
        "📥 Uploaded 2 files: clip.mp4, still.png.",
    ]
    assert core.backend.sessions[project.session_id].uploads == [("clip.mp4", MP4), ("still.png", PNG)]


async def test_a_long_upload_shows_an_uploading_status_that_gives_way_to_the_result(core: Core) -> None:
    project = await core.project(100)
    file = _file("long_take.mov", MP4)
    core.attachments.files[file.url] = MP4
    opened = []
    release = asyncio.Event()
    plain = core.attachments.source

    def slow_source(incoming: IncomingFile) -> UploadSource:
        source = plain(incoming)

        async def stream() -> AsyncIterator[bytes]:
            opened.append(incoming.filename)
            await release.wait()
            async for chunk in source.open():
                yield chunk

        return UploadSource(source.filename, stream, source.content_type, source.size)

    core.attachments.source = slow_source  # type: ignore[method-assign,assignment]
    core.send(100, files=(file,))
    await eventually(lambda: opened, what="the upload streaming")
    await core.clock.advance(120)
    surface = core.surface(100)
    assert [s.texts for s in surface.statuses] == [[r"⏳ Still working… uploading long\_take.mov (2m 00s)"]]
    release.set()
    await core.idle()
    assert surface.statuses[0].deleted and surface.texts[-1] == r"📥 Uploaded **long\_take.mov**."
    assert core.backend.sessions[project.session_id].uploads == [("long_take.mov", MP4)]


async def test_links_are_passed_on_only_for_allowed_hosts(core: Core) -> None:
    project = await core.project(100)
    good = "https://cdn.discordapp.com/attachments/1/2/beach.mp4?ex=1"
    core.send(100, f"upload {good} http://169.254.169.254/latest/meta-data.mp4 https://evil.example/x.mp4")
    await core.idle()
    assert core.backend.sessions[project.session_id].links == [good]
    texts = core.surface(100).texts[1:]
    assert texts == [
        "⚠️ I only take links from Discord's own file CDN, not from 169.254.169.254. Attach the file here.",
        "⚠️ I only take links from Discord's own file CDN, not from evil.example. Attach the file here.",
        "📥 Uploaded **beach.mp4**.",
    ]


async def test_upload_without_files_or_links_explains_how(core: Core) -> None:
    await core.project(100)
    core.send(100, "upload")
    await core.idle()
    assert core.surface(100).texts[-1].startswith("To add media, attach files")

"""Uploads in: streamed to disk under the size cap, probed by content, turned into `MediaInfo`.

Multipart parts named `files` and URL downloads (engine/fetch.py) go the same way: bytes are
written as they arrive (never held whole in memory), hashed on the way, cut off past
ENGINE_MAX_UPLOAD_BYTES (4002, partial file removed), then probed (engine/probe.py: 4001 for
anything that is not one of the 13 formats or does not decode). One request is all or nothing:
if any file is refused, none of that request's files is kept.

Client file names are untrusted: only a cleaned copy is stored or echoed (`clean_filename`);
files on disk are named by their media id.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import logging
import os
import re
import secrets
import time
import unicodedata
from collections.abc import AsyncIterator, Sequence
from pathlib import Path, PurePosixPath
from typing import IO
from urllib.parse import unquote

from aiohttp import BodyPartReader, web

from engine.config import EngineSettings
from engine.fetch import Fetcher, TooLarge, UrlFailed, UrlRefused
from engine.media import MediaInfo
from engine.probe import FORMATS_TEXT, ProbeRefused, probe

log = logging.getLogger(__name__)

MAX_NAME_CHARS = 120
MAX_FILES = 20
"""Files in one upload request."""
MAX_URLS = 10
CHUNK = 1024 * 1024
FLUSH_AT = 1024 * 1024
"""Bytes gathered before one write in the worker thread (fewer thread hops per megabyte)."""
IN_FLIGHT = 4
"""Pieces of FLUSH_AT bytes waiting for the disk at most."""

_BIDI_AND_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]")
_SPACES = re.compile(r"\s+")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


class IngestError(Exception):
    """An upload refused with a business `code` (4001, 4002, 4003, 4004, 400, 507) and a message
    that is safe to show a user."""

    def __init__(self, code: int, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def clean_filename(raw: str | None, fallback: str = "upload") -> str:
    """A file name fit to store and show: the last path part only, no control, bidi or invisible
    characters, whitespace collapsed, no leading dots, at most MAX_NAME_CHARS (extension kept)."""
    name = unicodedata.normalize("NFC", raw or "").replace("\\", "/")
    name = PurePosixPath(name).name if "/" in name else name
    name = _BIDI_AND_INVISIBLE.sub("", name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C" and ch not in "\u2028\u2029")
    name = _SPACES.sub(" ", name).strip().lstrip(".").strip()
    if not name or name in (".", ".."):
        return fallback
    if len(name) > MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 8 and stem:
            name = stem[: MAX_NAME_CHARS - len(ext) - 2].rstrip() + "…." + ext
        else:
            name = name[: MAX_NAME_CHARS - 1].rstrip() + "…"
    return name


def new_media_id() -> str:
    """Unguessable: media links (`/media/<id>`) are served without a token, like a CDN's."""
    return f"m_{secrets.token_hex(16)}"


class _Sink:
    """One file being received. Bytes are gathered into ~1 MiB pieces that a writer task writes
    and hashes in a worker thread while the event loop receives the next ones; at most
    IN_FLIGHT pieces wait, so a slow disk slows the upload down instead of filling memory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0
        self._hash = hashlib.sha256()
        self._buffer = bytearray()
        self._file: IO[bytes] | None = None
        self._pieces: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=IN_FLIGHT)
        self._writer: asyncio.Task[None] | None = None

    async def open(self) -> None:
        await asyncio.to_thread(self.path.parent.mkdir, parents=True, exist_ok=True)
        fd = await asyncio.to_thread(os.open, self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = os.fdopen(fd, "wb", buffering=0)
        self._writer = asyncio.create_task(self._write_pieces(), name=f"write {self.path.name}")

    async def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if not self._buffer and len(chunk) >= FLUSH_AT // 4:
            await self._put(chunk)  # large enough on its own: no copy
            return
        self._buffer += chunk
        if len(self._buffer) >= FLUSH_AT:
            await self._hand_over()

    async def _hand_over(self) -> None:
        if self._buffer:
            data, self._buffer = bytes(self._buffer), bytearray()
            await self._put(data)

    async def _put(self, item: bytes | None) -> None:
        writer = self._writer
        assert writer is not None
        put = asyncio.ensure_future(self._pieces.put(item))
        await asyncio.wait((put, writer), return_when=asyncio.FIRST_COMPLETED)
        if not put.done():  # the writer stopped (a disk error): report it instead of waiting forever
            put.cancel()
            await writer
            raise OSError("the upload could not be written")

    async def _write_pieces(self) -> None:
        while (data := await self._pieces.get()) is not None:
            write = asyncio.ensure_future(asyncio.to_thread(self._write, data))
            try:
                await asyncio.shield(write)
            except asyncio.CancelledError:
                # A cancelled await does not stop the thread: let its write end before `discard`
                # closes the file, or the write could land on a reused descriptor (another file).
                await asyncio.wait((write,))
                raise

    def _write(self, data: bytes) -> None:
        assert self._file is not None
        self._file.write(data)
        self._hash.update(data)

    async def finish(self) -> str:
        """Write what is left, sync to disk, close; returns the SHA-256."""
        await self._hand_over()
        await self._put(None)
        assert self._writer is not None
        await self._writer
        file, self._file = self._file, None
        if file is not None:
            await asyncio.to_thread(_sync_close, file)
        return self._hash.hexdigest()

    async def discard(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        file, self._file = self._file, None
        if file is not None:
            await asyncio.to_thread(file.close)
        await asyncio.to_thread(self.path.unlink, True)


def _sync_close(file: IO[bytes]) -> None:
    try:
        os.fsync(file.fileno())
    finally:
        file.close()


class Ingest:
    """Receives the uploads of one engine (multipart bodies and links)."""

    def __init__(self, settings: EngineSettings, fetcher: Fetcher) -> None:
        self.settings = settings
        self.fetcher = fetcher

    def _limit_text(self) -> str:
        return f"{self.settings.max_upload_bytes / (1024 * 1024):g} MB"

    def _too_large(self, name: str) -> IngestError:
        return IngestError(4002, f"{name}: file too large (the limit is {self._limit_text()}); trim or compress it")

    async def from_multipart(self, request: web.Request, session_id: str) -> list[MediaInfo]:
        """Every part named `files`, in order; all or nothing."""
        reader = await request.multipart()
        kept: list[MediaInfo] = []
        try:
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    raise IngestError(400, "nested multipart bodies are not supported", status=400)
                if part.name != "files":
                    await part.release()
                    continue
                if len(kept) >= MAX_FILES:
                    raise IngestError(400, f"at most {MAX_FILES} files per upload", status=400)
                name = clean_filename(_form_filename(part.filename), fallback=f"upload {len(kept) + 1}")
                kept.append(await self._receive_part(part, session_id, name))
            if not kept:
                raise IngestError(400, "no parts named 'files'", status=400)
        except BaseException:
            await _remove(kept)
            raise
        return kept

    @contextlib.asynccontextmanager
    async def _receiving(self, session_id: str) -> AsyncIterator[_Sink]:
        """A new file to receive into, removed again if anything goes wrong while it is received
        (a disk error becomes 507 or 500)."""
        sink = _Sink(self._folder(session_id) / f"{new_media_id()}.part")
        await sink.open()
        try:
            yield sink
        except OSError as exc:
            await sink.discard()
            raise _disk_error(exc) from exc
        except BaseException:
            await sink.discard()
            raise

    async def _receive_part(self, part: BodyPartReader, session_id: str, name: str) -> MediaInfo:
        async with self._receiving(session_id) as sink:
            while chunk := await part.read_chunk(CHUNK):
                if sink.size + len(chunk) > self.settings.max_upload_bytes:
                    raise self._too_large(name)
                await sink.write(chunk)
            digest = await sink.finish()
        return await self._accept(sink, session_id, name, digest)

    async def from_urls(self, urls: Sequence[str], session_id: str) -> list[MediaInfo]:
        """Download every link, in order; all or nothing."""
        if len(urls) > MAX_URLS:
            raise IngestError(400, f"at most {MAX_URLS} links per upload", status=400)
        kept: list[MediaInfo] = []
        try:
            for url in urls:
                kept.append(await self._receive_url(url, session_id, len(kept) + 1))
        except BaseException:
            await _remove(kept)
            raise
        return kept

    async def _receive_url(self, url: str, session_id: str, number: int) -> MediaInfo:
        fallback = f"link {number}"
        async with self._receiving(session_id) as sink:
            try:
                download = await self.fetcher.download(url, sink.write, max_bytes=self.settings.max_upload_bytes)
            except UrlRefused as exc:
                raise IngestError(4003, exc.reason) from None
            except UrlFailed as exc:
                raise IngestError(4004, exc.reason) from None
            except TooLarge:
                raise self._too_large(fallback) from None
            digest = await sink.finish()
        return await self._accept(sink, session_id, clean_filename(download.filename, fallback=fallback), digest)

    async def _accept(self, sink: _Sink, session_id: str, name: str, digest: str) -> MediaInfo:
        """Probe the received file; keep it under its media id and the extension its content
        deserves, or remove it and refuse with 4001."""
        part, media_id = sink.path, sink.path.stem
        try:
            found = await probe(part)
        except ProbeRefused as exc:
            await asyncio.to_thread(part.unlink, True)
            raise IngestError(4001, f"{name}: {exc.reason}") from None
        except BaseException:
            await asyncio.to_thread(part.unlink, True)
            raise
        final = part.with_name(f"{media_id}.{found.extension}")
        await asyncio.to_thread(part.rename, final)
        log.info(
            "session=%s stored upload %s (%s, %s, %d bytes)",
            session_id,
            media_id,
            found.kind,
            found.container,
            sink.size,
        )
        return MediaInfo.of(
            found,
            media_id=media_id,
            session_id=session_id,
            filename=name,
            path=final,
            size=sink.size,
            sha256=digest,
            uploaded_at=time.time(),
        )

    def _folder(self, session_id: str) -> Path:
        return self.settings.media_dir / session_id


def _form_filename(raw: str | None) -> str | None:
    """aiohttp clients (the bot's among them) percent-encode a part's file name inside the quotes;
    browsers and curl send it as UTF-8. Undo the former when the name carries %XX escapes."""
    if raw and _PERCENT_ESCAPE.search(raw):
        return unquote(raw, errors="replace")
    return raw


async def _remove(media: Sequence[MediaInfo]) -> None:
    for info in media:
        with contextlib.suppress(OSError):
            await asyncio.to_thread(info.path.unlink, True)


def _disk_error(exc: OSError) -> IngestError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return IngestError(507, "the engine's disk is full; ask the operator to free some space", status=507)
    log.error("upload could not be written: %s", exc)
    return IngestError(500, "the upload could not be stored", status=500)


__all__ = ["FORMATS_TEXT", "Ingest", "IngestError", "clean_filename", "new_media_id"]

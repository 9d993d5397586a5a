"""Attachments and links handed to the backend: the checks, their verdicts, streaming, progress.

One upload, as data: the checks that need no download (name, declared type, declared size) → the
first bytes from the CDN, whose content must fit the extension → one multipart request that streams
each file from Discord's CDN into the backend (bytes never land in memory whole) → "Uploaded …".
A long upload shows the "⏳ … uploading" status until the result replaces it. The URL form passes on
only links to allowed hosts (Discord's CDN by default): the backend fetches them, so no SSRF.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import aiohttp

from bot.config import UploadSettings
from bot.nemo.client import UploadSource
from storage.repository import Project

from . import formats
from .ports import Attachments, Backend, IncomingFile, IncomingMessage, ThreadSurface
from .progress import Progress
from .queues import ThreadQueues
from .ratelimit import TokenBucket
from .sessions import Sessions
from .texts import SUPPORTED_FORMATS_TEXT, t

log = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024
LINK = re.compile(r"https?://[^\s<>\"']+")
_MARKDOWN = re.compile(r"([\\*_`~|>\[\]()#<@])")


class DownloadFailed(Exception):
    """The CDN refused or broke off the download."""


class TooLargeWhileStreaming(Exception):
    """The file turned out larger than declared and the limit."""


@dataclass(frozen=True, slots=True)
class Rejection:
    filename: str
    reason: str


def check_declared(file: IncomingFile, max_bytes: int, lang: str) -> Rejection | None:
    """Checks that need no download: name, declared type, declared size."""
    if not formats.is_supported_name(file.filename) or not formats.content_type_allowed(file.content_type):
        return Rejection(file.filename, t("reason_type", lang, formats=SUPPORTED_FORMATS_TEXT))
    if file.size > max_bytes:
        return Rejection(file.filename, t("reason_size", lang, limit=formats.human_size(max_bytes)))
    if file.size == 0:
        return Rejection(file.filename, t("reason_empty", lang))
    return None


def sniff_verdict(filename: str, head: bytes, lang: str) -> str | None:
    """Why the first bytes refuse the file (None: they fit its extension)."""
    if not head:
        return t("reason_empty", lang)
    if not formats.content_matches(filename, head):
        return t("reason_content", lang, ext=formats.extension(filename).upper())
    return None


def display_name(filename: str) -> str:
    """A filename shown literally in Discord markdown (escaped, never interpreted)."""
    return _MARKDOWN.sub(r"\\\1", filename[:80]) or "file"


def links_in(text: str) -> list[str]:
    return LINK.findall(text)


def host_allowed(url: str, hosts: tuple[str, ...]) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and parts.username is None and parts.port in (None, 443) and host in hosts


class CdnStreamer:
    """Reads attachments with the bot's own aiohttp session (never discord.py's `Attachment.read()`,
    which loads the whole file)."""

    def __init__(self, http: aiohttp.ClientSession, *, max_bytes: int) -> None:
        self._http = http
        self._max = max_bytes

    async def head_bytes(self, url: str) -> bytes:
        headers = {"Range": f"bytes=0-{formats.SNIFF_BYTES - 1}"}
        try:
            async with self._http.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=60)) as resp:
                if resp.status not in (200, 206):
                    raise DownloadFailed(f"CDN answered {resp.status}")
                head = b""
                async for chunk in resp.content.iter_chunked(formats.SNIFF_BYTES):
                    head += chunk
                    if len(head) >= formats.SNIFF_BYTES:
                        break
                return head[: formats.SNIFF_BYTES]
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DownloadFailed(type(exc).__name__) from exc

    def source(self, file: IncomingFile) -> UploadSource:
        async def open_stream() -> AsyncIterator[bytes]:
            sent = 0
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=120)
            try:
                async with self._http.get(file.url, timeout=timeout) as resp:
                    if resp.status != 200:
                        raise DownloadFailed(f"CDN answered {resp.status}")
                    async for chunk in resp.content.iter_chunked(CHUNK_BYTES):
                        sent += len(chunk)
                        if sent > self._max:
                            raise TooLargeWhileStreaming(file.filename)
                        yield chunk
            except aiohttp.ClientError as exc:
                raise DownloadFailed(type(exc).__name__) from exc

        return UploadSource(
            filename=file.filename, open=open_stream, content_type=formats.mime_for(file.filename), size=file.size
        )


class Uploads:
    def __init__(
        self,
        backend: Backend,
        sessions: Sessions,
        attachments: Attachments,
        queues: ThreadQueues,
        settings: UploadSettings,
        *,
        budget: TokenBucket,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._backend = backend
        self._sessions = sessions
        self._attachments = attachments
        self._queues = queues
        self._settings = settings
        self._budget = budget
        self._clock = clock
        self._sleep = sleep

    async def upload_files(self, project: Project, message: IncomingMessage, surface: ThreadSurface, lang: str) -> None:
        """Every attachment of the message that passes the checks, in one streamed request."""
        sources = [source for file in message.files if (source := await self._accept(file, surface, lang))]
        if not sources:
            return

        async def send(p: Project) -> None:
            await self._backend.upload_files(p.session_id, sources)

        names = ", ".join(display_name(s.filename) for s in sources)
        progress = Progress(
            surface,
            lang,
            interval=self._settings.heartbeat_seconds,
            budget=self._budget,
            clock=self._clock,
            sleep=self._sleep,
            stage=t("stage_uploading", lang, names=names[:200]),
            waiting=lambda: self._queues.waiting(project.thread_id) - 1,
        )
        try:
            async with progress:
                try:
                    async with surface.typing():
                        await self._sessions.with_session(project, surface, lang, send, text=message.text)
                except (DownloadFailed, TooLargeWhileStreaming) as exc:
                    log.warning("upload aborted: %s", type(exc).__name__)
                    reason = (
                        t("reason_download", lang)
                        if isinstance(exc, DownloadFailed)
                        else t("reason_size", lang, limit=formats.human_size(self._settings.max_bytes))
                    )
                    await surface.post(t("upload_skipped", lang, name=names, reason=reason))
                    return
        finally:
            if progress.status is not None:  # a long upload showed "⏳ … uploading": the result replaces it
                await progress.status.finish(None)
        log.info("uploaded %d file(s)", len(sources))
        if len(sources) == 1:
            await surface.post(t("uploaded_one", lang, name=display_name(sources[0].filename)))
        else:
            await surface.post(t("uploaded_many", lang, count=len(sources), names=names))

    async def _accept(self, file: IncomingFile, surface: ThreadSurface, lang: str) -> UploadSource | None:
        """The file as a stream to upload, or None after telling the thread why it was skipped."""
        rejection = check_declared(file, self._settings.max_bytes, lang)
        if rejection is not None:
            reason = rejection.reason
        else:
            try:
                head = await self._attachments.head_bytes(file.url)
            except DownloadFailed:
                reason = t("reason_download", lang)
            else:
                verdict = sniff_verdict(file.filename, head, lang)
                if verdict is None:
                    return self._attachments.source(file)
                reason = verdict
        await surface.post(t("upload_skipped", lang, name=display_name(file.filename), reason=reason))
        return None

    async def upload_links(
        self, project: Project, message: IncomingMessage, surface: ThreadSurface, lang: str, urls: list[str]
    ) -> None:
        """The URL form of upload; only allowed hosts (Discord's CDN by default) are passed on."""
        hosts = self._settings.url_hosts
        allowed = [u for u in urls if host_allowed(u, hosts) and formats.is_supported_name(urlsplit(u).path)]
        for url in urls:
            if url not in allowed:
                await surface.post(t("upload_url_refused", lang, url=display_name(urlsplit(url).netloc or url)))
        if not allowed:
            return

        async def send(p: Project) -> None:
            await self._backend.upload_urls(p.session_id, allowed)

        await self._sessions.with_session(project, surface, lang, send, text=message.text)
        names = [display_name(PurePosixPath(urlsplit(u).path).name or u) for u in allowed]
        key = "uploaded_one" if len(names) == 1 else "uploaded_many"
        await surface.post(t(key, lang, name=names[0], count=len(names), names=", ".join(names)))

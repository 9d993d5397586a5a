"""Attachments and links handed to the backend: the checks, their verdicts, streaming, progress.

One upload, as data: the checks that need no download (name, declared type, declared size) → the
first bytes from the CDN, whose content must fit the extension → one multipart request that streams
each file from Discord's CDN into the backend (bytes never land in memory whole) → "Uploaded …".
A long upload shows the "⏳ … uploading" status until the result replaces it. The URL form passes on
only links to allowed hosts (Discord's CDN by default): the backend fetches them, so no SSRF; a
download follows a redirect only to such a host too (bot.core.links).

What went wrong is told as it happened: a file larger than it said (the cap stops the download), a
link that expired, a download that broke off partway. Those errors are raised by the file's own
stream and reach here unwrapped through the backend client (bot.nemo.client.upload_files).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urljoin, urlsplit

import aiohttp

from bot.config import UploadSettings
from bot.metrics import UPLOADS, count_error
from bot.nemo.client import UploadSource
from bot.nemo.errors import NemoError
from storage.repository import Project

from . import formats
from .filenames import clean_filename, literal
from .links import MAX_REDIRECTS, link_allowed
from .ports import Attachments, Backend, IncomingFile, IncomingMessage, ThreadSurface
from .progress import Progress
from .queues import ThreadQueues
from .ratelimit import TokenBucket
from .sessions import Sessions
from .texts import SUPPORTED_FORMATS_TEXT, t

__all__ = [
    "CHUNK_BYTES",
    "CdnStreamer",
    "DownloadFailed",
    "Rejection",
    "TooLargeWhileStreaming",
    "Uploads",
    "check_declared",
    "display_name",
    "sniff_verdict",
]

log = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_GONE = frozenset({403, 404, 410})  # Discord's signed attachment links expire (403) or the file was deleted


class DownloadFailed(Exception):
    """The CDN refused, redirected elsewhere, or broke off the download of one file.

    `reason_key` is the catalogue text that says which (bot.core.texts)."""

    EXPIRED = "reason_download_expired"
    CUT = "reason_download_cut"
    FAILED = "reason_download"

    def __init__(self, detail: str, *, filename: str = "", reason_key: str = FAILED) -> None:
        super().__init__(detail)
        self.filename = filename
        self.reason_key = reason_key


class TooLargeWhileStreaming(Exception):
    """The file turned out larger than declared and the limit: the download stopped at the limit."""

    def __init__(self, filename: str) -> None:
        super().__init__(filename)
        self.filename = filename


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
    return literal(filename, 80) or "file"


class CdnStreamer:
    """Reads attachments with the bot's own aiohttp session (never discord.py's `Attachment.read()`,
    which loads the whole file).

    Redirects are followed only to `redirect_hosts`, each hop checked by the rule of bot.core.links
    (none at all when the tuple is empty): a redirect elsewhere fails the download."""

    def __init__(self, http: aiohttp.ClientSession, *, max_bytes: int, redirect_hosts: tuple[str, ...] = ()) -> None:
        self._http = http
        self._max = max_bytes
        self._redirect_hosts = redirect_hosts

    @asynccontextmanager
    async def _get(
        self, url: str, *, filename: str, headers: dict[str, str] | None, timeout: aiohttp.ClientTimeout
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        for _ in range(MAX_REDIRECTS + 1):
            async with self._http.get(url, headers=headers, timeout=timeout, allow_redirects=False) as resp:
                if resp.status in _REDIRECTS:
                    target = urljoin(url, resp.headers.get("Location", ""))
                    if target == url or not link_allowed(target, self._redirect_hosts):
                        log.warning("download of %s redirected to %s: refused", filename, urlsplit(target).netloc)
                        raise DownloadFailed("redirect refused", filename=filename)
                    url = target
                    continue
                if resp.status in _GONE:
                    raise DownloadFailed(
                        f"CDN answered {resp.status}", filename=filename, reason_key=DownloadFailed.EXPIRED
                    )
                yield resp
                return
        raise DownloadFailed("too many redirects", filename=filename)

    async def head_bytes(self, url: str) -> bytes:
        headers = {"Range": f"bytes=0-{formats.SNIFF_BYTES - 1}"}
        try:
            async with self._get(url, filename="", headers=headers, timeout=aiohttp.ClientTimeout(total=60)) as resp:
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
                async with self._get(file.url, filename=file.filename, headers=None, timeout=timeout) as resp:
                    if resp.status != 200:
                        raise DownloadFailed(f"CDN answered {resp.status}", filename=file.filename)
                    async for chunk in resp.content.iter_chunked(CHUNK_BYTES):
                        sent += len(chunk)
                        if sent > self._max:
                            raise TooLargeWhileStreaming(file.filename)
                        yield chunk
            except (aiohttp.ClientError, TimeoutError) as exc:
                # Bytes had arrived, or the body ended short of its length: it broke off partway.
                cut = sent > 0 or isinstance(exc, aiohttp.ClientPayloadError)
                reason = DownloadFailed.CUT if cut else DownloadFailed.FAILED
                raise DownloadFailed(type(exc).__name__, filename=file.filename, reason_key=reason) from exc

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
                    await self._report_aborted(exc, sources, surface, lang)
                    return
                except NemoError:
                    UPLOADS.labels("failed").inc(len(sources))
                    raise  # told by the caller, in the words of its type (bot.core.feedback)
        finally:
            if progress.status is not None:  # a long upload showed "⏳ … uploading": the result replaces it
                await progress.status.finish(None)
        log.info("uploaded %d file(s)", len(sources))
        UPLOADS.labels("uploaded").inc(len(sources))
        if len(sources) == 1:
            await surface.post(t("uploaded_one", lang, name=display_name(sources[0].filename)))
        else:
            await surface.post(t("uploaded_many", lang, count=len(sources), names=names))

    async def _report_aborted(
        self,
        exc: DownloadFailed | TooLargeWhileStreaming,
        sources: Sequence[UploadSource],
        surface: ThreadSurface,
        lang: str,
    ) -> None:
        """One file's stream failed the whole request: say which file and what happened to it, and that
        the others in the same request were not uploaded either."""
        failed = exc.filename or (sources[0].filename if len(sources) == 1 else "")
        log.warning("upload aborted by %s: %s %s", failed or "a file", type(exc).__name__, exc)
        if isinstance(exc, TooLargeWhileStreaming):
            reason = t("reason_size", lang, limit=formats.human_size(self._settings.max_bytes))
            UPLOADS.labels("too_large").inc()
            count_error("file_too_large")
        else:
            reason = t(exc.reason_key, lang)
            UPLOADS.labels("download_failed").inc()
            count_error(exc.reason_key.removeprefix("reason_"))
        others = [s.filename for s in sources if s.filename != failed]
        if failed:
            await surface.post(t("upload_skipped", lang, name=display_name(failed), reason=reason))
        else:
            others = [s.filename for s in sources]
        if others:
            UPLOADS.labels("failed").inc(len(others))
            names = ", ".join(display_name(name) for name in others)
            await surface.post(t("upload_batch_aborted", lang, names=names[:1500]))

    async def _accept(self, file: IncomingFile, surface: ThreadSurface, lang: str) -> UploadSource | None:
        """The file as a stream to upload, or None after telling the thread why it was skipped."""
        rejection = check_declared(file, self._settings.max_bytes, lang)
        if rejection is not None:
            reason = rejection.reason
            UPLOADS.labels("rejected").inc()
        else:
            try:
                head = await self._attachments.head_bytes(file.url)
            except DownloadFailed as exc:
                log.warning("download of %s failed: %s", file.filename, exc)
                reason = t(exc.reason_key, lang)
                UPLOADS.labels("download_failed").inc()
                count_error(exc.reason_key.removeprefix("reason_"))
            else:
                verdict = sniff_verdict(file.filename, head, lang)
                if verdict is None:
                    return self._attachments.source(file)
                reason = verdict
                UPLOADS.labels("rejected").inc()
        await surface.post(t("upload_skipped", lang, name=display_name(file.filename), reason=reason))
        return None

    async def upload_links(
        self, project: Project, message: IncomingMessage, surface: ThreadSurface, lang: str, urls: list[str]
    ) -> None:
        """The URL form of upload; only allowed hosts (Discord's CDN by default) are passed on."""
        hosts = self._settings.url_hosts
        allowed = [u for u in urls if link_allowed(u, hosts) and formats.is_supported_name(_link_name(u))]
        for url in urls:
            if url not in allowed:
                await surface.post(t("upload_url_refused", lang, url=display_name(urlsplit(url).netloc or url)))
        if not allowed:
            return

        async def send(p: Project) -> None:
            await self._backend.upload_urls(p.session_id, allowed)

        await self._sessions.with_session(project, surface, lang, send, text=message.text)
        names = [display_name(_link_name(u)) for u in allowed]
        key = "uploaded_one" if len(names) == 1 else "uploaded_many"
        await surface.post(t(key, lang, name=names[0], count=len(names), names=", ".join(names)))


def _link_name(url: str) -> str:
    """The file name a link shows (its last path part, cleaned like an attachment's name)."""
    return clean_filename(PurePosixPath(urlsplit(url).path).name)

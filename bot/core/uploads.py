"""Attachment checks and streaming from Discord's CDN straight into the backend upload.

Bytes are never held whole: each file is read from the CDN in chunks while the multipart
request is being written. The first bytes are checked with a small range request first, so
a file that lies about its type is refused before anything is sent.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp

from bot.nemo.client import UploadSource

from . import formats
from .ports import IncomingFile
from .texts import SUPPORTED_FORMATS_TEXT, t

log = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024


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


class CdnStreamer:
    """Reads attachments with the bot's own aiohttp session (never `Attachment.read()`)."""

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

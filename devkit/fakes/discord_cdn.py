"""The fake's CDN: attachment records, signed URLs and streamed (possibly generated) bodies.

Attachments either hold real bytes or are *generated*: a deterministic byte stream of
any size that is produced chunk by chunk on every download, so a 500 MB attachment costs
no memory. :func:`generated_sha256` recomputes the same stream's hash incrementally.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import mimetypes
import random
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web

from devkit.fakes.discord_models import JSON

CHUNK_SIZE = 64 * 1024
"""Size of each streamed chunk (and of the generator's base block)."""

URL_LIFETIME = 24 * 3600.0
"""How long a signed URL is valid (third parties report about 24 h on Discord)."""


MAGIC: dict[str, bytes] = {
    "mp4": b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom",
    "mov": b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ",
    "m4a": b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00M4A isom",
    "webm": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01",
    "mkv": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01",
    "avi": b"RIFF\x00\x00\x00\x00AVI LIST",
    "wav": b"RIFF\x00\x00\x00\x00WAVEfmt ",
    "webp": b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    "jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "gif": b"GIF89a\x01\x00\x01\x00",
    "mp3": b"ID3\x04\x00\x00\x00\x00\x00\x00",
    "aac": b"\xff\xf1\x50\x80\x00\x1f\xfc",
}
"""File signatures put at the start of generated content, so it passes content sniffing."""


def magic_for(filename: str) -> bytes:
    """The signature a real file with this name would start with (empty when unknown)."""
    return MAGIC.get(filename.lower().rsplit(".", 1)[-1], b"") if "." in filename else b""


def generated_chunks(seed: int, size: int, chunk_size: int = CHUNK_SIZE, header: bytes = b"") -> Iterator[bytes]:
    """Yield the deterministic content of a generated attachment, ``chunk_size`` bytes at a time.

    Chunk ``i`` is a rotation of one pseudo-random base block, so the stream is cheap
    to produce, and reordered or repeated chunks change the hash. ``header`` overwrites
    the first bytes (a file signature).
    """
    base = random.Random(seed).randbytes(chunk_size)
    sent = 0
    index = 0
    while sent < size:
        shift = (index * 7919) % chunk_size
        chunk = base[shift:] + base[:shift]
        if index == 0 and header:
            chunk = header + chunk[len(header) :]
        take = min(chunk_size, size - sent)
        yield chunk[:take]
        sent += take
        index += 1


def generated_sha256(seed: int, size: int, header: bytes = b"") -> str:
    """Hex SHA-256 of a generated attachment's content, computed incrementally (blocking)."""
    digest = hashlib.sha256()
    for chunk in generated_chunks(seed, size, header=header):
        digest.update(chunk)
    return digest.hexdigest()


@dataclass
class CdnFile:
    """One attachment known to the CDN."""

    id: int
    filename: str
    size: int
    content_type: str
    data: bytes | None = None
    seed: int = 0
    header: bytes = b""
    epoch: int = 0
    """Bumped by :meth:`Cdn.expire` so every URL signed so far stops working."""

    def sha256(self) -> str:
        """Hex SHA-256 of the content (blocking for large generated files; see ``Cdn.sha256``)."""
        if self.data is not None:
            return hashlib.sha256(self.data).hexdigest()
        return generated_sha256(self.seed, self.size, self.header)


class Cdn:
    """Attachment store and HTTP handler for ``/attachments/...`` URLs.

    URLs carry Discord-like ``ex`` (expiry, hex), ``is`` (issued, hex) and ``hm``
    (HMAC) parameters; a download answers 403 when the signature is wrong, the
    URL expired by the fake's clock, or :meth:`expire` was called after signing.
    """

    def __init__(self, clock: Callable[[], float], base_url: Callable[[], str]) -> None:
        self._clock = clock
        self._base_url = base_url
        self._secret = secrets.token_bytes(32)
        self.files: dict[int, CdnFile] = {}
        self.chunk_delay = 0.0
        """Seconds to wait after each streamed chunk: a slow CDN, for tests that act mid-download."""
        self.downloads: list[int] = []
        """Ids of attachments served (one entry per successful GET)."""

    def add(
        self,
        attachment_id: int,
        filename: str,
        *,
        data: bytes | None,
        size: int | None,
        content_type: str | None,
    ) -> CdnFile:
        """Register an attachment; ``data`` or ``size`` (generated content) must be given."""
        if data is None and size is None:
            raise ValueError("give data or size")
        if data is not None and size is not None and size != len(data):
            raise ValueError("size does not match len(data)")
        guessed = mimetypes.guess_type(filename)[0]
        file = CdnFile(
            id=attachment_id,
            filename=filename,
            size=len(data) if data is not None else int(size or 0),
            content_type=content_type or guessed or "application/octet-stream",
            data=data,
            seed=attachment_id,
            header=magic_for(filename) if data is None else b"",
        )
        self.files[attachment_id] = file
        return file

    def expire(self, attachment_id: int) -> None:
        """Invalidate every URL issued so far for this attachment (fresh payloads get new ones)."""
        self.files[attachment_id].epoch += 1

    def _signature(self, file: CdnFile, ex: int, issued: int) -> str:
        msg = f"{file.id}:{file.epoch}:{ex:x}:{issued:x}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def url_for(self, file: CdnFile, *, channel_id: int, proxy: bool = False) -> str:
        """A freshly signed URL for the file."""
        issued = int(self._clock())
        ex = issued + int(URL_LIFETIME)
        sig = self._signature(file, ex, issued)
        prefix = "/media" if proxy else ""
        name = quote(file.filename)
        return f"{self._base_url()}{prefix}/attachments/{channel_id}/{file.id}/{name}?ex={ex:x}&is={issued:x}&hm={sig}&"

    def attachment_payload(self, file: CdnFile, *, channel_id: int, description: str | None = None) -> JSON:
        """The attachment object for a message payload, with fresh URLs."""
        body: JSON = {
            "id": str(file.id),
            "filename": file.filename,
            "size": file.size,
            "url": self.url_for(file, channel_id=channel_id),
            "proxy_url": self.url_for(file, channel_id=channel_id, proxy=True),
            "content_type": file.content_type,
        }
        if description is not None:
            body["description"] = description
        return body

    async def sha256(self, attachment_id: int) -> str:
        """Hex SHA-256 of an attachment's content, hashed off the event loop."""
        return await asyncio.to_thread(self.files[attachment_id].sha256)

    def _check(self, request: web.Request) -> CdnFile:
        try:
            file = self.files[int(request.match_info["attachment_id"])]
            ex = int(request.query["ex"], 16)
            issued = int(request.query["is"], 16)
            sig = request.query["hm"]
        except (KeyError, ValueError):
            raise web.HTTPNotFound(text="not found") from None
        if not hmac.compare_digest(sig, self._signature(file, ex, issued)):
            raise web.HTTPForbidden(text="This content is no longer available.")
        if self._clock() >= ex:
            raise web.HTTPForbidden(text="This content is no longer available.")
        return file

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """GET/HEAD an attachment, streaming generated bodies chunk by chunk."""
        file = self._check(request)
        headers = {"Content-Type": file.content_type, "Content-Length": str(file.size)}
        if request.method == "HEAD":
            return web.Response(status=200, headers=headers)
        self.downloads.append(file.id)
        if file.data is not None:
            return web.Response(body=file.data, headers={"Content-Type": file.content_type})
        response = web.StreamResponse(status=200, headers=headers)
        await response.prepare(request)
        for chunk in generated_chunks(file.seed, file.size, header=file.header):
            await response.write(chunk)
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
        await response.write_eof()
        return response

"""Records and state of the fake NemoVideo backend (see `devkit.fakes.nemo`).

Plain dataclasses: tests read them directly (`fake.sessions[sid].draft`, `fake.uploads`, …),
so they stay small, mutable and free of server logic.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from multidict import CIMultiDict

from engine.wire import ATTRIBUTION_HEADERS, ENDPOINTS, Endpoint

__all__ = [
    "ATTRIBUTION_HEADERS",
    "DEFAULT_CANVAS",
    "ENDPOINTS",
    "Account",
    "Endpoint",
    "Failure",
    "RecordedRequest",
    "RenderJob",
    "RenderMode",
    "RenderShape",
    "RenderStatus",
    "Session",
    "TokenRecord",
    "TurnRecord",
    "TurnStatus",
    "UploadRecord",
    "tiny_mp4",
]

RenderMode = Literal["ok", "fail", "never", "no_url"]
RenderShape = Literal["A", "B"]
RenderStatus = Literal["pending", "processing", "completed", "failed", "cancelled"]
TurnStatus = Literal["running", "completed", "error", "dropped", "client_gone"]

DEFAULT_CANVAS: dict[str, Any] = {"width": 1920, "height": 1080, "aspect_ratio": "16:9"}


@dataclass(slots=True)
class RecordedRequest:
    """One request as the fake saw it; `status` is filled in once the answer is known."""

    method: str
    path: str
    headers: CIMultiDict[str]
    json: Any = None
    query: dict[str, str] = field(default_factory=dict)
    has_attribution: bool = False
    status: int | None = None

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup, so tests need not care how the client spelled it."""
        return self.headers.get(name)


@dataclass(frozen=True, slots=True)
class UploadRecord:
    """A file that arrived through a multipart upload (hashed while streaming, never stored)."""

    session_id: str
    filename: str
    size: int
    sha256: str
    content_type: str | None
    sent_filename: str | None = None
    """The multipart file name exactly as the client sent it (`filename` is its last path part)."""


@dataclass(slots=True)
class Account:
    """Credits belong to a user; renewing a token with the same client id keeps the user."""

    user_id: str
    available: int
    frozen: int = 0
    registered: bool = False

    @property
    def total(self) -> int:
        """`total = available + frozen`, as the vendor docs state."""
        return self.available + self.frozen


@dataclass(slots=True)
class TokenRecord:
    """An issued (or configured) bearer token."""

    token: str
    account: Account
    expires_at: datetime
    issued_at: datetime
    client_id: str | None = None
    ip: str | None = None


@dataclass(slots=True)
class Session:
    """One NemoVideo session: the ADK session state that `/api/state/…/latest` reports."""

    session_id: str
    task_id: str
    user_id: str
    task_name: str = "project"
    language: str = "en"
    draft: dict[str, Any] | None = None
    video_infos: list[dict[str, Any]] = field(default_factory=list)
    canvas_config: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_CANVAS))
    video_analyses: dict[str, Any] = field(default_factory=dict)
    generated_media: list[dict[str, Any]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        """The `state` object of the `/latest` answer."""
        return {
            "video_infos": self.video_infos,
            "draft": self.draft,
            "canvas_config": self.canvas_config,
            "video_analyses": self.video_analyses,
            "generated_media": self.generated_media,
        }


@dataclass(slots=True)
class TurnRecord:
    """One accepted `/run_sse` call; `status` tells how the stream ended."""

    session_id: str
    text: str
    invocation_id: str
    scripted: bool
    status: TurnStatus = "running"
    events_sent: int = 0


@dataclass(slots=True)
class RenderJob:
    """An export started through `/api/render/proxy/lambda`."""

    id: str
    session_id: str | None
    draft: dict[str, Any]
    output: dict[str, Any]
    mode: RenderMode
    polls_to_complete: int
    created_at_ms: int
    status: RenderStatus = "pending"
    progress: int = 5
    polls: int = 0
    completed_at_ms: int | None = None
    error: str | None = None

    @property
    def duration_seconds(self) -> float:
        """Render length, from the draft's `d` (ms); 10 s when the draft does not say."""
        d = self.draft.get("d")
        return d / 1000 if isinstance(d, int | float) and d > 0 else 10.0


@dataclass(frozen=True, slots=True)
class Failure:
    """A scripted failure queued by `FakeNemo.fail`; `times=None` means forever."""

    code: int | None
    http_status: int | None
    message: str | None


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def tiny_mp4(duration_ms: int = 10_000, payload_size: int = 1024) -> bytes:
    """A small MP4-looking file: `ftyp`, a `moov` with a real `mvhd`, and `mdat` filler.

    It does not play (no tracks); it only has to look like MP4 to sniffers and size checks.
    """
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomiso2avc1mp41")
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd_body = (
        struct.pack(">I", 0)  # version 0, flags 0
        + struct.pack(">IIII", 0, 0, 1000, max(duration_ms, 0))  # ctime, mtime, timescale, duration
        + struct.pack(">IH", 0x00010000, 0x0100)  # rate 1.0, volume 1.0
        + bytes(10)
        + matrix
        + bytes(24)
        + struct.pack(">I", 2)  # next track id
    )
    moov = _box(b"moov", _box(b"mvhd", mvhd_body))
    filler = bytes((i * 31 + 7) & 0xFF for i in range(max(payload_size, 0)))
    return ftyp + moov + _box(b"mdat", filler)

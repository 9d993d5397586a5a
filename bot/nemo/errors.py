"""Typed backend failures. Each carries a catalogue key for what the user should be told.

`detail` is for logs only (it may hold backend text); users only ever see the catalogue text
for `user_key` (bot.core.texts), so no raw JSON, token or client id can leak through an error.
"""

from __future__ import annotations


class NemoError(Exception):
    """Base class: something the backend (or the way to it) refused or broke."""

    user_key = "err_backend"

    def __init__(self, detail: str = "", *, code: int | None = None, http_status: int | None = None) -> None:
        super().__init__(detail or self.__class__.__name__)
        self.detail = detail
        self.code = code
        self.http_status = http_status


class TokenInvalid(NemoError):
    """1001 / HTTP 401: the token expired or is invalid, and a fresh one did not help."""

    user_key = "err_token"


class SessionNotFound(NemoError):
    """1002: the backend forgot the session; the caller creates a new one."""

    user_key = "err_session_lost"


class OutOfCredits(NemoError):
    """2001: out of credits. `bind_id` is the anonymous user id for the registration link."""

    user_key = "err_credits"

    def __init__(
        self,
        detail: str = "",
        *,
        bind_id: str | None = None,
        registered: bool = False,
        code: int | None = 2001,
        http_status: int | None = None,
    ) -> None:
        super().__init__(detail, code=code, http_status=http_status)
        self.bind_id = bind_id
        self.registered = registered


class UnsupportedFileType(NemoError):
    """4001."""

    user_key = "err_file_type"


class FileTooLarge(NemoError):
    """4002 (or HTTP 413 from a proxy)."""

    user_key = "err_file_too_large"


class MissingClientId(NemoError):
    """400: the anonymous-token call lacked a usable X-Client-Id, even after a new one."""

    user_key = "err_backend"


class ExportBlocked(NemoError):
    """402: the plan does not allow export (a tier matter, not credits)."""

    user_key = "err_export_blocked"


class RateLimited(NemoError):
    """429 twice in a row (after the one documented wait-and-retry)."""

    user_key = "err_rate_limited"


class BackendUnavailable(NemoError):
    """Network failure or 5xx that outlasted the bounded retries."""

    user_key = "err_unavailable"


class BadResponse(NemoError):
    """The backend answered something we cannot read."""

    user_key = "err_backend"


class StreamTimeout(NemoError):
    """The chat stream ran past SSE_TIMEOUT_SECONDS."""

    user_key = "err_stream_timeout"


class StreamDropped(NemoError):
    """The chat stream broke off mid-turn. Never re-send: recover by reading the state."""

    user_key = "err_stream_dropped"


class RenderFailed(NemoError):
    """The render finished as failed, was cancelled, or completed without a URL. `user_message` is the
    backend's own reason when it marks one as written for users (bot.nemo.models.RenderProgress)."""

    user_key = "err_render_failed"

    def __init__(self, detail: str = "", *, user_message: str | None = None) -> None:
        super().__init__(detail)
        self.user_message = user_message


class RenderTimedOut(NemoError):
    """The render did not finish within the configured bound."""

    user_key = "err_render_timeout"


CODE_TO_ERROR: dict[int, type[NemoError]] = {
    1001: TokenInvalid,
    1010: TokenInvalid,
    1011: TokenInvalid,
    1002: SessionNotFound,
    2001: OutOfCredits,
    4001: UnsupportedFileType,
    4002: FileTooLarge,
    400: MissingClientId,
    402: ExportBlocked,
    413: FileTooLarge,
    429: RateLimited,
}

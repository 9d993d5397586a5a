"""Turn typed backend errors into the short, friendly text users see (never raw backend text).

Every typed error a user is told about passes through here once, so it is also counted here
(cutaway_errors_total{kind}); errors that are not backend errors are counted where they are told.
"""

from __future__ import annotations

from urllib.parse import quote

from bot.metrics import count_error
from bot.nemo.errors import NemoError, OutOfCredits, RenderFailed

from .filenames import literal
from .texts import REGISTER_URL, SUPPORTED_FORMATS_TEXT, t

MAX_REASON_CHARS = 300


def error_text(exc: NemoError, lang: str, *, stream_timeout_seconds: float | None = None) -> str:
    """`stream_timeout_seconds`: SSE_TIMEOUT_SECONDS, given where a stream can time out (a chat turn)."""
    count_error(exc)
    if isinstance(exc, OutOfCredits):
        if exc.registered or not exc.bind_id:
            return t("err_credits", lang)
        return t("err_credits_anon", lang, link=f"{REGISTER_URL}?bind={quote(exc.bind_id, safe='')}")
    if isinstance(exc, RenderFailed) and exc.user_message:
        # The backend wrote this reason for users (Cutaway's engine: "“party.mov” could not be read to the
        # end …"): more use than "try again" when trying again cannot help. Shown literally, bounded.
        return t("err_render_failed_reason", lang, reason=literal(exc.user_message, MAX_REASON_CHARS))
    key = exc.user_key
    if key == "err_file_type":
        return t(key, lang, formats=SUPPORTED_FORMATS_TEXT)
    if key == "err_stream_timeout":
        if stream_timeout_seconds is None:
            return t("err_stream", lang)
        return t(key, lang, minutes=max(1, round(stream_timeout_seconds / 60)))
    return t(key, lang)

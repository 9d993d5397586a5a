"""Credits and status: read-only answers from the backend, for the typed keywords and /credits, /status."""

from __future__ import annotations

from bot.nemo.models import SessionState
from storage.repository import Project

from . import timeline
from .ports import Backend, ThreadSurface
from .sessions import Sessions
from .texts import t


def _num(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"


class Info:
    def __init__(self, backend: Backend, sessions: Sessions) -> None:
        self._backend = backend
        self._sessions = sessions

    async def credits_text(self, lang: str) -> str:
        credits = await self._backend.credits()
        if credits.local:
            return t("credits_local", lang)
        return t(
            "credits",
            lang,
            available=_num(credits.available),
            frozen=_num(credits.frozen),
            total=_num(credits.total_or_sum),
        )

    async def status_text(self, project: Project, surface: ThreadSurface, lang: str) -> str:
        """The timeline in one line, and the canvas (aspect ratio and size) when the state has one; a
        project without a session has an empty timeline (none is created)."""
        if not project.session_id:
            return t("timeline_empty", lang)

        async def read(p: Project) -> SessionState:
            return await self._backend.state(p.session_id)

        state = await self._sessions.with_session(project, surface, lang, read)
        text = t("status", lang, summary=timeline.summarise(state.draft, lang))
        canvas = timeline.describe_canvas(state.canvas_config)
        return f"{text}\n{t('status_canvas', lang, canvas=canvas)}" if canvas else text

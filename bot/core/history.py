"""The text of one `/history` page (pure: the cog adds the buttons)."""

from __future__ import annotations

from collections.abc import Sequence

from storage.repository import RenderJob, RenderStatus

from .texts import t

PAGE_SIZE = 5

_STATUS_KEY = {
    RenderStatus.COMPLETED: "status_completed",
    RenderStatus.FAILED: "status_failed",
    RenderStatus.CANCELLED: "status_cancelled",
}


def history_text(jobs: Sequence[RenderJob], page: int, lang: str) -> str:
    if not jobs:
        return t("history_empty", lang)
    rows = [t("history_title", lang, page=page + 1)]
    for job in jobs:
        rows.append(
            t(
                "history_row",
                lang,
                when=f"<t:{int(job.created_at.timestamp())}:f>",
                status=t(_STATUS_KEY.get(job.status, "status_running"), lang),
                who=f"<@{job.requested_by}>",
                # <…>: a link, not a player per export (Discord embeds every bare video link)
                link=f"<{job.url}>" if job.url else t("no_link", lang),
            )
        )
    return "\n".join(rows)

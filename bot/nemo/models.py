"""Pydantic models of the backend's answers, tolerant of the variants docs/backend-contract.md lists.

Unknown keys are ignored everywhere (`extra="ignore"`): the backend adds fields between
versions and we must not break on them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class AnonymousToken(_Model):
    token: str
    user_id: str | None = None
    expires_at: datetime | None = None
    credits: float | None = None


class SessionInfo(_Model):
    session_id: str
    task_id: str | None = None
    user_id: str | None = None

    @field_validator("session_id", "task_id", mode="before")
    @classmethod
    def _as_str(cls, value: object) -> object:
        # Session ids are 19-digit snowflakes: a JSON number would lose precision downstream.
        return str(value) if isinstance(value, int) else value


class UploadedFile(_Model):
    filename: str | None = None
    file_type: str | None = None
    cdn_url: str | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None


class UploadResult(_Model):
    files: list[UploadedFile] = Field(default_factory=list)
    session_state_applied: bool | None = None


class Credits(_Model):
    available: float = 0
    frozen: float = 0
    total: float | None = None
    local: bool = False
    """Cutaway's engine says so (docs/engine-api.md): local work has no balance to show."""

    @property
    def total_or_sum(self) -> float:
        return self.total if self.total is not None else self.available + self.frozen


class SessionState(_Model):
    session_id: str | None = None
    task_name: str | None = None
    draft: dict[str, Any] | None = None
    video_infos: list[Any] = Field(default_factory=list)
    generated_media: Any = None
    canvas_config: dict[str, Any] | None = None

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> SessionState:
        state = data.get("state")
        state = state if isinstance(state, dict) else {}
        draft = state.get("draft")
        infos = state.get("video_infos")
        canvas = state.get("canvas_config")
        return cls(
            session_id=str(data["session_id"]) if data.get("session_id") is not None else None,
            task_name=data.get("task_name") if isinstance(data.get("task_name"), str) else None,
            draft=draft if isinstance(draft, dict) else None,
            video_infos=infos if isinstance(infos, list) else [],
            generated_media=state.get("generated_media"),
            canvas_config=canvas if isinstance(canvas, dict) else None,
        )


class RenderProgress(_Model):
    """One poll answer, normalised from shape A (`data.outputUrl`) or B (`output.url`)."""

    render_id: str | None = None
    status: str = "pending"
    progress: int = 0
    url: str | None = None
    error: str | None = None
    user_message: str | None = None
    """Why it failed, written for users by the backend itself (Cutaway's engine sends `userMessage`);
    `error` is for logs only."""

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed", "cancelled", "canceled", "error")

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> RenderProgress:
        data = payload.get("data")
        inner: dict[str, Any] = data if isinstance(data, dict) else {}

        def pick(*keys: str) -> Any:
            for source in (inner, payload):
                for key in keys:
                    value = source.get(key)
                    if value is not None:
                        return value
            return None

        url = pick("outputUrl", "output_url", "url", "downloadUrl")
        if url is None:
            for source in (inner, payload):
                output = source.get("output")
                if isinstance(output, dict) and isinstance(output.get("url"), str):
                    url = output["url"]
                    break
        status = str(pick("status") or "pending").lower()
        raw_progress = pick("progress")
        try:
            progress = max(0, min(100, round(float(raw_progress)))) if raw_progress is not None else 0
        except (TypeError, ValueError):
            progress = 0
        error = pick("error", "message")
        user_message = pick("userMessage", "user_message")
        rid = pick("id", "taskId", "task_id")
        return cls(
            render_id=str(rid) if rid is not None else None,
            status=status,
            progress=progress,
            url=url if isinstance(url, str) and url else None,
            error=str(error) if error is not None else None,
            user_message=user_message if isinstance(user_message, str) and user_message.strip() else None,
        )

"""Export jobs of the fake backend: progress per poll and the two documented poll shapes.

The sources conflict (docs/backend-contract.md, section 7): shape A (`{"success":true,"data":{…,"outputUrl"}}`, what
looks like a captured answer) and shape B (top-level `status` and `output.url`, what the
current skill text describes). The fake emits either, so the client must read both.
"""

from __future__ import annotations

import time
from typing import Any

from devkit.fakes.nemo_models import RenderJob, RenderShape, tiny_mp4

FINISHED = frozenset({"completed", "failed", "cancelled"})


def now_ms() -> int:
    """Epoch milliseconds, the unit of `createdAt`/`completedAt`."""
    return int(time.time() * 1000)


def draft_ready(draft: dict[str, Any]) -> bool:
    """Export needs `draft.t` with at least one non-empty `sg` (docs/backend-contract.md, section 6)."""
    tracks = draft.get("t")
    if not isinstance(tracks, list):
        return False
    return any(isinstance(t, dict) and isinstance(t.get("sg"), list) and t["sg"] for t in tracks)


def advance(job: RenderJob, error_message: str) -> None:
    """One poll's worth of progress: pending → processing → completed | failed."""
    if job.status in FINISHED:
        return
    job.polls += 1
    if job.mode == "never" or job.polls < job.polls_to_complete:
        job.status = "processing"
        steps = 20 if job.mode == "never" else max(job.polls_to_complete, 1)
        job.progress = min(95, 5 + (90 * job.polls) // steps)
        return
    job.completed_at_ms = now_ms()
    if job.mode == "fail":
        job.status, job.error = "failed", error_message
    else:
        job.status, job.progress = "completed", 100


def has_url(job: RenderJob) -> bool:
    """Whether the result is downloadable from its CDN url (`no_url` mode hides it)."""
    return job.status == "completed" and job.mode != "no_url"


def job_mp4(job: RenderJob) -> bytes:
    """The tiny MP4 the job "rendered"."""
    return tiny_mp4(int(job.duration_seconds * 1000))


def poll_body(job: RenderJob, shape: RenderShape, url: str) -> dict[str, Any]:
    """The poll answer in shape A (default) or B."""
    if shape == "B":
        body: dict[str, Any] = {"taskId": job.id, "status": job.status, "progress": job.progress}
        if job.status == "completed":
            output: dict[str, Any] = {"duration": job.duration_seconds, "size": len(job_mp4(job))}
            body["output"] = {"url": url, **output} if has_url(job) else output
        if job.error:
            body["error"] = job.error
        return body
    data: dict[str, Any] = {"id": job.id, "status": job.status, "progress": job.progress}
    if has_url(job):
        data["outputUrl"] = url
    data["createdAt"] = job.created_at_ms
    if job.completed_at_ms is not None:
        data["completedAt"] = job.completed_at_ms
    if job.error:
        data["error"] = job.error
    return {"success": True, "data": data}

"""The soundtrack: the music bed, the clips' sound, the mix and the mastering, ending as one AAC file.

It runs beside the video pass (its work is a few percent of the encode's) in audio-only steps:

1. the music bed from engine.music (its WAV is exactly the music segment's length);
2. extraction (ffmpeg): each clip's sound trimmed like its picture, resampled to 48 kHz stereo,
   silence for stills and silent clips, joined into one raw float32 track over the whole timeline;
   the bed converted to the same raw form;
3. the mix (numpy, in a worker thread, engine/render/mix.py): the music set against the clips, clip sound, volume,
   fades, ducking;
4. mastering (engine/render/master.py): −14 LUFS, true peak ≤ −1 dBTP, measured after AAC.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.config import EngineSettings
from engine.draft import Draft
from engine.ffmpeg import FFmpegError, run_ffmpeg
from engine.media import MediaInfo
from engine.music import MusicResult
from engine.render import RenderFailed
from engine.render.errors import explain
from engine.render.master import Mastered, master
from engine.render.mix import MixCancelled, MixJob, MixResult, MusicTrack, mix
from engine.render.plan import RATE, RenderPlan

log = logging.getLogger(__name__)

MusicProvider = Callable[[Draft, Mapping[str, MediaInfo], EngineSettings], Awaitable[MusicResult | None]]
"""`engine.music.music_for_draft`'s shape; tests pass their own bed through it."""


@dataclass(frozen=True, slots=True)
class Soundtrack:
    path: Path
    mastered: Mastered
    mixed: MixResult
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time of each step (music, extract, mix, master)."""


SUBSTITUTES = 2
"""Other composed pieces in the same mood tried when the draft's music cannot be made."""


def substitute(draft: Draft, step: int) -> Draft:
    """The draft with the piece "another one" would give `step` times over, composed: the same mood,
    length, volume, fades and ducking."""
    music = draft.music
    assert music is not None
    seed = (music.m.seed + step) & 0x7FFF_FFFF
    meta = music.m.model_copy(update={"source": "composer", "seed": seed, "track": "", "media": ""})
    return draft.model_copy(update={"music": music.model_copy(update={"m": meta})})


async def _music_bed(plan: RenderPlan, provider: MusicProvider) -> MusicResult | None:
    """The bed for the draft's music. When it cannot be made the export is not lost for it: the
    composer is deterministic, so a piece that fails once fails on every retry, and the user asked
    for a mood, not for a seed. The next pieces in that mood (what "another one" gives) are tried;
    only when none can be made does the render fail (then something beyond one piece is broken,
    and a video quietly without the music asked for would hide it)."""
    if plan.music is None:
        return None
    spec = plan.spec
    for step in range(SUBSTITUTES + 1):
        draft = substitute(spec.draft, step) if step else spec.draft
        try:
            return await provider(draft, spec.media, spec.settings)
        except RenderFailed:
            raise
        except Exception:
            piece = (draft.music or plan.music.segment).m
            log.exception(
                "render session=%s: the music (source=%s mood=%s seed=%d) could not be made; %s",
                plan.session, piece.source, piece.mood, piece.seed,
                "trying the next piece in its mood" if step < SUBSTITUTES else "giving up",
            )  # fmt: skip
    raise RenderFailed(
        f"the background music “{plan.music.segment.m.name}” could not be made; "
        "try again later, or remove the music to export without it"
    )


async def _extract(plan: RenderPlan, bed: MusicResult | None, clips_out: Path, music_out: Path) -> tuple[bool, bool]:
    """Write the clips' track and the bed as raw float32; returns which of the two were written."""
    want_clips = plan.clip_volume > 0 and any(v.has_sound for v in plan.visuals)
    args: list[str] = ["-y", "-xerror"]
    names: list[str] = []
    paths: list[str] = []
    graph: list[str] = []
    if want_clips:
        labels = []
        for k, item in enumerate(plan.visuals):
            label = f"[a{k}]"
            if item.has_sound:
                index = len(names)
                args += ["-vn", "-sn", "-dn"]
                if item.src_in_s > 0:
                    args += ["-ss", f"{item.src_in_s:.3f}"]
                args += ["-t", f"{item.seconds + 0.5:.3f}", "-i", str(item.path)]
                names.append(item.name)
                paths.append(str(item.path))
                graph.append(
                    f"[{index}:a:0]aresample={RATE}:async=1:first_pts=0,"
                    f"aformat=sample_fmts=flt:channel_layouts=stereo,"
                    f"apad=whole_len={item.samples},atrim=end_sample={item.samples},asetpts=PTS-STARTPTS{label}"
                )
            else:
                graph.append(
                    f"anullsrc=r={RATE}:cl=stereo,aformat=sample_fmts=flt:channel_layouts=stereo,"
                    f"atrim=end_sample={item.samples}{label}"
                )
            labels.append(label)
        joined = "".join(labels)
        graph.append(f"{joined}concat=n={len(labels)}:v=0:a=1[clips]" if len(labels) > 1 else f"{joined}anull[clips]")
    want_music = bed is not None and plan.music is not None
    if bed is not None and plan.music is not None:
        index = len(names)
        args += ["-vn", "-i", str(bed.path)]
        names.append(plan.music.segment.m.name)
        paths.append(str(bed.path))
        samples = plan.music.samples
        graph.append(
            f"[{index}:a:0]aresample={RATE},aformat=sample_fmts=flt:channel_layouts=stereo,"
            f"apad=whole_len={samples},atrim=end_sample={samples}[music]"
        )
    if not graph:
        return False, False
    args += ["-filter_complex", ";".join(graph)]
    if want_clips:
        args += ["-map", "[clips]", "-c:a", "pcm_f32le", "-f", "f32le", str(clips_out)]
    if want_music:
        args += ["-map", "[music]", "-c:a", "pcm_f32le", "-f", "f32le", str(music_out)]
    try:
        await run_ffmpeg(args)
    except FFmpegError as exc:
        log.warning("render session=%s: sound extraction failed: %s\n%s", plan.session, exc, exc.tail)
        raise explain(exc, names, paths) from None
    return want_clips, want_music


async def _mix(job: MixJob) -> MixResult:
    """The numpy mix in a worker thread; cancelling the caller stops it at the next block."""
    cancel = threading.Event()
    task = asyncio.ensure_future(asyncio.to_thread(mix, job, cancel))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        cancel.set()
        with contextlib.suppress(MixCancelled):
            await task
        raise


async def prepare_soundtrack(
    plan: RenderPlan, provider: MusicProvider, out: Path, *, on_step: Callable[[float], None] | None = None
) -> Soundtrack:
    """Make the output's AAC track (`out`, an M4A file) for `plan`; `on_step(fraction)` after each step."""
    step = on_step or (lambda _: None)
    work = plan.work_dir
    seconds: dict[str, float] = {}
    started = time.monotonic()
    bed = await _music_bed(plan, provider)
    seconds["music"] = time.monotonic() - started
    step(0.2)

    started = time.monotonic()
    clips_raw, music_raw = work / "clips.f32", work / "music.f32"
    have_clips, have_music = await _extract(plan, bed, clips_raw, music_raw)
    seconds["extract"] = time.monotonic() - started
    step(0.45)

    started = time.monotonic()
    music_track = None
    if have_music and plan.music is not None:
        m = plan.music.segment.m
        music_track = MusicTrack(
            path=music_raw,
            first_sample=plan.music.first_sample,
            samples=plan.music.samples,
            volume=m.volume,
            fade_in=round(m.fade_in * RATE / 1000),
            fade_out=round(m.fade_out * RATE / 1000),
            duck=m.duck,
        )
    job = MixJob(
        total_samples=plan.samples,
        clips=clips_raw if have_clips else None,
        clip_volume=plan.clip_volume,
        joins=[v.first_sample for v in plan.visuals[1:]],
        music=music_track,
        out=work / "mix.f32",
    )
    mixed = await _mix(job)
    await asyncio.to_thread(_remove, clips_raw, music_raw)
    seconds["mix"] = time.monotonic() - started
    step(0.65)

    started = time.monotonic()
    mastered = await master(
        job.out, mixed.integrated_lufs, out, work, powers=mixed.powers, peaks=mixed.peaks, session=plan.session
    )
    await asyncio.to_thread(_remove, job.out)
    seconds["master"] = time.monotonic() - started
    step(1.0)
    log.info(
        "render session=%s soundtrack: clips %s LUFS, music %s LUFS, mix %s LUFS, ducked %.1fs; "
        "out %s LUFS %.2f dBTP after %d encode(s); steps %s",
        plan.session,
        _fmt(mixed.clips_lufs),
        _fmt(mixed.music_lufs),
        _fmt(mixed.integrated_lufs),
        mixed.speech_s,
        _fmt(mastered.measured.integrated_lufs),
        mastered.measured.true_peak_dbtp,
        mastered.encodes,
        {k: round(v, 2) for k, v in seconds.items()},
    )
    return Soundtrack(out, mastered, mixed, seconds)


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"

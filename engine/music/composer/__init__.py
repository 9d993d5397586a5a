"""The built-in composer: an arrangement written for this clip's length, mood and cuts, synthesised
in numpy (or played through an installed General MIDI soundfont). docs/music.md explains it.

`compose` is synchronous and CPU-bound: callers run it in a worker thread (engine/music/facade.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.music import Cut
from engine.music.composer.arrangement import Score, write_score
from engine.music.composer.render import RenderStats, render
from engine.music.composer.styles import STYLES, Style


@dataclass(frozen=True, slots=True)
class Composition:
    score: Score
    style: Style
    stats: RenderStats

    def description(self) -> dict[str, str]:
        bpm = round(self.score.grid.bpm)
        names = self.style.names
        mood_en, mood_zh = MOOD_NAMES[self.style.mood]
        article = "an" if mood_en[0] in "aeiou" else "a"
        return {
            "en": f"{article} {mood_en} piece for {names['en']} at {bpm} BPM",
            "zh": f"一首{mood_zh}风格的{names['zh']}乐曲，{bpm} BPM",
        }


MOOD_NAMES: dict[str, tuple[str, str]] = {
    "upbeat": ("upbeat", "动感"),
    "happy": ("happy", "欢快"),
    "calm": ("calm", "平静"),
    "cinematic": ("cinematic", "电影感"),
    "lofi": ("lo-fi", "低保真"),
    "tense": ("tense", "紧张"),
}


def compose(duration_s: float, mood: str, seed: int, cuts: tuple[Cut, ...], path: Path) -> Composition:
    """Write and render a piece of exactly `duration_s` to `path` (16-bit 48 kHz stereo WAV)."""
    style = STYLES.get(mood) or STYLES["calm"]
    score = write_score(duration_s, style, cuts, seed)
    stats = render(score, style, path, seed=seed, scratch=path.parent)
    return Composition(score, style, stats)

"""The built-in composer: an arrangement written for this clip's length, mood and cuts, synthesised
in numpy (or played through an installed General MIDI soundfont). docs/music.md explains it.

`compose` is synchronous and CPU-bound: callers run it in a worker thread (engine/music/facade.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.music import Cut
from engine.music.composer.arrangement import Score, write_score
from engine.music.composer.render import RenderStats, play
from engine.music.composer.styles import STYLES, Style
from engine.music.mood import NAMES


@dataclass(frozen=True, slots=True)
class Composition:
    score: Score
    style: Style
    stats: RenderStats

    def description(self) -> dict[str, str]:
        bpm = round(self.score.grid.bpm)
        names = (
            self.style.names if self.stats.engine == "numpy" else SOUNDFONT_NAMES.get(self.style.mood, self.style.names)
        )
        mood_en, mood_zh = NAMES[self.style.mood]
        article = "an" if mood_en[0] in "aeiou" else "a"
        return {
            "en": f"{article} {mood_en} piece for {names['en']} at {bpm} BPM",
            "zh": f"一首{mood_zh}风格的{names['zh']}乐曲，{bpm} BPM",
        }


SOUNDFONT_NAMES: dict[str, dict[str, str]] = {
    "upbeat": {"en": "guitar, electric piano, bass and drums", "zh": "吉他、电钢琴、贝斯与鼓"},
    "happy": {"en": "guitar, glockenspiel, bass and light percussion", "zh": "吉他、钟琴、贝斯与轻打击乐"},
    "calm": {"en": "electric piano and pads", "zh": "电钢琴与铺底音色"},
    "cinematic": {"en": "strings, guitar ostinato and low percussion", "zh": "弦乐、吉他固定音型与低音打击乐"},
    "lofi": {"en": "electric piano, bass and laid-back drums", "zh": "电钢琴、贝斯与慵懒鼓点"},
    "tense": {"en": "pizzicato strings, a pad and ticking percussion", "zh": "拨奏弦乐、铺底音色与滴答打击乐"},
}
"""The General MIDI instruments the soundfont plays the same parts on (engine/music/composer/midi.py)."""


def compose(
    duration_s: float, mood: str, seed: int, cuts: tuple[Cut, ...], path: Path, *, soundfont: Path | None = None
) -> Composition:
    """Write and render a piece of exactly `duration_s` to `path` (16-bit 48 kHz stereo WAV).

    `soundfont` is a file to play through (see `find_soundfont`); None plays the numpy instruments."""
    style = STYLES.get(mood) or STYLES["calm"]
    score = write_score(duration_s, style, cuts, seed)
    stats = play(score, style, path, seed=seed, scratch=path.parent, soundfont=soundfont)
    return Composition(score, style, stats)

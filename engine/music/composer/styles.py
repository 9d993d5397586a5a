"""What each mood sounds like: tempo and brightness ranges, keys, progressions, parts and grooves.

These tables are the composer's whole taste; docs/music.md lists the ranges, and the tests hold
every seed of every mood to them (tempo from the solved grid, brightness measured on the bed).
Patterns are 16 steps per 4/4 bar: `x` an accented hit, `o` a softer one, `.` a rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.music.composer.theory import DORIAN, MAJOR_SCALE, NATURAL_MINOR


@dataclass(frozen=True, slots=True)
class Part:
    """One instrument's role in the arrangement."""

    instrument: str
    role: str
    """`block` (chords on the pattern's steps), `arp` (broken chord), `strum`, `pad` (held),
    `bass`, `melody`, `ostinato`, or a drum name for drum parts."""
    gain: float
    min_energy: int = 1
    """Sections below this energy leave the part out (0 intro, 1 sparse, 2 full, 3 peak)."""
    patterns: tuple[str, ...] = ("x...............",)
    register: tuple[int, int] = (55, 76)
    pan: float = 0.0
    send: float = 0.2
    """How much of the part goes to the reverb."""


@dataclass(frozen=True, slots=True)
class Style:
    mood: str
    tempo: tuple[float, float]
    """BPM range: every piece in this mood is inside it (the solver never leaves it)."""
    brightness: tuple[float, float]
    """Share of power above 2 kHz, percent: the mastering EQ aims at the middle of it."""
    scale: tuple[int, ...]
    tonics: tuple[int, ...]
    """Pitch classes the key may start on (0 = C)."""
    progressions: tuple[str, ...]
    cadences: tuple[str, ...]
    """Two chords that lead into the final chord."""
    final: str
    parts: tuple[Part, ...]
    swing: float = 0.0
    """Offbeat 8ths late by this share of a 16th."""
    humanise_ms: float = 6.0
    reverb_s: float = 1.8
    accent: tuple[str, ...] = ("crash",)
    """Hits on the strongest cut's downbeat (and the final chord)."""
    riser: bool = False
    vinyl: float = 0.0
    names: dict[str, str] = field(default_factory=dict)
    """How replies describe the piece: {"en": "piano and pads", "zh": "钢琴与铺底"}."""


_DRUMS_POP = (
    Part("kick", "kick", 0.55, 2, ("x...x...x...x...", "x...x...x...x.o.", "x...x...x..ox...")),
    Part("clap", "clap", 0.32, 2, ("....x.......x...",), pan=0.05, send=0.3),
    Part("hat", "hat", 0.2, 1, ("..x...x...x...x.", "o.x.o.x.o.x.o.xo"), pan=0.25),
    Part("openhat", "openhat", 0.12, 3, ("......x.......x.",), pan=-0.2, send=0.25),
)

STYLES: dict[str, Style] = {
    "upbeat": Style(
        mood="upbeat",
        tempo=(118.0, 130.0),
        brightness=(6.0, 12.0),
        scale=MAJOR_SCALE,
        tonics=(0, 2, 5, 7, 9),
        progressions=("I V vi IV", "vi IV I V", "I iii IV V", "IV I V vi", "I vi IV V"),
        cadences=("IV V", "ii V", "IV Vsus4"),
        final="Iadd9",
        parts=(
            Part(
                "pluck",
                "block",
                0.3,
                1,
                ("..x...x...x...x.", "x..x..x...x..x..", "..x..x..x...x.x."),
                (57, 76),
                0.2,
                0.25,
            ),
            Part("epiano", "block", 0.22, 2, ("x.......x.......", "x.....x.....x..."), (55, 74), -0.25, 0.25),
            Part("bass", "bass", 0.5, 1, ("x.x.x.x.x.x.x.x.", "x..x..x.x..x..x."), (33, 47)),
            Part("bell", "melody", 0.2, 3, (), (72, 88), 0.1, 0.35),
            *_DRUMS_POP,
        ),
        humanise_ms=5.0,
        reverb_s=1.6,
        accent=("crash", "kick"),
        riser=True,
        names={"en": "plucks, electric piano, bass and drums", "zh": "拨弦、电钢琴、贝斯与鼓"},
    ),
    "happy": Style(
        mood="happy",
        tempo=(104.0, 116.0),
        brightness=(5.0, 11.0),
        scale=MAJOR_SCALE,
        tonics=(0, 2, 4, 5, 7),
        progressions=("I IV I V", "I V IV V", "I vi ii V", "IV V I vi", "I IV vi V"),
        cadences=("IV V", "ii V"),
        final="I6",
        parts=(
            Part(
                "pluck",
                "strum",
                0.32,
                1,
                ("x..x..x.x..x..x.", "x.x.x.x.x.x.x.x.", "x..x.x..x..x.x.."),
                (55, 72),
                -0.2,
                0.2,
            ),
            Part("epiano", "pad", 0.14, 2, ("x...............",), (57, 72), 0.25, 0.3),
            Part("bass", "bass", 0.45, 1, ("x.......x.......", "x.....x.x......."), (36, 48)),
            Part("bell", "melody", 0.26, 2, (), (74, 91), 0.15, 0.35),
            Part("shaker", "shaker", 0.16, 1, ("xoxoxoxoxoxoxoxo", "x.xox.xox.xox.xo"), pan=0.3),
            Part(
                "kick",
                "kick",
                0.45,
                2,
                ("x.......x.......", "x.....x.x......."),
            ),
            Part("snare", "snare", 0.22, 2, ("....x.......x...",), send=0.3),
        ),
        humanise_ms=7.0,
        reverb_s=1.5,
        accent=("crash",),
        names={
            "en": "ukulele-like plucks, glockenspiel, bass and light percussion",
            "zh": "拨弦、钟琴、贝斯与轻打击乐",
        },
    ),
    "calm": Style(
        mood="calm",
        tempo=(60.0, 72.0),
        brightness=(3.0, 6.0),
        scale=MAJOR_SCALE,
        tonics=(0, 2, 5, 7, 10),
        progressions=("Imaj7 vi7 IVmaj7 V", "IVmaj7 Iadd9 vi7 V", "I iii vi IVmaj7", "vi7 IVmaj7 Imaj7 Vsus4"),
        cadences=("IVmaj7 Vsus4", "ii7 V"),
        final="Imaj7",
        parts=(
            Part("epiano", "arp", 0.34, 1, ("x.x.x.x.x.x.x.x.", "x...x.x...x.x..."), (55, 79), 0.15, 0.35),
            Part("pad", "pad", 0.18, 0, ("x...............",), (52, 72), -0.15, 0.45),
            Part("bass", "bass", 0.32, 1, ("x...............", "x.......x......."), (36, 50)),
            Part("bell", "melody", 0.14, 3, (), (72, 86), -0.2, 0.5),
            Part("shaker", "shaker", 0.12, 2, ("x.x.x.x.x.x.x.x.",), pan=0.3, send=0.3),
        ),
        humanise_ms=10.0,
        reverb_s=2.6,
        accent=(),
        names={"en": "electric piano and pads", "zh": "电钢琴与铺底音色"},
    ),
    "cinematic": Style(
        mood="cinematic",
        tempo=(86.0, 98.0),
        brightness=(3.0, 7.0),
        scale=NATURAL_MINOR,
        tonics=(0, 2, 4, 7, 9),
        progressions=("i bVI bIII bVII", "i iv bVI V", "bVI bVII i i", "i bVII bVI bVII", "iv bVI i V"),
        cadences=("bVI bVII", "iv V"),
        final="i",
        parts=(
            Part("strings", "pad", 0.3, 0, ("x...............",), (50, 74), 0.0, 0.5),
            Part("pluck", "ostinato", 0.22, 1, ("x.x.x.x.x.x.x.x.", "x.xxx.x.x.xxx.x."), (57, 72), 0.25, 0.35),
            Part("bass", "bass", 0.42, 1, ("x.......x.......", "x...............")),
            Part("epiano", "melody", 0.2, 2, (), (67, 84), -0.2, 0.45),
            Part("tom", "tom", 0.38, 2, ("x.....x...x.....", "x.....x...x...x."), pan=-0.1, send=0.35),
            Part("hat", "hat", 0.1, 3, ("x.x.x.x.x.x.x.x.",), pan=0.2),
        ),
        humanise_ms=6.0,
        reverb_s=2.8,
        accent=("boom", "crash"),
        riser=True,
        names={"en": "strings, a plucked ostinato and low percussion", "zh": "弦乐、拨弦固定音型与低音打击乐"},
    ),
    "lofi": Style(
        mood="lofi",
        tempo=(74.0, 86.0),
        brightness=(3.0, 6.0),
        scale=DORIAN,
        tonics=(0, 2, 5, 7, 9),
        progressions=("ii9 V9 Imaj7 vi7", "Imaj7 vi7 ii7 V7", "IVmaj7 iii7 vi7 ii7", "vi9 ii7 Vsus4 Imaj7"),
        cadences=("ii7 V7", "IVmaj7 V7"),
        final="Imaj9",
        parts=(
            Part(
                "epiano",
                "block",
                0.34,
                1,
                ("x.......x.....x.", "x.....x.........", "x.......x..x...."),
                (52, 74),
                -0.1,
                0.3,
            ),
            Part("bass", "bass", 0.45, 1, ("x......x..x.....", "x.........x....."), (33, 47)),
            Part("pluck", "melody", 0.18, 3, (), (64, 81), 0.2, 0.35),
            Part(
                "kick",
                "kick",
                0.5,
                2,
                ("x......x..x.....", "x.........x..x.."),
            ),
            Part("rim", "rim", 0.2, 2, ("....x.......x...",), send=0.25),
            Part("hat", "hat", 0.26, 1, ("x.x.x.x.x.x.x.x.", "x.x.x.xxx.x.x.x."), pan=0.2),
        ),
        swing=0.33,
        humanise_ms=14.0,
        reverb_s=1.4,
        accent=("kick",),
        vinyl=0.05,
        names={"en": "dusty electric piano, bass and boom-bap drums", "zh": "复古电钢琴、贝斯与慵懒鼓点"},
    ),
    "tense": Style(
        mood="tense",
        tempo=(98.0, 110.0),
        brightness=(3.5, 8.0),
        scale=NATURAL_MINOR,
        tonics=(1, 4, 6, 9, 11),
        progressions=("i i bVI bVI", "i bII i bVII", "i iv i bVI", "i bVI iv V"),
        cadences=("bVI V", "iv V"),
        final="isus2",
        parts=(
            Part("pulse", "ostinato", 0.3, 1, ("xxxxxxxxxxxxxxxx", "x.xxx.xxx.xxx.xx"), (40, 55), 0.15, 0.2),
            Part("warmpad", "pad", 0.2, 0, ("x...............",), (50, 70), -0.15, 0.5),
            Part("bass", "bass", 0.4, 2, ("x...............",), (28, 40)),
            Part("bell", "melody", 0.13, 3, (), (76, 90), 0.3, 0.5),
            Part(
                "kick",
                "kick",
                0.5,
                2,
                ("x..x............", "x..x....x..x...."),
            ),
            Part("tick", "tick", 0.24, 1, ("x.x.x.x.x.x.x.x.", "x.xxx.xxx.xxx.xx"), pan=0.3, send=0.2),
        ),
        humanise_ms=4.0,
        reverb_s=2.4,
        accent=("boom", "crash"),
        riser=True,
        names={"en": "pulsing low strings, a drone and ticking percussion", "zh": "低音弦乐脉冲、持续音与滴答打击乐"},
    ),
}

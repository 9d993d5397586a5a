"""Harmony for the composer: keys, chord symbols in Roman numerals, and voice leading.

Progressions are written as Roman numerals relative to the key's tonic (docs/music.md), so one
table of progressions serves every key; voicings are chosen for the smallest movement from the
previous chord, which is what makes a progression sound played rather than pasted.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
NATURAL_MINOR = (0, 2, 3, 5, 7, 8, 10)
DORIAN = (0, 2, 3, 5, 7, 9, 10)
PHRYGIAN = (0, 1, 3, 5, 7, 8, 10)

_NUMERALS = {"i": 0, "ii": 1, "iii": 2, "iv": 3, "v": 4, "vi": 5, "vii": 6}
_SYMBOL = re.compile(r"^(?P<acc>[b#]?)(?P<num>VII|VI|IV|V|III|II|I|vii|vi|iv|v|iii|ii|i)(?P<ext>.*)$")


@dataclass(frozen=True, slots=True)
class Chord:
    """A chord relative to the key's tonic: its root (semitones) and its tones (semitones above the root)."""

    symbol: str
    root: int
    intervals: tuple[int, ...]

    def pitch_classes(self, tonic: int) -> tuple[int, ...]:
        return tuple((tonic + self.root + i) % 12 for i in self.intervals)


def parse_chord(symbol: str) -> Chord:
    """`I`, `vi7`, `IVmaj7`, `bVII`, `V7`, `iisus4`, `Iadd9`, `vii°` … → a Chord.

    Upper case is a major triad, lower case a minor one; the suffix adds sevenths, ninths,
    suspensions or a diminished fifth."""
    match = _SYMBOL.match(symbol)
    if match is None:
        raise ValueError(f"not a chord symbol: {symbol!r}")
    numeral, ext = match["num"], match["ext"]
    root = MAJOR_SCALE[_NUMERALS[numeral.lower()]] + {"b": -1, "#": 1, "": 0}[match["acc"]]
    minor = numeral.islower()
    third, fifth = (3 if minor else 4), 7
    extra: list[int] = []
    if ext.startswith(("°", "dim")):
        third, fifth = 3, 6
        ext = ext.lstrip("°").removeprefix("dim")
    if "sus4" in ext:
        third = 5
    elif "sus2" in ext:
        third = 2
    if "maj7" in ext or "maj9" in ext:
        extra.append(11)
    elif "7" in ext or "9" in ext:
        extra.append(10)
    if "9" in ext:
        extra.append(14)
    if "6" in ext:
        extra.append(9)
    intervals = (0, third, fifth, *extra)
    return Chord(symbol, root % 12, intervals)


def parse_progression(text: str) -> tuple[Chord, ...]:
    return tuple(parse_chord(s) for s in text.split())


def voice(
    chord: Chord, tonic: int, previous: tuple[int, ...] | None, *, low: int, high: int, voices: int = 4
) -> tuple[int, ...]:
    """MIDI notes for `chord` between `low` and `high` that move least from `previous`.

    Every candidate keeps the third (the chord's colour) and any seventh; the root may be left to
    the bass when the chord has four or more tones. Ties go to the voicing nearest the register's
    middle, so a long piece does not drift up or down."""
    pcs = chord.pitch_classes(tonic)
    must = {pcs[1]} | set(pcs[3:4])
    pool = [n for n in range(low, high + 1) if n % 12 in pcs]
    middle = (low + high) / 2
    best: tuple[float, tuple[int, ...]] | None = None
    for combo in itertools.combinations(pool, voices):
        if combo[-1] - combo[0] > 19:
            continue
        present = {n % 12 for n in combo}
        if not must <= present or (len(pcs) < 4 and pcs[0] not in present):
            continue
        if len(present) < min(len(pcs), voices) - 1:
            continue
        if any(b - a < 2 for a, b in itertools.pairwise(combo)) and combo[0] < 55:
            continue  # seconds in the low register are mud
        centre = abs(sum(combo) / voices - middle)
        cost = centre * 0.35 if not previous else _movement(combo, previous) + centre * 0.15
        if best is None or cost < best[0]:
            best = (cost, combo)
    if best is None:  # a register too narrow for the rules: stack the tones plainly
        base = low + (pcs[0] - low) % 12
        return tuple(sorted(base + (i % 12) + 12 * (k // len(pcs)) for k, i in enumerate(chord.intervals[:voices])))
    return best[1]


def _movement(combo: tuple[int, ...], previous: tuple[int, ...]) -> float:
    """How far the voices move: note by note when both chords have as many, else each new note from the
    nearest old one (a plainly stacked chord from a narrow register may have fewer tones)."""
    if len(combo) == len(previous):
        return float(sum(abs(a - b) for a, b in zip(combo, previous, strict=True)))
    return float(sum(min(abs(a - b) for b in previous) for a in combo))


def scale_notes(tonic: int, scale: tuple[int, ...], low: int, high: int) -> list[int]:
    """Every MIDI note of the scale between low and high."""
    pcs = {(tonic + s) % 12 for s in scale}
    return [n for n in range(low, high + 1) if n % 12 in pcs]


def midi_to_hz(note: float) -> float:
    return float(440.0 * 2.0 ** ((note - 69) / 12))

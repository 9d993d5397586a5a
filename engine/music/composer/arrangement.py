"""From a mood, a length and the clip's cuts to a score: the tempo grid, the form, and every note.

The grid is solved first (docs/music.md, "Composing to the clip"): one steady tempo inside the
mood's range and a final-chord tail of 1.6-3.2 s such that the final chord's downbeat lies at
`duration - tail` and the strongest cut falls exactly on a downbeat (a pickup before the first
downbeat absorbs what is left). The form then puts a section change on that downbeat, and the
parts are written bar by bar from the mood's tables (engine/music/composer/styles.py).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.music import Cut
from engine.music.composer.styles import Part, Style
from engine.music.composer.theory import Chord, parse_chord, parse_progression, scale_notes, voice

TAIL_RANGE = (1.6, 3.2)
"""How long the final chord rings out (seconds)."""
MIN_TAIL = 1.0
"""A cut later than this before the end cannot carry a downbeat (the final chord needs room)."""
SYNC_TOLERANCE = 0.03
"""A secondary cut this close to a downbeat counts as landed on it."""

CHORD_ROLES = {"block", "pad", "arp", "strum"}
_STRUCK = {"pad": "pad_struck", "warmpad": "warmpad_struck", "strings": "strings_struck"}
"""The final chord's sustained parts are struck, not swelled, so it lands on its downbeat."""


@dataclass(frozen=True, slots=True)
class Grid:
    """The tempo grid: downbeat k is at `first_downbeat + k * bar_s`; downbeat `bars` is the final chord."""

    bpm: float
    first_downbeat: float
    bars: int
    tail: float
    duration: float

    @property
    def bar_s(self) -> float:
        return 240.0 / self.bpm

    @property
    def final_downbeat(self) -> float:
        return self.duration - self.tail

    def downbeat(self, k: int) -> float:
        return self.first_downbeat + k * self.bar_s

    def downbeats(self) -> tuple[float, ...]:
        return tuple(self.downbeat(k) for k in range(self.bars + 1))

    def step_time(self, bar: int, step: float, swing: float = 0.0) -> float:
        sixteenth = self.bar_s / 16
        late = swing * sixteenth if int(step) % 4 == 2 and step == int(step) else 0.0
        return self.downbeat(bar) + step * sixteenth + late


@dataclass(frozen=True, slots=True)
class Section:
    start: int
    bars: int
    kind: str
    """`intro`, `A`, `B`, `C` (a breakdown) or `end` (the cadence)."""
    energy: int
    progression: tuple[Chord, ...]


@dataclass(frozen=True, slots=True)
class Note:
    time: float
    dur: float
    instrument: str
    pitch: int
    """MIDI note; 0 for drums and textures."""
    vel: float
    pan: float
    send: float
    gain: float
    bar: int
    step: int
    """The 16th it was written on (before humanising); the score's identity for repetition checks."""


@dataclass(frozen=True, slots=True)
class Score:
    grid: Grid
    sections: tuple[Section, ...]
    notes: tuple[Note, ...]
    tonic: int
    synced_cuts: tuple[tuple[float, int], ...]
    """(cut time, downbeat index) for every cut that lands on a downbeat."""
    accents: tuple[int, ...] = field(default=())
    """Downbeat indices carrying an accent hit."""


# --------------------------------------------------------------------------- the grid


def solve_grid(
    duration: float, style: Style, cuts: tuple[Cut, ...], rng: np.random.Generator
) -> tuple[Grid, Cut | None]:
    """The tempo, pickup and tail for this length; the strongest usable cut lands on a downbeat.

    Returns the grid and the cut it is anchored to (None when no cut could be used)."""
    if duration < 3.0:
        return Grid(sum(style.tempo) / 2, 0.0, 0, duration, duration), None
    lo_t, hi_t = TAIL_RANGE
    if duration < 8.0:
        lo_t, hi_t = min(lo_t, 0.25 * duration), min(hi_t, 0.4 * duration)
    usable = [c for c in cuts if 0.25 <= c.time_s <= duration - MIN_TAIL]
    target = rng.uniform(*style.tempo)
    tail_pref = rng.uniform(lo_t + 0.2, hi_t - 0.4) if hi_t - lo_t > 0.8 else (lo_t + hi_t) / 2
    # The mood's tempo range is kept; the strongest cut is anchored if any tempo in it can take it
    # (with the usual tail, else a tail of 1-4 s), else the next strongest, else none.
    relaxed = (min(lo_t, MIN_TAIL), max(hi_t, 4.0))
    for first in range(len(usable)):
        anchors = usable[first:]
        for tails in ((lo_t, hi_t), relaxed):
            best = _search(duration, *style.tempo, tails, anchors, target, tail_pref)
            if best is not None:
                return best, anchors[0]
    # no cut to anchor: whole bars if they fit the tail range at some tempo in the mood's, else a
    # pickup of whole beats before them (a short clip may be all pickup, leading into the final chord)
    grid = _search(duration, *style.tempo, (lo_t, hi_t), [], target, tail_pref) or _search(
        duration, *style.tempo, (lo_t, hi_t), [], target, tail_pref, pickups=True
    )
    assert grid is not None  # with pickups every tempo has a tail in the range
    return grid, None


def _search(
    duration: float,
    lo_bpm: float,
    hi_bpm: float,
    tails: tuple[float, float],
    cuts: list[Cut],
    target: float,
    tail_pref: float,
    *,
    pickups: bool = False,
) -> Grid | None:
    best: tuple[float, Grid] | None = None
    span = max(hi_bpm - lo_bpm, 1.0)
    for bpm in np.clip(np.round(np.arange(lo_bpm, hi_bpm + 0.01, 0.02), 2), lo_bpm, hi_bpm):
        bar = 240.0 / bpm
        beat = bar / 4
        if cuts:
            anchor = duration - cuts[0].time_s
            j_lo = max(0, math.ceil((anchor - tails[1]) / bar - 1e-9))
            j_hi = math.floor((anchor - tails[0]) / bar + 1e-9)
            tails_here = [anchor - j * bar for j in range(j_lo, j_hi + 1)]
        else:  # the body is whole bars, or with `pickups` whole beats (the first bar after a pickup)
            step = beat if pickups else bar
            n_lo = max(1, math.ceil((duration - tails[1]) / step - 1e-9))
            n_hi = math.floor((duration - tails[0]) / step + 1e-9)
            tails_here = [duration - n * step for n in range(n_lo, n_hi + 1)]
            if pickups and not tails_here:  # the tail range is narrower than a beat here
                tails_here = [(tails[0] + tails[1]) / 2]
        for tail in tails_here:
            body = duration - tail
            bars = math.floor(body / bar + 1e-6)
            first = max(0.0, body - bars * bar)
            if bars < 1 and not pickups:
                continue
            cost = abs(bpm - target) / span + 0.4 * abs(tail - tail_pref) / 1.6 + (1.0 if bars < 1 else 0.0)
            pickup_beats = first / beat
            cost += 0.25 * min(pickup_beats, abs(pickup_beats - round(pickup_beats)) + 0.3)
            for cut in cuts[1:3]:
                k = round((cut.time_s - first) / bar)
                if 0 <= k <= bars:
                    miss = abs(first + k * bar - cut.time_s)
                    weight = 1.5 * cut.score / max(cuts[0].score, 1e-3)
                    cost += weight * (0.0 if miss <= SYNC_TOLERANCE else min(1.0, miss / 0.25) + 0.2)
            grid = Grid(float(bpm), first, bars, tail, duration)
            if best is None or cost < best[0]:
                best = (cost, grid)
    return None if best is None else best[1]


# --------------------------------------------------------------------------- the form


def plan_form(bars: int, cut_bar: int | None, style: Style, rng: np.random.Generator) -> tuple[Section, ...]:
    """Intro, body sections of 4-8 bars, a cadence; a section always starts on the strongest cut."""
    if bars == 0:
        return ()
    progs = [parse_progression(p) for p in style.progressions]
    order = rng.permutation(len(progs))
    by_kind = {"A": progs[order[0]], "B": progs[order[1 % len(progs)]], "C": progs[order[2 % len(progs)]]}
    cadence = parse_progression(style.cadences[int(rng.integers(len(style.cadences)))])
    has_zero = any(p.min_energy == 0 for p in style.parts)
    intro = 0 if bars < 4 else (1 if bars < 10 else 2)
    if cut_bar is not None and 0 <= cut_bar < intro:
        intro = cut_bar
    cad = 0 if bars < 3 else (1 if bars < 8 else 2)
    body_start, body_end = intro, bars - cad
    if cut_bar is not None and body_end <= cut_bar < bars:
        cad, body_end = bars - cut_bar, cut_bar
    cuts = {body_start, body_end}
    if cut_bar is not None and body_start < cut_bar < body_end:
        cuts.add(cut_bar)
    edges = sorted(cuts)
    chunks: list[tuple[int, int]] = []
    for a, b in itertools.pairwise(edges):
        start = a
        while b - start > 8:
            take = 8 if b - start - 8 >= 4 else 4
            chunks.append((start, take))
            start += take
        if b > start:
            chunks.append((start, b - start))
    sections: list[Section] = []
    if intro:
        sections.append(Section(0, intro, "intro", 0 if has_zero else 1, by_kind["A"]))
    kinds = ("A", "B", "A", "C", "B", "A", "B", "C")
    energies = {"A": 2, "B": 3, "C": 1}
    for i, (start, length) in enumerate(chunks):
        kind = kinds[i % len(kinds)]
        if start == cut_bar:
            kind = "B"
        energy = energies[kind]
        if i == 0 and not intro and kind == "A":
            energy = 2
        sections.append(Section(start, length, kind, energy, by_kind[kind]))
    if cut_bar is not None:
        for i, sec in enumerate(sections):
            nxt = sections[i + 1] if i + 1 < len(sections) else None
            if nxt is not None and nxt.start == cut_bar and sec.energy >= 3:
                sections[i] = Section(sec.start, sec.bars, sec.kind, 2, sec.progression)
    if cad:
        sections.append(Section(bars - cad, cad, "end", 2, cadence))
    return tuple(sections)


# --------------------------------------------------------------------------- the notes


@dataclass
class _Writer:
    style: Style
    grid: Grid
    tonic: int
    rng: np.random.Generator
    notes: list[Note] = field(default_factory=list)
    voicings: dict[str, tuple[int, ...]] = field(default_factory=dict)
    last_melody: int | None = None

    def add(
        self, part: Part, bar: int, step: float, dur: float, pitch: int, vel: float, *, exact: bool = False
    ) -> None:
        t = self.grid.step_time(bar, step, self.style.swing)
        if t < 0:  # the part of a pickup bar before the clip starts
            return
        if not exact:
            sigma = self.style.humanise_ms / 1000
            t += float(np.clip(self.rng.normal(0, sigma), -2.5 * sigma, 2.5 * sigma))
        v = float(np.clip(vel * (1 + self.rng.normal(0, 0.07)), 0.05, 1.0))
        pan = float(np.clip(part.pan + self.rng.normal(0, 0.05), -0.9, 0.9))
        self.notes.append(Note(max(0.0, t), dur, part.instrument, pitch, v, pan, part.send, part.gain, bar, int(step)))

    def chord_at(self, section: Section, bar: int, step: int) -> Chord:
        prog = section.progression
        if section.kind == "end":
            index = (bar - section.start) * len(prog) // section.bars if section.bars > 1 else (1 if step >= 8 else 0)
            return prog[min(index, len(prog) - 1)]
        return prog[(bar - section.start) % len(prog)]

    def voicing(self, part: Part, chord: Chord) -> tuple[int, ...]:
        previous = self.voicings.get(part.instrument)
        notes = voice(chord, self.tonic, previous, low=part.register[0], high=part.register[1])
        self.voicings[part.instrument] = notes
        return notes


def _onsets(pattern: str) -> list[tuple[int, float]]:
    return [(i, 1.0 if ch == "x" else 0.62) for i, ch in enumerate(pattern) if ch in "xo"]


_RHYTHMS = (
    (0, 4, 6, 8, 12),
    (0, 3, 6, 8, 10, 12),
    (2, 4, 8, 11, 12),
    (0, 6, 8, 10, 14),
    (0, 2, 4, 8, 12),
    (0, 4, 8, 10, 12, 14),
)
_ANSWERS = ((0, 4, 8), (0, 6, 8), (0, 2, 4, 8), (0, 8))


def write_score(duration: float, style: Style, cuts: tuple[Cut, ...], seed: int) -> Score:
    rng = np.random.default_rng([seed, 7919, sum(map(ord, style.mood))])
    tonic = int(style.tonics[int(rng.integers(len(style.tonics)))])
    grid, anchor = solve_grid(duration, style, cuts, rng)
    cut_bar = round((anchor.time_s - grid.first_downbeat) / grid.bar_s) if anchor is not None else None
    sections = plan_form(grid.bars, cut_bar, style, rng)
    if not sections and grid.first_downbeat > 0:  # all pickup: the last beats of a cadence bar lead in
        sections = (Section(-1, 1, "end", 2, parse_progression(style.cadences[0])),)
    writer = _Writer(style, grid, tonic, rng)
    for number, section in enumerate(sections):
        melody_cells = [
            _RHYTHMS[int(rng.integers(len(_RHYTHMS)))],
            _ANSWERS[int(rng.integers(len(_ANSWERS)))],
            _RHYTHMS[int(rng.integers(len(_RHYTHMS)))],
        ]
        contour = rng.integers(-2, 3, 8)
        for bar in range(section.start, section.start + section.bars):
            phrase = (bar - section.start) // 4
            last_of_section = bar == section.start + section.bars - 1
            for part in style.parts:
                if part.min_energy > section.energy:
                    continue
                variant = (number + phrase) % max(1, len(part.patterns))
                _write_part(writer, part, section, bar, variant, phrase, last_of_section, melody_cells, contour)
    accents = _write_ending_and_accents(writer, sections, anchor, cut_bar, cuts)
    synced = tuple(
        (c.time_s, round((c.time_s - grid.first_downbeat) / grid.bar_s))
        for c in cuts
        if 0 <= round((c.time_s - grid.first_downbeat) / grid.bar_s) <= grid.bars
        and abs(grid.downbeat(round((c.time_s - grid.first_downbeat) / grid.bar_s)) - c.time_s) <= SYNC_TOLERANCE
    )
    notes = tuple(sorted(writer.notes, key=lambda n: n.time))
    return Score(grid, sections, notes, tonic, synced, accents)


def _write_part(
    w: _Writer,
    part: Part,
    section: Section,
    bar: int,
    variant: int,
    phrase: int,
    last_of_section: bool,
    cells: Sequence[tuple[int, ...]],
    contour: np.ndarray,
) -> None:
    grid = w.grid
    sixteenth = grid.bar_s / 16
    pattern = part.patterns[variant] if part.patterns else ""
    energy_vel = 0.55 + 0.12 * section.energy
    if part.role in CHORD_ROLES:
        onsets = _onsets(pattern) or [(0, 1.0)]
        steps = [s for s, _ in onsets] + [16]
        arp_index = 0
        for i, (step, accent) in enumerate(onsets):
            chord = w.chord_at(section, bar, step)
            notes = w.voicing(part, chord)
            length = (steps[i + 1] - step) * sixteenth
            vel = energy_vel * accent * (1.08 if step == 0 else 1.0)
            if part.role == "pad":
                for p in notes:
                    w.add(part, bar, step, grid.bar_s * 1.02, p, vel * 0.9)
            elif part.role == "block":
                for p in notes:
                    w.add(part, bar, step, length * 0.92, p, vel)
            elif part.role == "strum":
                order = notes if accent >= 1 else tuple(reversed(notes))
                for k, p in enumerate(order):
                    w.add(part, bar, step + k * 0.05 / sixteenth * 0.25, length * 0.95, p, vel * (1 - 0.06 * k))
            else:  # arp
                shape = (0, 1, 2, 3, 2, 1) if variant % 2 == 0 else (0, 2, 1, 3, 1, 2)
                p = notes[shape[arp_index % len(shape)] % len(notes)]
                arp_index += 1
                w.add(part, bar, step, max(length, 2 * sixteenth) * 1.6, p, vel)
        return
    if part.role == "bass":
        chord = w.chord_at(section, bar, 0)
        root = part.register[0] + (w.tonic + chord.root - part.register[0]) % 12
        onsets = _onsets(pattern)
        steps = [s for s, _ in onsets] + [16]
        for i, (step, accent) in enumerate(onsets):
            chord_here = w.chord_at(section, bar, step)
            root = part.register[0] + (w.tonic + chord_here.root - part.register[0]) % 12
            pitch = root + (12 if i % 4 == 3 and root + 12 <= part.register[1] + 5 else 0)
            w.add(part, bar, step, (steps[i + 1] - step) * sixteenth * 0.9, pitch, energy_vel * accent)
        return
    if part.role == "ostinato":
        chord = w.chord_at(section, bar, 0)
        root = part.register[0] + (w.tonic + chord.root - part.register[0]) % 12
        figure = (0, 7, 12, 7) if phrase % 2 == 0 else (0, 12, 7, 3 if 3 in chord.intervals else 4)
        onsets = _onsets(pattern)
        for i, (step, accent) in enumerate(onsets):
            w.add(part, bar, step, sixteenth * 1.6, root + figure[i % len(figure)], energy_vel * accent)
        return
    if part.role == "melody":
        _write_melody(w, part, section, bar, phrase, cells, contour, energy_vel)
        return
    # drums
    fill = last_of_section and section.energy >= 2 and part.role in {"snare", "tom", "clap", "rim"}
    onsets = _onsets(pattern)
    if fill:
        onsets = [(s, a) for s, a in onsets if s < 12] + [(12, 0.7), (13, 0.5), (14, 0.8), (15, 0.6)]
    for step, accent in onsets:
        w.add(part, bar, step, 0.0, 0, energy_vel * accent)


def _write_melody(
    w: _Writer,
    part: Part,
    section: Section,
    bar: int,
    phrase: int,
    cells: Sequence[tuple[int, ...]],
    contour: np.ndarray,
    energy_vel: float,
) -> None:
    sixteenth = w.grid.bar_s / 16
    in_phrase = (bar - section.start) % 4
    cell = cells[0] if in_phrase in (0, 2) else cells[1]
    if in_phrase == 2 and phrase % 2 == 1:
        cell = cells[2]
    if in_phrase == 3:
        cell = (0, 8) if phrase % 2 == 0 else (0, 4, 8)
    scale = scale_notes(w.tonic, w.style.scale, part.register[0], part.register[1])
    middle = scale[len(scale) // 2]
    current = w.last_melody if w.last_melody is not None else middle
    steps = [*cell, 16]
    for i, step in enumerate(cell):
        chord = w.chord_at(section, bar, step)
        idx = min(range(len(scale)), key=lambda k: abs(scale[k] - current))
        move = int(contour[(i + in_phrase + phrase) % len(contour)])
        idx = int(np.clip(idx + move, 0, len(scale) - 1))
        pitch = scale[idx]
        if step % 8 == 0 or i == len(cell) - 1:
            tones = [n for n in scale if n % 12 in chord.pitch_classes(w.tonic)]
            if tones:
                pitch = min(tones, key=lambda n: abs(n - pitch))
        if abs(pitch - middle) > 9:
            pitch += -12 if pitch > middle else 12
            pitch = min(max(pitch, part.register[0]), part.register[1])
        current = pitch
        length = (steps[i + 1] - step) * sixteenth
        w.add(part, bar, step, length * 0.9, pitch, energy_vel * (1.0 if step % 4 == 0 else 0.8))
    w.last_melody = current


def _write_ending_and_accents(
    w: _Writer, sections: tuple[Section, ...], anchor: Cut | None, cut_bar: int | None, cuts: tuple[Cut, ...]
) -> tuple[int, ...]:
    """The final chord on the last downbeat, ringing to the end; hits on the cut; the pickup swell."""
    grid, style = w.grid, w.style
    final = parse_chord(style.final)
    n = grid.bars
    ring = grid.tail
    for part in style.parts:
        if part.role in CHORD_ROLES or part.role == "ostinato":
            notes = voice(final, w.tonic, w.voicings.get(part.instrument), low=part.register[0], high=part.register[1])
            for k, p in enumerate(notes):
                roll = 0.025 * k if part.role in {"arp", "strum"} else 0.0
                w.notes.append(
                    Note(
                        grid.final_downbeat + roll,
                        ring,
                        _STRUCK.get(part.instrument, part.instrument) if part.role != "ostinato" else "epiano",
                        p,
                        0.7,
                        part.pan,
                        part.send,
                        part.gain * (0.9 if part.role == "ostinato" else 1.0),
                        n,
                        0,
                    )
                )
        elif part.role == "bass":
            root = part.register[0] + (w.tonic - part.register[0]) % 12
            w.notes.append(
                Note(grid.final_downbeat, ring, part.instrument, root, 0.75, 0.0, part.send, part.gain, n, 0)
            )
        elif part.role == "melody":
            top = part.register[0] + (w.tonic - part.register[0]) % 12 + 12
            top = top if top <= part.register[1] else top - 12
            w.notes.append(
                Note(
                    grid.final_downbeat, min(ring, 1.5), part.instrument, top, 0.6, part.pan, part.send, part.gain, n, 0
                )
            )
    accents: list[int] = []
    drum_gain = {p.instrument: p.gain for p in style.parts}

    def hit(kind: str, bar: int, vel: float) -> None:
        w.notes.append(Note(grid.downbeat(bar), 0.0, kind, 0, vel, 0.0, 0.3, drum_gain.get(kind, 0.3), bar, 0))

    if cut_bar is not None:
        accents.append(cut_bar)
        for kind in style.accent:
            hit(kind, cut_bar, 0.9)
        if style.riser and cut_bar >= 1:
            w.notes.append(
                Note(grid.downbeat(cut_bar - 1), grid.bar_s, "riser", 0, 0.8, 0.0, 0.3, 0.35, cut_bar - 1, 0)
            )
    for c in cuts[1:3]:
        k = round((c.time_s - grid.first_downbeat) / grid.bar_s)
        if k != cut_bar and 0 <= k <= n and abs(grid.downbeat(k) - c.time_s) <= SYNC_TOLERANCE and style.accent:
            accents.append(k)
            hit(style.accent[-1], k, 0.6)
    if style.accent and cut_bar != n and style.mood in {"upbeat", "cinematic", "happy"}:
        hit(style.accent[0], n, 0.8)
    if grid.first_downbeat >= 0.35 and sections:
        first = sections[0].progression[0]
        for p in voice(first, w.tonic, None, low=52, high=72):
            w.notes.append(Note(0.0, grid.first_downbeat, "swell", p, 0.5, 0.0, 0.5, 0.12, -1, 0))
    return tuple(accents)

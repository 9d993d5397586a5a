"""A score as a Standard MIDI File (format 0), for playing it through a General MIDI soundfont.

Only what the soundfont path needs: one tempo, a program per instrument, notes with velocities.
Times are the score's humanised seconds converted at its single tempo (480 ticks a beat, about
1 ms at 120 BPM), so the soundfont plays the same performance the numpy instruments would.
"""

from __future__ import annotations

import struct

from engine.music.composer.arrangement import Score
from engine.music.composer.sf2 import DRUM_KIT

PPQ = 480
DRUM_CHANNEL = 9

PROGRAMS: dict[str, int] = {
    "epiano": 4,  # Electric Piano 1
    "bell": 9,  # Glockenspiel
    "pluck": 24,  # Acoustic Guitar (nylon)
    "pad": 89,  # Pad 2 (warm)
    "warmpad": 89,
    "swell": 89,
    "strings": 48,  # String Ensemble 1
    "pad_struck": 89,
    "warmpad_struck": 89,
    "strings_struck": 48,
    "pulse": 45,  # Pizzicato Strings
    "bass": 33,  # Electric Bass (finger)
}
DRUM_NOTES: dict[str, int] = {
    "kick": 36, "snare": 38, "clap": 39, "hat": 42, "openhat": 46, "shaker": 82, "rim": 37,
    "crash": 49, "boom": 35, "tom": 45, "tick": 75,
}  # fmt: skip


def presets_played(score: Score) -> set[tuple[int, int]]:
    """(bank, program) of every General MIDI preset the score's MIDI file plays (channel 10: the drum kit)."""
    used = {note.instrument for note in score.notes}
    return {(0, PROGRAMS[i]) for i in used if i in PROGRAMS} | ({DRUM_KIT} if used & DRUM_NOTES.keys() else set())


def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def score_to_midi(score: Score, gains: dict[str, float]) -> bytes:
    """The score as SMF bytes; `gains` (per instrument) become channel volumes."""
    bpm = score.grid.bpm
    ticks_per_s = bpm / 60 * PPQ
    channels: dict[str, int] = {}
    free = [c for c in range(16) if c != DRUM_CHANNEL]
    played: list[list[int]] = []  # [on tick, off tick, channel, key, velocity]
    for note in score.notes:
        if note.instrument in DRUM_NOTES:
            channel, pitch, length = DRUM_CHANNEL, DRUM_NOTES[note.instrument], 0.1
        elif note.instrument in PROGRAMS:
            if note.instrument not in channels:
                if not free:
                    continue
                channels[note.instrument] = free.pop(0)
            channel, pitch, length = channels[note.instrument], note.pitch, note.dur
        else:
            continue  # textures without a General MIDI equivalent (riser)
        velocity = max(1, min(127, round(127 * (0.3 + 0.7 * note.vel))))
        on = round(note.time * ticks_per_s)
        played.append([on, max(on + 1, round((note.time + length) * ticks_per_s)), channel, pitch & 0x7F, velocity])
    # A key struck again while it still sounds is released where it is struck again: a note-off ends
    # every voice of its key, so the earlier note's own off would cut the new one short (a pad's
    # common tone held into the next bar lost nearly all of its second bar).
    played.sort()
    latest: dict[tuple[int, int], list[int]] = {}
    for note_on in played:
        earlier = latest.get((note_on[2], note_on[3]))
        if earlier is not None and earlier[1] > note_on[0]:
            earlier[1] = note_on[0]
        latest[(note_on[2], note_on[3])] = note_on
    events: list[tuple[int, int, bytes]] = []  # (tick, order, message): note-offs (0) before note-ons (1)
    for on, off, channel, key, velocity in played:
        events.append((on, 1, bytes((0x90 | channel, key, velocity))))
        events.append((off, 0, bytes((0x80 | channel, key, 0))))
    head = bytearray()
    tempo = round(60_000_000 / bpm)
    head += b"\x00\xff\x51\x03" + tempo.to_bytes(3, "big")
    for instrument, channel in channels.items():
        head += b"\x00" + bytes((0xC0 | channel, PROGRAMS[instrument]))
        volume = max(1, min(127, round(127 * min(1.0, gains.get(instrument, 0.3) / 0.45))))
        head += b"\x00" + bytes((0xB0 | channel, 7, volume))
    body = bytearray(head)
    now = 0
    for tick, _, message in sorted(events, key=lambda e: (e[0], e[1])):
        body += _vlq(tick - now) + message
        now = tick
    body += b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, PPQ) + b"MTrk" + struct.pack(">I", len(body)) + bytes(body)

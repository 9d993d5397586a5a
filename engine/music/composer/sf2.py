"""Only the presets a piece plays, cut out of an SF2 soundfont, so the renderer holds megabytes, not the font.

The renderer (midirenderer) takes the whole font as bytes and copies all of its samples while it
plays: with FluidR3 GM (148 MB) a 60 s piece peaked at ~420 MB, over the engine's 400 MB target. A
piece plays four or five General MIDI programs and the drum kit (docs/music.md, "Soundfonts");
their zones, generators and samples are copied here unchanged into a small SF2 of their own, so the
renderer plays exactly what it would have played from the whole font (tests/test_music_composer.py
renders both and compares the bytes). A preset the font lacks resolves the way the renderer
resolves it (the same program in bank 0, the standard drum kit, else the font's first preset).

The layout (SoundFont 2.04): RIFF `sfbk` holding LIST `INFO`, LIST `sdta` (`smpl`: 16-bit samples,
each followed by at least 46 zero points) and LIST `pdta` (`phdr pbag pmod pgen inst ibag imod igen
shdr`, each list closed by a terminal record).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

_PHDR = struct.Struct("<20sHHHIII")
_INST = struct.Struct("<20sH")
_BAG = struct.Struct("<HH")
_GEN = struct.Struct("<HH")
_SHDR = struct.Struct("<20sIIIIIBbHH")
_MOD_SIZE = 10
_GEN_INSTRUMENT = 41
_GEN_SAMPLE_ID = 53
_PAD = 46
"""Zero sample points the format requires after every sample (interpolation reads past the end)."""
_PDTA = (b"phdr", b"pbag", b"pmod", b"pgen", b"inst", b"ibag", b"imod", b"igen", b"shdr")
DRUM_KIT = (128, 0)
"""(bank, program) of the General MIDI standard drum kit: what MIDI channel 10 plays."""


class NotAnSf2(ValueError):
    """The file is not a SoundFont 2 the subset can be cut from (truncated, or another format)."""


def subset(path: Path, presets: Iterable[tuple[int, int]]) -> bytes:
    """A complete SF2 holding only `presets` ((bank, program) pairs) of the font at `path`, with the
    zones, instruments and samples they use. Reads only those parts of the file."""
    try:
        with path.open("rb") as f:
            return _subset(f, set(presets))
    except (struct.error, IndexError, KeyError) as exc:
        raise NotAnSf2(f"not a usable SF2 soundfont ({type(exc).__name__})") from exc


def _subset(f: BinaryIO, wanted: set[tuple[int, int]]) -> bytes:
    info, smpl, pdta = _layout(f)
    data = {name: _read(f, *pdta[name]) for name in _PDTA}
    phdr = list(_PHDR.iter_unpack(data[b"phdr"]))  # a record's size not dividing its list's is a struct.error
    pbag, pgen = list(_BAG.iter_unpack(data[b"pbag"])), list(_GEN.iter_unpack(data[b"pgen"]))
    inst = list(_INST.iter_unpack(data[b"inst"]))
    ibag, igen = list(_BAG.iter_unpack(data[b"ibag"])), list(_GEN.iter_unpack(data[b"igen"]))
    shdr = list(_SHDR.iter_unpack(data[b"shdr"]))
    if len(phdr) < 2 or len(inst) < 2 or len(shdr) < 2:
        raise NotAnSf2("the soundfont has no presets, instruments or samples")

    keep_presets = _resolve(phdr, wanted)
    new_pbag, new_pgen, new_pmod, instruments = _zones(
        [(phdr[i][3], phdr[i + 1][3]) for i in keep_presets], pbag, pgen, data[b"pmod"], _GEN_INSTRUMENT
    )
    keep_inst = sorted(instruments)
    new_ibag, new_igen, new_imod, samples = _zones(
        [(inst[i][1], inst[i + 1][1]) for i in keep_inst], ibag, igen, data[b"imod"], _GEN_SAMPLE_ID
    )
    keep_samples = sorted(samples)
    inst_index = {old: new for new, old in enumerate(keep_inst)}
    sample_index = {old: new for new, old in enumerate(keep_samples)}

    out_pgen = b"".join(_GEN.pack(op, inst_index[amt] if op == _GEN_INSTRUMENT else amt) for op, amt in new_pgen)
    out_igen = b"".join(_GEN.pack(op, sample_index[amt] if op == _GEN_SAMPLE_ID else amt) for op, amt in new_igen)
    out_phdr, bag = bytearray(), 0
    for i in keep_presets:
        name, program, bank, _, library, genre, morphology = phdr[i]
        out_phdr += _PHDR.pack(name, program, bank, bag, library, genre, morphology)
        bag += phdr[i + 1][3] - phdr[i][3]
    out_phdr += _PHDR.pack(b"EOP", 0, 0, bag, 0, 0, 0)
    out_inst, bag = bytearray(), 0
    for i in keep_inst:
        out_inst += _INST.pack(inst[i][0], bag)
        bag += inst[i + 1][1] - inst[i][1]
    out_inst += _INST.pack(b"EOI", bag)

    # samples: each one's stretch (with its loop and the zero points after it), in the file's order
    waves: list[bytes] = []
    out_shdr = bytearray()
    cursor = 0
    smpl_offset, smpl_points = smpl[0], smpl[1] // 2
    for old in keep_samples:
        name, start, end, loop_start, loop_end, rate, pitch, correction, link, kind = shdr[old]
        lo, hi = min(start, loop_start), min(max(end, loop_end) + _PAD, smpl_points)
        if not 0 <= lo < hi:
            raise NotAnSf2("a sample lies outside the sample data")
        wave = _read(f, smpl_offset + 2 * lo, 2 * (hi - lo))
        wave += bytes(2 * max(0, end + _PAD - hi))  # the format's zero points, where the file lacks them
        shift = cursor - lo
        out_shdr += _SHDR.pack(
            name, start + shift, end + shift, loop_start + shift, loop_end + shift, rate, pitch, correction,
            sample_index.get(link, 0) if kind & 0xE else link, kind,  # stereo halves point at each other
        )  # fmt: skip
        waves.append(wave)
        cursor += len(wave) // 2
    out_shdr += _SHDR.pack(b"EOS", 0, 0, 0, 0, 0, 0, 0, 0, 0)

    pdta_body = b"pdta" + b"".join(
        _chunk(name, body)
        for name, body in (
            (b"phdr", bytes(out_phdr)),
            (b"pbag", new_pbag),
            (b"pmod", new_pmod),
            (b"pgen", out_pgen + _GEN.pack(0, 0)),
            (b"inst", bytes(out_inst)),
            (b"ibag", new_ibag),
            (b"imod", new_imod),
            (b"igen", out_igen + _GEN.pack(0, 0)),
            (b"shdr", bytes(out_shdr)),
        )
    )
    smpl_size = 2 * cursor
    sdta_head = b"LIST" + struct.pack("<I", 4 + 8 + smpl_size) + b"sdta" + b"smpl" + struct.pack("<I", smpl_size)
    body_size = 4 + len(info) + len(sdta_head) + smpl_size + 8 + len(pdta_body)
    head = b"RIFF" + struct.pack("<I", body_size) + b"sfbk" + info + sdta_head
    return b"".join([head, *waves, b"LIST", struct.pack("<I", len(pdta_body)), pdta_body])


def _resolve(phdr: list[tuple[bytes, int, int, int, int, int, int]], wanted: set[tuple[int, int]]) -> list[int]:
    """The preset indices the renderer would play for `wanted`: the (bank, program) itself, else that
    program in bank 0 (the drum kit for banks from 128), else the preset with the lowest id."""
    ids: dict[int, int] = {}
    for i, (_, program, bank, *_rest) in enumerate(phdr[:-1]):
        ids[(bank << 16) | program] = i  # a later duplicate replaces an earlier one, as in the renderer
    default = min(range(len(phdr) - 1), key=lambda i: ((phdr[i][2] << 16) | phdr[i][1], i))
    chosen = set()
    for bank, program in wanted:
        found = ids.get((bank << 16) | program)
        if found is None:
            found = ids.get(program if bank < 128 else DRUM_KIT[0] << 16, default)
        chosen.add(found)
    return sorted(chosen)


def _zones(
    spans: list[tuple[int, int]], bags: list[tuple[int, int]], gens: list[tuple[int, int]], mods: bytes, link: int
) -> tuple[bytes, list[tuple[int, int]], bytes, set[int]]:
    """The bags of the kept presets (or instruments) with their generators and modulators, renumbered
    from zero, and what their `link` generators point at (instruments, or samples)."""
    out_bags = bytearray()
    out_gens: list[tuple[int, int]] = []
    out_mods = bytearray()
    linked: set[int] = set()
    for first, last in spans:
        for b in range(first, last):
            (g0, m0), (g1, m1) = bags[b], bags[b + 1]
            out_bags += _BAG.pack(len(out_gens), len(out_mods) // _MOD_SIZE)
            for op, amount in gens[g0:g1]:
                out_gens.append((op, amount))
                if op == link:
                    linked.add(amount)
            out_mods += mods[m0 * _MOD_SIZE : m1 * _MOD_SIZE]
    out_bags += _BAG.pack(len(out_gens), len(out_mods) // _MOD_SIZE)
    out_mods += bytes(_MOD_SIZE)
    return bytes(out_bags), out_gens, bytes(out_mods), linked


def _layout(f: BinaryIO) -> tuple[bytes, tuple[int, int], dict[bytes, tuple[int, int]]]:
    """The INFO list (whole, as it is), the `smpl` chunk's place, and every `pdta` chunk's place."""
    riff, size, form = struct.unpack("<4sI4s", f.read(12))
    if riff != b"RIFF" or form != b"sfbk":
        raise NotAnSf2("not a RIFF sfbk file")
    info = b""
    smpl: tuple[int, int] | None = None
    pdta: dict[bytes, tuple[int, int]] = {}
    pos = 12
    while pos + 12 <= 8 + size:
        f.seek(pos)
        cid, csize, kind = struct.unpack("<4sI4s", f.read(12))
        if cid == b"LIST" and kind == b"INFO":
            f.seek(pos)
            info = f.read(8 + csize) + bytes(csize & 1)
        elif cid == b"LIST" and kind in (b"sdta", b"pdta"):
            sub = pos + 12
            while sub + 8 <= pos + 8 + csize:
                f.seek(sub)
                sid, ssize = struct.unpack("<4sI", f.read(8))
                if kind == b"sdta" and sid == b"smpl":
                    smpl = (sub + 8, ssize)
                elif kind == b"pdta":
                    pdta[sid] = (sub + 8, ssize)
                sub += 8 + ssize + (ssize & 1)
        pos += 8 + csize + (csize & 1)
    if not info or smpl is None or any(name not in pdta for name in _PDTA):
        raise NotAnSf2("the soundfont lacks its INFO, sample data or preset lists")
    return info, smpl, pdta


def _read(f: BinaryIO, offset: int, size: int) -> bytes:
    f.seek(offset)
    data = f.read(size)
    if len(data) != size:
        raise NotAnSf2("the soundfont is truncated")
    return data


def _chunk(name: bytes, body: bytes) -> bytes:
    return name + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")

"""Loudness as ITU-R BS.1770 / EBU R128 define it: integrated LUFS with the two gates.

Two meters. `LoudnessMeter` runs in numpy on the mix as it is made, block by block: each 100 ms
sub-block's power is taken from its spectrum weighted by the K-filter's magnitude response
(Parseval: the mean square of the K-filtered signal, up to the filter's edge effects), which is
all BS.1770 needs; memory stays at one float per 100 ms. It sets the music against the clips and gives the
first gain. `measure_file` asks ffmpeg's ebur128 filter (4× oversampled true peak) about a real
file: that is the figure the output is held to, measured after AAC encoding.
"""

from __future__ import annotations

import asyncio
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from engine.ffmpeg import run_ffmpeg
from engine.media import AUDIO_RATE
from engine.render.escape import ff_value

RATE = AUDIO_RATE
SUB_BLOCK = RATE // 10
"""100 ms: four of them make one 400 ms gating block (75 % overlap)."""
ABSOLUTE_GATE = -70.0
RELATIVE_GATE = -10.0

# BS.1770-4 K-weighting at 48 kHz: a high shelf (+4 dB above ~1.5 kHz) and the RLB high-pass.
_SHELF = ((1.53512485958697, -2.69169618940638, 1.19839281085285), (1.0, -1.69065929318241, 0.73248077421585))
_HIGHPASS = ((1.0, -2.0, 1.0), (1.0, -1.99004745483398, 0.99007225036621))


@cache
def k_weight_power(n: int) -> np.ndarray:
    """|H(f)|² of the K-filter on the bins of an n-point rfft, with Parseval's one-sided weights / n²."""
    z = np.exp(-1j * 2 * np.pi * np.fft.rfftfreq(n))
    response = np.ones_like(z)
    for b, a in (_SHELF, _HIGHPASS):
        response *= (b[0] + b[1] * z + b[2] * z**2) / (a[0] + a[1] * z + a[2] * z**2)
    weights = np.full(len(z), 2.0)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0
    return np.asarray(np.abs(response) ** 2 * weights / n**2, dtype=np.float64)


def sub_block_powers(samples: np.ndarray) -> np.ndarray:
    """K-weighted mean square of each 100 ms sub-block, summed over channels; `samples` is (n, 2)
    with n a multiple of 4800."""
    blocks = samples.reshape(-1, SUB_BLOCK, samples.shape[1])
    spectra = np.fft.rfft(blocks, axis=1)
    power = np.abs(spectra) ** 2
    return np.asarray(np.einsum("bkc,k->b", power, k_weight_power(SUB_BLOCK)), dtype=np.float64)


def integrated(powers: np.ndarray) -> float | None:
    """Integrated loudness (LUFS) from 100 ms sub-block powers; None when nothing passes the absolute gate."""
    if len(powers) < 4:
        powers = np.concatenate([powers, np.zeros(4 - len(powers))])
    kernel = np.ones(4) / 4
    blocks = np.convolve(powers, kernel, mode="valid")
    with np.errstate(divide="ignore"):
        levels = -0.691 + 10 * np.log10(blocks)
    gated = blocks[levels > ABSOLUTE_GATE]
    if not len(gated):
        return None
    relative = -0.691 + 10 * math.log10(float(np.mean(gated))) + RELATIVE_GATE
    kept = blocks[(levels > ABSOLUTE_GATE) & (levels > relative)]
    return -0.691 + 10 * math.log10(float(np.mean(kept)))


class LoudnessMeter:
    """Accumulates sub-block powers of a stream fed in pieces whose lengths are multiples of 100 ms."""

    def __init__(self) -> None:
        self._powers: list[np.ndarray] = []

    def add(self, samples: np.ndarray) -> None:
        self._powers.append(sub_block_powers(samples))

    @property
    def powers(self) -> np.ndarray:
        return np.concatenate(self._powers) if self._powers else np.zeros(0)

    def integrated(self) -> float | None:
        return integrated(self.powers)


@dataclass(frozen=True, slots=True)
class Measured:
    integrated_lufs: float | None
    """None for silence (nothing above the absolute gate)."""
    true_peak_dbtp: float


def _read_tail(path: Path, size: int = 4096) -> bytes:
    """The end of ebur128's metadata log (its last frame holds the totals); the log is removed."""
    with path.open("rb") as fh:
        fh.seek(0, 2)
        fh.seek(max(0, fh.tell() - size))
        tail = fh.read()
    path.unlink(missing_ok=True)
    return tail


_KEY = re.compile(rb"^lavfi\.r128\.(I|true_peak)=(-?[\d.]+|-?inf|nan)", re.MULTILINE)


async def measure_file(path: Path, work_dir: Path) -> Measured:
    """Integrated loudness and true peak of `path`'s first audio stream, as ffmpeg's ebur128 reports them."""
    log_file = work_dir / f"{path.stem}.r128.txt"
    graph = f"ebur128=peak=true:framelog=quiet:metadata=1,ametadata=mode=print:file={ff_value(str(log_file))}"
    await run_ffmpeg(["-y", "-i", path, "-map", "0:a:0", "-af", graph, "-f", "null", "-"])
    tail = await asyncio.to_thread(_read_tail, log_file)
    found = {key.decode(): float(value) for key, value in _KEY.findall(tail)}
    lufs = found.get("I", float("nan"))
    peak = found.get("true_peak", 0.0)
    return Measured(
        integrated_lufs=None if not math.isfinite(lufs) or lufs <= ABSOLUTE_GATE else lufs,
        true_peak_dbtp=20 * math.log10(peak) if peak > 0 else -math.inf,
    )

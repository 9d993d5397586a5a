"""Playing the composer's score through a General MIDI soundfont, when one is installed.

Optional on both sides (docs/music.md, "Soundfonts"): the renderer is the `midirenderer` wheel
(MIT; the `soundfont` extra: `pip install -e ".[soundfont]"`), and the soundfont is the operator's
(`ENGINE_SOUNDFONT`) or Debian's FluidR3 GM (MIT; `apt-get install fluid-soundfont-gm`). Nothing
of either is in the repository. Without them the numpy instruments play the score.
"""

from __future__ import annotations

import io
import logging
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import signal
from scipy.io import wavfile

from engine.music import SAMPLE_RATE
from engine.music.composer.arrangement import Score
from engine.music.composer.midi import presets_played, score_to_midi
from engine.music.composer.sf2 import subset

log = logging.getLogger(__name__)

DEBIAN_SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/soundfonts/FluidR3_GM.sf2"),
    Path("/usr/share/soundfonts/default.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
)


class SoundfontUnavailable(RuntimeError):
    pass


@lru_cache(maxsize=1)
def renderer_available() -> bool:
    try:
        import midirenderer  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


OFF = frozenset({"off", "none", "builtin", "numpy"})
"""`ENGINE_SOUNDFONT=off` keeps the built-in instruments even where a soundfont is installed."""


def find_soundfont(configured: Path | None) -> Path | None:
    """The soundfont to play through: the configured one, else an installed Debian one; None when
    there is none, no renderer to play it, or it is switched off (then the numpy instruments play)."""
    if configured is not None and str(configured).strip().lower() in OFF:
        return None
    if not renderer_available():
        return None
    for candidate in (configured, *DEBIAN_SOUNDFONTS):
        if candidate is not None and candidate.suffix.lower() == ".sf2" and candidate.is_file():
            return candidate
    if configured is not None:
        log.warning("ENGINE_SOUNDFONT is not a readable .sf2 file; composing with the built-in instruments")
    return None


def render_score(score: Score, gains: dict[str, float], soundfont: Path) -> np.ndarray:
    """The score played by the soundfont: float32 (n, 2) at 48 kHz, exactly the piece's length."""
    try:
        import midirenderer
    except ImportError as exc:  # pragma: no cover - find_soundfont checked it
        raise SoundfontUnavailable("midirenderer is not installed") from exc
    out = np.zeros((round(score.grid.duration * SAMPLE_RATE), 2), dtype=np.float32)
    presets = presets_played(score)
    if not presets:
        return out
    midi = score_to_midi(score, gains)
    # The renderer parses the font it is given on every call and copies all of its samples, so it is
    # given only the presets this piece plays, cut from the file per render (a few tens of ms, ~20 MB
    # of FluidR3 GM's 148 MB; the sound is identical): nothing is kept between renders.
    try:
        wav = midirenderer.render_wave_from(subset(soundfont, presets), midi)
    except (ValueError, RuntimeError) as exc:
        raise SoundfontUnavailable(f"the soundfont could not render: {exc}") from exc
    rate, samples = wavfile.read(io.BytesIO(wav))
    del wav
    x = np.asarray(samples)
    x = x[:, None] if x.ndim == 1 else x
    full_scale = np.float32(np.iinfo(x.dtype).max) if x.dtype.kind == "i" else np.float32(1.0)
    if rate != SAMPLE_RATE:  # midirenderer plays at 48 kHz; this is for a build that does not
        g = np.gcd(int(rate), SAMPLE_RATE)
        x = signal.resample_poly(x.astype(np.float32) / full_scale, SAMPLE_RATE // g, int(rate) // g, axis=0)
        full_scale = np.float32(1.0)
    m = min(len(out), len(x))
    out[:m] = x[:m, :2]  # converted into the float32 buffer as it is copied (a mono render fills both channels)
    if full_scale != 1:
        out /= full_scale
    return out

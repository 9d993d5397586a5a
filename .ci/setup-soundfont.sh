#!/usr/bin/env bash
# Installs Debian's FluidR3 General MIDI soundfont (MIT, package fluid-soundfont-gm) so the composer's
# soundfont path (docs/music.md, "Soundfonts") is tested, as the Docker image uses it. Its renderer,
# midirenderer, comes with the dev extras. Nothing is installed when the font is already there.
set -euo pipefail
FONT=/usr/share/sounds/sf2/FluidR3_GM.sf2
if [ -f "$FONT" ]; then
  echo "soundfont present: $FONT"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup-soundfont: $FONT is missing and this is not root" >&2; exit 1; }
  SUDO="sudo"
fi
echo "== installing Debian's fluid-soundfont-gm"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends fluid-soundfont-gm >/dev/null
[ -f "$FONT" ] || { echo "setup-soundfont: no $FONT after installing fluid-soundfont-gm" >&2; exit 1; }

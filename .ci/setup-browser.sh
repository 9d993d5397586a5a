#!/usr/bin/env bash
# Installs what the playground's browser test (tests/test_playground.py) needs: Debian's chromium and
# the playwright Python client (its bundled driver; never `playwright install`, which downloads a
# browser this machine cannot fetch). Run it with the project's venv active. Exits non-zero, LOUDLY,
# when either cannot be had: CI must not pass without the browser test.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python}
CHROMIUM=/usr/bin/chromium

loud() {
  {
    echo
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    echo "!!! setup-browser: $*"
    echo "!!! The playground's browser test cannot run: CI fails rather than pass without it."
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    echo
  } >&2
  exit 1
}

if [ ! -x "$CHROMIUM" ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || loud "chromium is missing and this is not root (no sudo) to apt-get install it"
    SUDO="sudo"
  fi
  echo "== installing Debian's chromium (and fonts for emoji and Chinese text)"
  $SUDO apt-get update -qq || loud "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-noto-color-emoji fonts-noto-cjk \
    >/dev/null || loud "apt-get install chromium failed"
fi
[ -x "$CHROMIUM" ] || loud "no $CHROMIUM after installing the chromium package"
"$CHROMIUM" --version 2>/dev/null || loud "$CHROMIUM does not run"

if ! "$PYTHON" -c "import playwright.async_api" 2>/dev/null; then
  echo "== installing the playwright Python client"
  "$PYTHON" -m pip install --quiet "playwright>=1.45" || loud "pip install playwright failed"
fi

echo "== checking that playwright can drive $CHROMIUM headless"
"$PYTHON" - "$CHROMIUM" <<'EOF' || loud "playwright could not start $CHROMIUM headless"
import asyncio
import sys

from playwright.async_api import async_playwright

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


async def main() -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=sys.argv[1], args=FLAGS, headless=True)
        page = await browser.new_page()
        await page.set_content("<p id=ok>ok</p>")
        assert await page.text_content("#ok") == "ok"
        await browser.close()


asyncio.run(asyncio.wait_for(main(), 120))
print("browser ok")
EOF

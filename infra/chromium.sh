#!/usr/bin/env bash
# Debian's Chromium for the console's browser tests (tests/browser), installed when it is missing.
# Playwright drives it by its path; a browser download (`playwright install`) is never used: the
# development machines and CI reach Debian's packages but no browser vendor.
set -euo pipefail

CHROMIUM="${CUTOVER_CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium: $CHROMIUM is missing; install Debian's chromium package (apt-get install chromium)" >&2
  echo "chromium: or point CUTOVER_CHROMIUM at a Chromium; the browser tests skip without one" >&2
  exit 0
fi
echo "chromium: installing Debian's chromium package (once)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null

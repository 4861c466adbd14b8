#!/usr/bin/env bash
# Installs Debian's chromium for the explorer's browser test (test/explorer/browser.test.ts drives it
# with puppeteer-core; no browser is downloaded by npm). Idempotent: exits at once when
# /usr/bin/chromium is there. Debian only; needs root (or sudo) for apt.
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
  echo "setup-chromium: $(/usr/bin/chromium --version 2>/dev/null | tail -1) already installed"
  exit 0
fi
. /etc/os-release
if [[ ${ID:-} != debian ]]; then
  echo "setup-chromium: only Debian is supported here (found ${PRETTY_NAME:-unknown}); install Chromium and set PODL_CHROMIUM to its path" >&2
  exit 1
fi
sudo=""
if (( EUID != 0 )); then
  command -v sudo >/dev/null || { echo "setup-chromium: needs root or sudo for apt-get" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium
echo "setup-chromium: installed $(/usr/bin/chromium --version 2>/dev/null | tail -1)"

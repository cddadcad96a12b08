#!/usr/bin/env bash
# scripts/chromium-up.sh — Chromium for the console's browser tests (test/e2e/console.test.ts, driven by
# playwright-core with executablePath /usr/bin/chromium: no browser download). CI runs it from .ci/run.
# Idempotent: a machine with /usr/bin/chromium keeps it; otherwise the Debian package `chromium` is
# installed (apt-get waits up to 15 minutes for a dpkg lock another install holds). Needs root.
set -euo pipefail

say() { echo "[chromium-up] $*" >&2; }
LOG=/tmp/openbatch-chromium-apt.log

if [ -x /usr/bin/chromium ]; then
  say "present: $(/usr/bin/chromium --version 2>/dev/null | head -1)"
  exit 0
fi
[ "$(id -u)" = 0 ] || { say "run it as root (it installs the Debian package chromium)"; exit 1; }
export DEBIAN_FRONTEND=noninteractive
say "installing the Debian package chromium (log: $LOG)"
if ! { apt-get -o DPkg::Lock::Timeout=900 update -q \
  && apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends chromium; } >"$LOG" 2>&1; then
  say "cannot install chromium; the end of $LOG:"
  tail -n 20 "$LOG" >&2
  exit 1
fi
say "installed: $(/usr/bin/chromium --version 2>/dev/null | head -1)"

#!/usr/bin/env bash
# Makes sure headless Chromium is installed for the browser test (make
# test-e2e). Installs it with apt-get when it is missing and we can (root
# on a Debian-like system); otherwise fails with the command to run.
set -euo pipefail
for bin in chromium chromium-browser google-chrome; do
  command -v "$bin" >/dev/null 2>&1 && exit 0
done
[ -n "${CHROMIUM:-}" ] && [ -x "$CHROMIUM" ] && exit 0

hint="apt-get install -y chromium chromium-driver"
echo "redkit: no Chromium for the browser test" >&2
if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      echo "redkit: not root: run 'sudo apt-get update && sudo $hint'" >&2; exit 1
    fi
  fi
  echo "redkit: installing with: $hint" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
  exit 0
fi
echo "redkit: install Chromium ('$hint' on Debian/Ubuntu) or set CHROMIUM to its path" >&2
exit 1

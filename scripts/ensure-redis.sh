#!/usr/bin/env bash
# Makes sure redis-server, redis-cli and redis-sentinel are installed.
# Installs them with apt-get when they are missing and we can (root on a
# Debian-like system); otherwise fails with the command to run.
set -euo pipefail
need=()
for bin in redis-server redis-cli redis-sentinel; do
  command -v "$bin" >/dev/null 2>&1 || need+=("$bin")
done
[ ${#need[@]} -eq 0 ] && exit 0

hint="apt-get install -y redis-server redis-tools redis-sentinel"
echo "redkit: missing ${need[*]}" >&2
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
  $sudo apt-get install -y -qq redis-server redis-tools redis-sentinel >/dev/null
  # The packages start system services where systemd runs; our tests and
  # demo start their own servers on free ports, so stop those if running.
  if command -v service >/dev/null 2>&1; then
    $sudo service redis-server stop >/dev/null 2>&1 || true
    $sudo service redis-sentinel stop >/dev/null 2>&1 || true
  fi
  exit 0
fi
echo "redkit: install Redis 7 (redis-server, redis-cli, redis-sentinel): on Debian/Ubuntu '$hint', on macOS 'brew install redis'" >&2
exit 1

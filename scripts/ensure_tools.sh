#!/usr/bin/env bash
# Install the Debian tools some tests drive for real (nc, tmux, shellcheck, chromium) when missing.
# `apt-get update` runs at most once. Without root/apt (a developer laptop) it only warns.
set -uo pipefail

need=()
command -v nc >/dev/null 2>&1 || need+=(netcat-openbsd)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v chromium >/dev/null 2>&1 || need+=(chromium)

[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: missing tools (${need[*]}); tests that need them will fail" >&2
  exit 0
fi
echo "== installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

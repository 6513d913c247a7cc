#!/usr/bin/env bash
# The whole test suite: typecheck, lint, compile, then every bun:test suite (unit, simulation,
# integration against the compiled binary, scripts, TUI under tmux, dashboard in Chromium).
# Run it through `npm test`, which puts node_modules/.bin (and so bun, tsc, biome) on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure_tools.sh

echo "== typecheck"; tsc --noEmit -p .
echo "== lint"; biome check .
echo "== compile"; bun run build
./bin/pickbox --version
echo "== tests"
# Suites that start real clusters set longer timeouts per test; this is the default for the rest.
bun test --timeout 30000

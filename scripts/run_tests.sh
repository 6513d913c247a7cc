#!/usr/bin/env bash
# The whole test suite: typecheck, lint, compile, unit + simulation + integration tests, script tests.
# Run through `npm test` (which puts node_modules/.bin, and so bun, on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure_tools.sh

echo "== typecheck"; tsc --noEmit -p .
echo "== lint"; biome check .
echo "== compile"; bun run build
./bin/pickbox --version
echo "== bun test"; bun test

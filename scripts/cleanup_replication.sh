#!/usr/bin/env bash
# Stop the demo/test nodes started under the data dir and delete their data (the original's cleanup step).
# Unlike the original it never kills by process name or by port: nodes are stopped by their PID files
# (<data-dir>/pids, written by cluster_manager.sh and `pickbox script demo-3-nodes`); then it only reports
# whether the default ports are free.
#
#   scripts/cleanup_replication.sh [--data-dir DIR] [cluster_manager.sh options...]
set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ "${1:-}" = --help ]; then
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

echo "🧹 Cleaning up replication nodes and data..."
"$SCRIPT_DIR/cluster_manager.sh" clean "$@" || exit 1

busy=()
for port in 8001 8002 8003 9001 9002 9003; do
  # shellcheck disable=SC2016 # $0/$1 are the inner shell's arguments
  if timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' 127.0.0.1 "$port" 2>/dev/null; then busy+=("$port"); fi
done
if [ ${#busy[@]} -eq 0 ]; then
  echo "✅ All ports are now free"
else
  echo "⚠️  Ports still in use by processes this script did not start: ${busy[*]} (left alone)"
fi
echo "✅ Cleanup complete!"

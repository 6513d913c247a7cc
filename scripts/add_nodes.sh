#!/usr/bin/env bash
# Dynamic expansion: start new Pickbox nodes and join them to a running cluster (the original's
# `go run scripts/add_nodes.go -nodes 2 -start 4`). Beyond --max-voters voters they join as learners.
#
#   scripts/add_nodes.sh [-n|--nodes K] [-s|--start I] [cluster_manager.sh options...]
#
#   -n, --nodes K    how many nodes to add (default 2); Go-style -nodes works too
#   -s, --start I    index of the first new node (default: after the highest node 1..N or with a PID file)
#   Other options (-p, -a, -m, -d, -h, --data-dir, --binary, --max-voters, -t, -c, ...) are cluster_manager.sh's
#   and must match the ones the cluster was started with.
#
# Example: ./scripts/cluster_manager.sh start -n 3 && ./scripts/add_nodes.sh -n 2   # adds node4, node5
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
nodes=2
start=
rest=()
while [ $# -gt 0 ]; do
  case $1 in
    -n | --nodes | -nodes)
      [ $# -ge 2 ] || { echo "[ERROR] $1 needs a value" >&2; exit 1; }
      nodes=$2
      shift
      ;;
    -s | --start | -start)
      [ $# -ge 2 ] || { echo "[ERROR] $1 needs a value" >&2; exit 1; }
      start=$2
      shift
      ;;
    -base-port) rest+=(--base-port) ;;
    -admin-port) rest+=(--admin-port) ;;
    -host) rest+=(--host) ;;
    --help | -help)
      sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) rest+=("$1") ;;
  esac
  shift
done
[[ $nodes =~ ^[1-9][0-9]*$ ]] || { echo "[ERROR] --nodes must be a positive number, got '$nodes'" >&2; exit 1; }

if [ -n "$start" ]; then
  [[ $start =~ ^[1-9][0-9]*$ ]] || { echo "[ERROR] --start must be a node index, got '$start'" >&2; exit 1; }
  exec "$SCRIPT_DIR/cluster_manager.sh" add "${rest[@]}" --from "$start" -n "$((start + nodes - 1))"
fi
exec "$SCRIPT_DIR/cluster_manager.sh" add "${rest[@]}" --count "$nodes"

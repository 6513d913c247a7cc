#!/usr/bin/env bash
# Multi-directional replication test on a 3-node cluster (the original's scenario, with a real verdict):
# files created on node1, node2 and node3 reach every node; node2 appends to node1's file; node1 and then
# node2 write the same test_dedup.txt. Exit 0 only if every file is identical on every node.
# Runs from any directory; starts and always cleans up its own cluster through cluster_manager.sh.
#
#   ./scripts/tests/test_multi_replication.sh [-p 8001] [-a 9001] [--data-dir data] [-v]
set -uo pipefail
# shellcheck source=scripts/tests/replication_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/replication_lib.sh"

# shellcheck disable=SC2317 # called through lib_parse_args
usage() {
  lib_usage "$(basename "$0")" "Multi-directional replication across 3 nodes (any node's change reaches the others)."
}
lib_parse_args usage "$@"
[ "$NODE_COUNT" -ge 3 ] || fail_usage "this test needs at least 3 nodes"

log "🧪 Pickbox multi-directional replication test ($NODE_COUNT nodes)"
start_test_cluster

for n in 1 2 3; do
  log "Step $n: create test_node$n.txt on node$n"
  write_file "$n" "test_node$n.txt" "Hello from node$n!"
  wait_converged "test_node$n.txt from node$n" "test_node$n.txt"
done

log "Step 4: node2 appends to test_node1.txt"
append_file 2 test_node1.txt "Modified by node2!"
wait_converged "append from node2" test_node1.txt
for ((i = 1; i <= NODE_COUNT; i++)); do
  lines=$(wc -l <"$(node_dir "$i")/test_node1.txt")
  if [ "$lines" -eq 2 ]; then verbose "node$i: test_node1.txt has 2 lines"; else fail "node$i: test_node1.txt has $lines lines, expected 2"; fi
done

log "Step 5: node1 writes test_dedup.txt, then node2 writes the same content"
write_file 1 test_dedup.txt "Hello from node1!"
wait_indexed "test_dedup.txt from node1" test_dedup.txt
write_file 2 test_dedup.txt "Hello from node1!"
wait_converged "same content from node2" test_dedup.txt
check_no_conflicts test_dedup.txt

log "Final verdict"
wait_converged "all test files" test_node1.txt test_node2.txt test_node3.txt test_dedup.txt
check_all_identical
summary
if [ "$FAILURES" -eq 0 ]; then
  echo "🎉 SUCCESS: Multi-directional replication is working perfectly!"
  exit 0
fi
echo "❌ FAILURE: Some multi-directional replication tests failed ($FAILURES)"
exit 1

#!/usr/bin/env bash
# N-node replication test: start an N-node cluster with cluster_manager.sh, create a file on every node,
# check every node holds every file with identical content, modify one from another node, write the same
# file on all nodes at once (dedup), delete one; exit 0 only if every check passed. Always cleans up.
#
#   ./scripts/tests/test_n_replication.sh -n 5 -v
#   ./scripts/tests/test_n_replication.sh -n 10 -p 18001 -a 19001
set -uo pipefail
# shellcheck source=scripts/tests/replication_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/replication_lib.sh"

# shellcheck disable=SC2317 # called through lib_parse_args
usage() {
  lib_usage "$(basename "$0")" "Create, modify, write concurrently and delete files on an N-node cluster; every node must converge."
}
lib_parse_args usage "$@"

log "🧪 Pickbox N-node replication test: $NODE_COUNT nodes"
start_test_cluster

# 1. Every node creates its own file; all files must reach every node.
log "Step 1: each node creates test_from_node<i>.txt"
files=()
for ((i = 1; i <= NODE_COUNT; i++)); do
  write_file "$i" "test_from_node$i.txt" "Hello from node$i at $(date '+%F %T')"
  files+=("test_from_node$i.txt")
done
wait_converged "files created on every node" "${files[@]}"

# 2. Node N/2+1 modifies node1's file; every node must see the modification.
k=$((NODE_COUNT / 2 + 1))
log "Step 2: node$k appends to test_from_node1.txt"
append_file "$k" test_from_node1.txt "Modified by node$k"
wait_converged "modification from node$k" test_from_node1.txt

# 3. Every node writes the same content to the same file at the same time: one file, no conflict copies.
log "Step 3: all nodes write dedup_test.txt at once"
for ((i = 1; i <= NODE_COUNT; i++)); do
  printf '%s\n' "Deduplication test content" >"$(node_dir "$i")/dedup_test.txt" &
done
wait
printf '%s\n' "Deduplication test content" >"$EXPECTED_DIR/dedup_test.txt"
wait_converged "concurrent identical writes" dedup_test.txt
wait_indexed "concurrent identical writes" dedup_test.txt
check_no_conflicts dedup_test.txt

# 4. A delete on node1 removes the file everywhere.
log "Step 4: node1 deletes test_from_node$NODE_COUNT.txt"
rm -f "$(node_dir 1)/test_from_node$NODE_COUNT.txt"
wait_absent "delete from node1" "test_from_node$NODE_COUNT.txt"

check_all_identical
summary
if [ "$FAILURES" -eq 0 ]; then
  echo "🎉 SUCCESS: All $NODE_COUNT-node replication tests passed!"
  exit 0
fi
echo "❌ FAILURE: Some $NODE_COUNT-node replication tests failed ($FAILURES)"
exit 1

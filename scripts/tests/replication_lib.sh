#!/usr/bin/env bash
# Shared by test_n_replication.sh and test_multi_replication.sh (sourced, not run): options, starting a
# cluster through cluster_manager.sh, cleanup on exit, and polling checks with a deadline.
# shellcheck disable=SC2034 # variables here are used by the scripts that source this file

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$TESTS_DIR/../.." && pwd)
CM="$REPO_ROOT/scripts/cluster_manager.sh"

NODE_COUNT=3
BASE_PORT=8001
ADMIN_BASE_PORT=
MONITOR_BASE_PORT=
CLIENT_BASE_PORT=
DASHBOARD_PORT=
HOST=127.0.0.1
TEST_TIMEOUT=60
VERBOSE=0
KEEP=0
DATA_DIR=data
BINARY=./bin/pickbox
MAX_VOTERS=
FAILURES=0
EXPECTED_DIR=
CLUSTER_STARTED=0

lib_usage() { # script-name description
  cat <<EOF
Usage: $1 [options]
$2

Options:
  -n, --nodes <count>         nodes in the cluster (default $NODE_COUNT)
  -p, --base-port <port>      raft port of node1 (default 8001)
  -a, --admin-port <port>     admin port of node1 (default base+1000)
  -m, --monitor-port <port>   monitor port of node1 (default base-2000)
      --client-port <port>    file API port of node1 (default base-1000)
  -d, --dashboard-port <port> dashboard port (default 8080)
  -h, --host <host>           host the nodes run on (default 127.0.0.1)
  -t, --timeout <seconds>     deadline for each replication check and for start-up (default 60)
  -v, --verbose               print every check, and the cluster state on failure
  -k, --keep                  keep the data after the test (nodes are always stopped)
      --data-dir <dir>        data dir (default data; must not hold a running cluster)
      --binary <path>         pickbox binary (default ./bin/pickbox)
      --max-voters <n>        beyond n voters nodes join as learners (default 5)
      --help                  this help

Exit status: 0 when every check passed, 1 otherwise. The cluster is stopped and (unless -k) its data
removed on exit, also on Ctrl-C.
EOF
}

lib_parse_args() { # usage-function args...
  local usage_fn=$1
  shift
  while [ $# -gt 0 ]; do
    case $1 in
      -n | --nodes) NODE_COUNT=${2:?$1 needs a value} && shift ;;
      -p | --base-port | --port) BASE_PORT=${2:?$1 needs a value} && shift ;;
      -a | --admin-port) ADMIN_BASE_PORT=${2:?$1 needs a value} && shift ;;
      -m | --monitor-port) MONITOR_BASE_PORT=${2:?$1 needs a value} && shift ;;
      --client-port) CLIENT_BASE_PORT=${2:?$1 needs a value} && shift ;;
      -d | --dashboard-port) DASHBOARD_PORT=${2:?$1 needs a value} && shift ;;
      -h | --host)
        if [ $# -lt 2 ] || [[ $2 == -* ]]; then
          "$usage_fn"
          exit 0
        fi
        HOST=$2
        shift
        ;;
      -t | --timeout) TEST_TIMEOUT=${2:?$1 needs a value} && shift ;;
      -v | --verbose) VERBOSE=1 ;;
      -k | --keep) KEEP=1 ;;
      --data-dir) DATA_DIR=${2:?$1 needs a value} && shift ;;
      --binary) BINARY=${2:?$1 needs a value} && shift ;;
      --max-voters) MAX_VOTERS=${2:?$1 needs a value} && shift ;;
      --help)
        "$usage_fn"
        exit 0
        ;;
      *)
        echo "[ERROR] Unknown option: $1" >&2
        "$usage_fn" >&2
        exit 1
        ;;
    esac
    shift
  done
  is_pos_int "$NODE_COUNT" || fail_usage "node count must be at least 1"
  [ "$NODE_COUNT" -le 20 ] || warn "Node count > 20 may be excessive for local testing"
  is_pos_int "$TEST_TIMEOUT" || fail_usage "timeout must be a positive number"
  [ "$TEST_TIMEOUT" -ge 30 ] || warn "timeout below 30 s may be too short on a loaded machine"
  [ -n "$ADMIN_BASE_PORT" ] || ADMIN_BASE_PORT=$((BASE_PORT + 1000))
}

is_pos_int() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ]; }

fail_usage() {
  echo "[ERROR] $1" >&2
  exit 1
}

ts() { date '+%H:%M:%S'; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
log() { echo "[$(ts)] $*"; }
warn() { echo "[$(ts)] [WARN] $*"; }
verbose() { if [ "$VERBOSE" -eq 1 ]; then echo "[$(ts)]   $*"; fi; }
pass() { echo "[$(ts)] ✅ $*"; }
fail() {
  echo "[$(ts)] ❌ $*"
  FAILURES=$((FAILURES + 1))
}

cm_options() { # the cluster_manager.sh options for this test's cluster
  CM_OPTS=(-n "$NODE_COUNT" -p "$BASE_PORT" -a "$ADMIN_BASE_PORT" -h "$HOST" --data-dir "$DATA_DIR"
    --binary "$BINARY" -t "$TEST_TIMEOUT")
  [ -z "$MONITOR_BASE_PORT" ] || CM_OPTS+=(-m "$MONITOR_BASE_PORT")
  [ -z "$CLIENT_BASE_PORT" ] || CM_OPTS+=(--client-port "$CLIENT_BASE_PORT")
  [ -z "$DASHBOARD_PORT" ] || CM_OPTS+=(-d "$DASHBOARD_PORT")
  [ -z "$MAX_VOTERS" ] || CM_OPTS+=(--max-voters "$MAX_VOTERS")
}

node_dir() { echo "$DATA_DIR/node$1"; }

on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$CLUSTER_STARTED" -eq 1 ]; then
    if [ "$KEEP" -eq 1 ]; then
      "$CM" stop "${CM_OPTS[@]}" >/dev/null
      log "Nodes stopped; data kept in $DATA_DIR"
    else
      "$CM" clean "${CM_OPTS[@]}" >/dev/null
      log "Cluster stopped and its data removed"
    fi
  fi
  [ -z "$EXPECTED_DIR" ] || rm -rf "$EXPECTED_DIR"
  exit "$rc"
}

# Refuses to touch a data dir with running nodes; otherwise wipes old node data and starts the cluster.
start_test_cluster() {
  cm_options
  local f pid
  for f in "$DATA_DIR"/pids/node*.pid; do
    [ -e "$f" ] || continue
    pid=$(tr -dc '0-9' <"$f")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      echo "[ERROR] nodes are running under $DATA_DIR (${f##*/}: pid $pid); stop them or use --data-dir" >&2
      exit 1
    fi
  done
  EXPECTED_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pickbox-expected.XXXXXX")
  trap on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  "$CM" clean "${CM_OPTS[@]}" >/dev/null 2>&1
  log "Starting a $NODE_COUNT-node cluster (raft $BASE_PORT.., admin $ADMIN_BASE_PORT.., data $DATA_DIR)"
  local t0
  t0=$(now_ms)
  CLUSTER_STARTED=1
  if [ "$VERBOSE" -eq 1 ]; then
    "$CM" start "${CM_OPTS[@]}" || {
      fail "cluster did not start"
      exit 1
    }
  elif ! "$CM" start "${CM_OPTS[@]}" >"$EXPECTED_DIR/start.log" 2>&1; then
    cat "$EXPECTED_DIR/start.log"
    fail "cluster did not start"
    exit 1
  fi
  pass "cluster of $NODE_COUNT nodes up in $(($(now_ms) - t0)) ms"
}

# write_file <node> <name> <content>: writes <content> plus a newline on that node, records the expectation.
write_file() {
  printf '%s\n' "$3" >"$(node_dir "$1")/$2"
  printf '%s\n' "$3" >"$EXPECTED_DIR/$2"
  verbose "node$1 wrote $2"
}

# append_file <node> <name> <line>: appends on that node; the expectation is the node's new content.
append_file() {
  printf '%s\n' "$3" >>"$(node_dir "$1")/$2"
  cp "$(node_dir "$1")/$2" "$EXPECTED_DIR/$2"
  verbose "node$1 appended to $2"
}

# Polls until every node holds every named file with the expected bytes; fails at the deadline.
wait_converged() { # label file...
  local label=$1 t0 deadline i f
  shift
  t0=$(now_ms)
  deadline=$((t0 + TEST_TIMEOUT * 1000))
  local -a wrong
  while :; do
    wrong=()
    for f in "$@"; do
      for ((i = 1; i <= NODE_COUNT; i++)); do
        if [ ! -f "$(node_dir "$i")/$f" ]; then
          wrong+=("$f missing on node$i")
        elif ! cmp -s "$(node_dir "$i")/$f" "$EXPECTED_DIR/$f"; then
          wrong+=("Content mismatch for $f on node$i")
        fi
      done
    done
    if [ ${#wrong[@]} -eq 0 ]; then
      pass "$label: identical on all $NODE_COUNT nodes after $(($(now_ms) - t0)) ms"
      return 0
    fi
    if [ "$(now_ms)" -ge "$deadline" ]; then
      fail "$label: not converged after ${TEST_TIMEOUT}s"
      printf '     %s\n' "${wrong[@]:0:10}"
      dump_state
      return 1
    fi
    sleep 0.1
  done
}

# Polls until the file is gone from every node.
wait_absent() { # label file
  local t0 deadline i left
  t0=$(now_ms)
  deadline=$((t0 + TEST_TIMEOUT * 1000))
  while :; do
    left=""
    for ((i = 1; i <= NODE_COUNT; i++)); do [ ! -e "$(node_dir "$i")/$2" ] || left+=" node$i"; done
    if [ -z "$left" ]; then
      pass "$1: gone from all $NODE_COUNT nodes after $(($(now_ms) - t0)) ms"
      return 0
    fi
    if [ "$(now_ms)" -ge "$deadline" ]; then
      fail "$1: still present on$left after ${TEST_TIMEOUT}s"
      dump_state
      return 1
    fi
    sleep 0.1
  done
}

# One admin command to node i (bash /dev/tcp; no nc needed).
admin_query() { # i command
  # shellcheck disable=SC2016 # $0..$2 are the inner shell's arguments
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 1; printf "%s\n" "$2" >&3; cat <&3' \
    "$HOST" "$((ADMIN_BASE_PORT + $1 - 1))" "$2" 2>/dev/null
}

sha256() { if command -v sha256sum >/dev/null; then sha256sum "$1"; else shasum -a 256 "$1"; fi | cut -c1-64; }

# Polls until every node's index (admin FILES) lists the file with the expected content hash, i.e. the
# write went through the log and was applied everywhere, not merely written locally.
wait_indexed() { # label file
  local t0 deadline i want left
  t0=$(now_ms)
  deadline=$((t0 + TEST_TIMEOUT * 1000))
  want=$(sha256 "$EXPECTED_DIR/$2" | cut -c1-12)
  while :; do
    left=""
    for ((i = 1; i <= NODE_COUNT; i++)); do
      admin_query "$i" "FILES $2" | grep -q "^$2	[0-9]*	$want	" || left+=" node$i"
    done
    if [ -z "$left" ]; then
      pass "$1: committed and applied on all $NODE_COUNT nodes after $(($(now_ms) - t0)) ms"
      return 0
    fi
    if [ "$(now_ms)" -ge "$deadline" ]; then
      fail "$1: not in the index of$left after ${TEST_TIMEOUT}s"
      dump_state
      return 1
    fi
    sleep 0.1
  done
}

# Every node's folder holds the same files with the same bytes as node1's (the .pickbox state dir aside).
check_all_identical() {
  local i ref cur
  ref=$(cd "$(node_dir 1)" && find . -path ./.pickbox -prune -o -type f -print0 | sort -z | xargs -0 -r sha256sum)
  for ((i = 2; i <= NODE_COUNT; i++)); do
    cur=$(cd "$(node_dir "$i")" && find . -path ./.pickbox -prune -o -type f -print0 | sort -z | xargs -0 -r sha256sum)
    if [ "$cur" != "$ref" ]; then
      fail "node$i's folder differs from node1's"
      diff <(echo "$ref") <(echo "$cur") | head -n 10
      return 1
    fi
  done
  pass "all $NODE_COUNT folders are identical ($(echo "$ref" | grep -c .) files)"
}

# No node may hold a conflict copy of the file (identical concurrent writes are not a conflict).
check_no_conflicts() { # name
  local stem=${1%.*} i found=""
  for ((i = 1; i <= NODE_COUNT; i++)); do
    for f in "$(node_dir "$i")/$stem".sync-conflict-*; do [ ! -e "$f" ] || found+=" ${f#"$DATA_DIR"/}"; done
  done
  if [ -z "$found" ]; then pass "no conflict copies of $1"; else fail "unexpected conflict copies:$found"; fi
}

dump_state() {
  [ "$VERBOSE" -eq 1 ] || return 0
  "$CM" status "${CM_OPTS[@]}" || true
  "$CM" logs "${CM_OPTS[@]}" --lines 5 || true
}

summary() { # prints per-node *.txt counts and a few samples
  local i count
  log "Summary:"
  for ((i = 1; i <= NODE_COUNT; i++)); do
    count=$(find "$(node_dir "$i")" -maxdepth 1 -name '*.txt' ! -name welcome.txt | wc -l)
    echo "  node$i: $count .txt files"
  done
  if [ "$VERBOSE" -eq 1 ]; then
    local f n=0
    for f in "$(node_dir 1)"/*.txt; do
      [ -f "$f" ] || continue
      echo "  ${f##*/}: $(head -n 1 "$f")"
      n=$((n + 1))
      [ $n -lt 3 ] || break
    done
  fi
}

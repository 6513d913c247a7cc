#!/usr/bin/env bash
# Pickbox cluster manager: start, stop, inspect and clean an N-node Pickbox cluster on this machine.
#
# Compatible with the original's scripts/cluster_manager.sh (actions, options, config keys), with these
# deliberate differences (see usage below): `stop` keeps the data (`clean` deletes it); nodes run detached
# with PID files and logs under the data dir, so `start` returns once the cluster is up and the nodes keep
# running; processes are only ever stopped by the PID in their PID file, after checking that the PID still
# is that node; the config file is read as KEY=VALUE lines, never executed; command-line options override it.
set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(dirname "$SCRIPT_DIR")
PROG=$(basename "$0")

# Every setting, its default and its config key. ADMIN/MONITOR/CLIENT bases default to BASE_PORT +1000/-2000/-1000.
KEYS=(NODE_COUNT BASE_PORT ADMIN_BASE_PORT MONITOR_BASE_PORT CLIENT_BASE_PORT DASHBOARD_PORT HOST DATA_DIR
  BINARY BINARY_ARGS MAX_VOTERS START_TIMEOUT)
NODE_COUNT=3
BASE_PORT=8001
ADMIN_BASE_PORT=
MONITOR_BASE_PORT=
CLIENT_BASE_PORT=
DASHBOARD_PORT=8080
HOST=127.0.0.1
DATA_DIR=data
BINARY=./bin/pickbox
BINARY_ARGS="node multi"
MAX_VOTERS=5
START_TIMEOUT=60

ACTION=
CLI_OPTS=()
CONFIG_FILE=
FROM_NODE=
ADD_COUNT=
LOG_LINES=20
FOLLOW=0

usage() {
  cat <<EOF
Usage: $PROG <action> [options]

Actions:
  start      start nodes 1..N detached (PID files and logs under the data dir); returns once every node
             knows the leader and is a member. Existing node data is kept: a restarted node resumes.
  stop       stop the nodes started under the data dir (SIGTERM, then SIGKILL after 10 s); keeps the data
  restart    stop, then start (data kept)
  status     ask each node over its admin port (STATUS) for its role, membership and indices;
             exit 0 when every node answers and knows a leader, 3 otherwise
  logs       last lines of each node's log (<data-dir>/logs/nodeN.log); --follow to keep reading
  clean      stop, then delete the node folders, logs and PID files (all cluster data!)
  add        start nodes that are not running among --from..N and join them to the running cluster
             (dynamic expansion; scripts/add_nodes.sh wraps it)
  plan       print the settings and each node's command line without starting anything

Options (command line overrides the config file, which overrides the defaults):
  -n, --nodes <count>         number of nodes (NODE_COUNT, default 3; 1..100)
  -p, --base-port <port>      raft port of node1; node i uses port+i-1 (BASE_PORT, default 8001)
  -a, --admin-port <port>     admin port of node1 (ADMIN_BASE_PORT, default base+1000)
  -m, --monitor-port <port>   monitor HTTP port of node1 (MONITOR_BASE_PORT, default base-2000)
      --client-port <port>    file API port of node1 (CLIENT_BASE_PORT, default base-1000)
  -d, --dashboard-port <port> web dashboard, one for the cluster (DASHBOARD_PORT, default 8080)
  -h, --host <host>           address nodes bind and are reached on (HOST, default 127.0.0.1)
      --data-dir <dir>        data dir: node folders, logs/, pids/ (DATA_DIR, default data)
      --binary <path>         pickbox binary (BINARY, default ./bin/pickbox; a .ts file runs with bun)
      --binary-args <words>   subcommand for a node (BINARY_ARGS, default "node multi")
      --max-voters <n>        beyond n voters new nodes join as learners (MAX_VOTERS, default 5)
  -t, --timeout <seconds>     how long start/add wait for the cluster (START_TIMEOUT, default 60)
  -c, --config <file>         KEY=VALUE file with the keys named above (not executed as shell)
      --from <i>              add: first node index to consider (default 1)
      --count <k>             add: k new nodes after the highest known one (node_set: 1..N and PID files)
      --lines <n>             logs: lines per node (default 20)
  -f, --follow                logs: follow all node logs
      --help                  this help (also -h given with no host after it)

Ports of node i: raft BASE+i-1, admin ADMIN_BASE+i-1, monitor MONITOR_BASE+i-1, file API CLIENT_BASE+i-1.
Node 1 bootstraps a new cluster; the others join through node 1 (any member works; members relay).

Examples:
  $PROG start -n 5
  $PROG status -n 5
  $PROG start -c configs/10-node-high-ports.conf
  $PROG add -n 5 --from 4          # grow a running 3-node cluster to 5 (or: add --count 2)
  $PROG stop                       # keeps data; 'clean' removes it
EOF
}

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  C_GREEN=$'\033[0;32m' C_YELLOW=$'\033[1;33m' C_RED=$'\033[0;31m' C_BLUE=$'\033[0;34m' C_OFF=$'\033[0m'
else
  C_GREEN='' C_YELLOW='' C_RED='' C_BLUE='' C_OFF=''
fi
ts() { date '+%H:%M:%S'; }
log() { printf '%s[%s]%s %s\n' "$C_GREEN" "$(ts)" "$C_OFF" "$*"; }
info() { printf '%s[INFO]%s %s\n' "$C_BLUE" "$C_OFF" "$*"; }
warn() { printf '%s[WARN]%s %s\n' "$C_YELLOW" "$C_OFF" "$*"; }
error() { printf '%s[ERROR]%s %s\n' "$C_RED" "$C_OFF" "$*" >&2; }
die() {
  error "$*"
  exit 1
}

# ---------------------------------------------------------------- arguments and configuration

need_value() { # option, remaining argument count
  [ "$2" -ge 2 ] || die "option $1 needs a value"
}

set_opt() { printf -v "OPT_$1" '%s' "$2"; }

parse_args() {
  if [ $# -eq 0 ]; then
    usage
    exit 1
  fi
  local -a args=("$@")
  while [ $# -gt 0 ]; do
    case $1 in
      start | stop | restart | status | logs | clean | add | plan)
        ACTION=$1
        shift
        continue
        ;;
      -n | --nodes) need_value "$1" $# && set_opt NODE_COUNT "$2" && shift ;;
      -p | --base-port | --port) need_value "$1" $# && set_opt BASE_PORT "$2" && shift ;;
      -a | --admin-port) need_value "$1" $# && set_opt ADMIN_BASE_PORT "$2" && shift ;;
      -m | --monitor-port) need_value "$1" $# && set_opt MONITOR_BASE_PORT "$2" && shift ;;
      --client-port) need_value "$1" $# && set_opt CLIENT_BASE_PORT "$2" && shift ;;
      -d | --dashboard-port) need_value "$1" $# && set_opt DASHBOARD_PORT "$2" && shift ;;
      -h | --host)
        # -h with no host after it means help (the original used -h only for the host).
        if [ $# -lt 2 ] || [[ $2 == -* ]]; then
          usage
          exit 0
        fi
        set_opt HOST "$2"
        shift
        ;;
      --data-dir) need_value "$1" $# && set_opt DATA_DIR "$2" && shift ;;
      --binary) need_value "$1" $# && set_opt BINARY "$2" && shift ;;
      --binary-args) need_value "$1" $# && set_opt BINARY_ARGS "$2" && shift ;;
      --max-voters) need_value "$1" $# && set_opt MAX_VOTERS "$2" && shift ;;
      -t | --timeout) need_value "$1" $# && set_opt START_TIMEOUT "$2" && shift ;;
      -c | --config) need_value "$1" $# && CONFIG_FILE=$2 && shift ;;
      --from) need_value "$1" $# && FROM_NODE=$2 && shift ;;
      --count) need_value "$1" $# && ADD_COUNT=$2 && shift ;;
      --lines) need_value "$1" $# && LOG_LINES=$2 && shift ;;
      -f | --follow) FOLLOW=1 ;;
      --help)
        usage
        exit 0
        ;;
      *)
        error "Unknown option: $1"
        usage >&2
        exit 1
        ;;
    esac
    shift
  done
  # The options without the action word, to print ready-to-paste follow-up commands.
  local a
  for a in "${args[@]}"; do
    case $a in start | stop | restart | status | logs | clean | add | plan) ;; *) CLI_OPTS+=("$a") ;; esac
  done
}

# Strips matching quotes, or an unquoted value's trailing " # comment" and surrounding blanks.
config_value() {
  local v=$1
  v="${v#"${v%%[![:space:]]*}"}"
  if [[ $v =~ ^\"(.*)\"[[:space:]]*(#.*)?$ ]] || [[ $v =~ ^\'(.*)\'[[:space:]]*(#.*)?$ ]]; then
    printf '%s' "${BASH_REMATCH[1]}"
    return
  fi
  v="${v%%[[:space:]]#*}"
  v="${v%"${v##*[![:space:]]}"}"
  printf '%s' "$v"
}

# Reads KEY=VALUE lines (blank lines, # comments and a leading "export " allowed). Nothing is executed or
# expanded: $(...) in a value stays literal text.
load_config() {
  local file=$1 line key n=0
  [ -f "$file" ] || die "Configuration file not found: $file"
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    line=${line%$'\r'}
    line="${line#"${line%%[![:space:]]*}"}"
    [[ -z $line || $line == \#* ]] && continue
    line=${line#export }
    [[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || die "$file:$n: expected KEY=VALUE, got: $line"
    key=${BASH_REMATCH[1]}
    if [[ " ${KEYS[*]} " == *" $key "* ]]; then
      printf -v "$key" '%s' "$(config_value "${BASH_REMATCH[2]}")"
    else
      warn "$file:$n: unknown key $key ignored"
    fi
  done <"$file"
  info "Configuration loaded from $file"
}

apply_options() {
  local key var
  for key in "${KEYS[@]}"; do
    var="OPT_$key"
    if [ -n "${!var+x}" ]; then printf -v "$key" '%s' "${!var}"; fi
  done
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
is_pos_int() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ]; }

check_range() { # name first count
  local name=$1 first=$2 count=$3
  is_uint "$first" || die "$name must be a port number, got '$first'"
  if [ "$first" -lt 1 ] || [ $((first + count - 1)) -gt 65535 ]; then
    die "Port range exceeds 65535 or is below 1: $name ports $first..$((first + count - 1))"
  fi
}

validate() {
  is_pos_int "$NODE_COUNT" || die "Node count must be at least 1, got '$NODE_COUNT'"
  [ "$NODE_COUNT" -le 100 ] || die "Node count must be at most 100, got $NODE_COUNT"
  [ "$NODE_COUNT" -le 20 ] || warn "Node count > 20 may be excessive for local testing"
  is_uint "$BASE_PORT" || die "Base port must be a number, got '$BASE_PORT'"
  [ "$BASE_PORT" -ge 1024 ] || die "Base port must be >= 1024, got $BASE_PORT"
  : "${ADMIN_BASE_PORT:=$((BASE_PORT + 1000))}" "${MONITOR_BASE_PORT:=$((BASE_PORT - 2000))}"
  : "${CLIENT_BASE_PORT:=$((BASE_PORT - 1000))}"
  local count=$NODE_COUNT
  check_range "raft (-p)" "$BASE_PORT" "$count"
  check_range "admin (-a)" "$ADMIN_BASE_PORT" "$count"
  check_range "monitor (-m)" "$MONITOR_BASE_PORT" "$count"
  check_range "client (--client-port)" "$CLIENT_BASE_PORT" "$count"
  check_range "dashboard (-d)" "$DASHBOARD_PORT" 1
  # No two kinds of port may overlap, and the dashboard must not sit on a node's port.
  local -a names=(raft admin monitor client) firsts=("$BASE_PORT" "$ADMIN_BASE_PORT" "$MONITOR_BASE_PORT" "$CLIENT_BASE_PORT")
  local x y
  for x in 0 1 2 3; do
    for y in 0 1 2 3; do
      [ "$x" -lt "$y" ] || continue
      if [ "${firsts[x]}" -lt $((firsts[y] + count)) ] && [ "${firsts[y]}" -lt $((firsts[x] + count)) ]; then
        die "${names[x]} ports ${firsts[x]}.. and ${names[y]} ports ${firsts[y]}.. overlap for $count nodes"
      fi
    done
    if [ "$DASHBOARD_PORT" -ge "${firsts[x]}" ] && [ "$DASHBOARD_PORT" -lt $((firsts[x] + count)) ]; then
      die "dashboard port $DASHBOARD_PORT is one of the ${names[x]} ports"
    fi
  done
  is_pos_int "$MAX_VOTERS" || die "--max-voters must be a positive integer"
  is_pos_int "$START_TIMEOUT" || die "--timeout must be a positive number of seconds"
  is_uint "$LOG_LINES" || die "--lines must be a number"
  [ -n "$DATA_DIR" ] || die "data directory cannot be empty"
  [ -z "$FROM_NODE" ] || is_pos_int "$FROM_NODE" || die "--from must be a node index (1, 2, ...)"
  [ -z "$ADD_COUNT" ] || is_pos_int "$ADD_COUNT" || die "--count must be a positive number"
}

# ---------------------------------------------------------------- helpers

raft_port() { echo $((BASE_PORT + $1 - 1)); }
admin_port() { echo $((ADMIN_BASE_PORT + $1 - 1)); }
monitor_port() { echo $((MONITOR_BASE_PORT + $1 - 1)); }
client_port() { echo $((CLIENT_BASE_PORT + $1 - 1)); }

data_root() { # absolute data dir (it need not exist)
  case $DATA_DIR in
    /*) printf '%s' "$DATA_DIR" ;;
    *) printf '%s/%s' "$PWD" "${DATA_DIR#./}" ;;
  esac
}
pid_file() { printf '%s/pids/node%s.pid' "$(data_root)" "$1"; }
log_file() { printf '%s/logs/node%s.log' "$(data_root)" "$1"; }
node_dir() { printf '%s/node%s' "$(data_root)" "$1"; }

# One admin command over the node's admin port (bash /dev/tcp, so no nc needed); prints the reply.
admin_query() { # port command [seconds]
  # shellcheck disable=SC2016 # $0..$2 are the inner shell's arguments
  timeout "${3:-3}" bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 1; printf "%s\n" "$2" >&3; cat <&3' \
    "$HOST" "$1" "$2" 2>/dev/null
}

# shellcheck disable=SC2016
port_in_use() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$1" 2>/dev/null; }

# The PID in node i's PID file, if that process is still this node (PIDs get reused); else nothing.
node_pid() {
  local i=$1 pid args
  [ -f "$(pid_file "$i")" ] || return 1
  pid=$(tr -dc '0-9' <"$(pid_file "$i")")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/cmdline" ]; then
    # Reads empty for an instant while the process is inside execve (a node re-executes itself once at
    # start-up, see src/cli/node-runtime.ts): look again before calling it gone.
    local tries=0
    args=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
    while [ -z "$args" ] && [ $tries -lt 10 ]; do
      sleep 0.02
      tries=$((tries + 1))
      args=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
    done
  else
    args=$(ps -o args= -p "$pid" 2>/dev/null) || return 1
  fi
  [[ " $args " == *" node "* && " $args " == *" --node-id node$i "* ]] || return 1
  printf '%s' "$pid"
}

# Node indices to act on: 1..NODE_COUNT plus any node with a PID file (e.g. added later).
node_set() {
  local -a set=()
  local i f
  for ((i = 1; i <= NODE_COUNT; i++)); do set+=("$i"); done
  for f in "$(data_root)"/pids/node*.pid; do
    [ -e "$f" ] || continue
    i=${f##*/node}
    i=${i%.pid}
    is_uint "$i" && [ "$i" -gt "$NODE_COUNT" ] && set+=("$i")
  done
  printf '%s\n' "${set[@]}" | sort -n | uniq
}

# The binary as an argv prefix: a .ts entry runs with bun; a relative path is tried from here, then the repo.
BIN_CMD=()
resolve_binary() {
  local b=$BINARY
  if [[ $b == */* ]]; then
    if [ ! -e "$b" ] && [[ $b != /* ]] && [ -e "$REPO_ROOT/$b" ]; then b=$REPO_ROOT/$b; fi
    [ -e "$b" ] || die "pickbox binary not found at $BINARY - build it first: bun run build"
    b=$(cd "$(dirname "$b")" && pwd)/$(basename "$b")
  else
    b=$(command -v "$b") || die "pickbox binary '$BINARY' not found on PATH"
  fi
  if [[ $b == *.ts ]]; then
    local bun
    bun=$(command -v bun) || die "$b is a TypeScript entry but bun is not on PATH"
    BIN_CMD=("$bun" "$b")
  else
    [ -x "$b" ] || die "$b is not executable"
    BIN_CMD=("$b")
  fi
}

node_command() { # i join → NODE_CMD array
  local i=$1 join=$2
  local -a sub
  read -r -a sub <<<"$BINARY_ARGS"
  NODE_CMD=("${BIN_CMD[@]}" "${sub[@]}" --node-id "node$i" --port "$(raft_port "$i")"
    --admin-port "$(admin_port "$i")" --monitor-port "$(monitor_port "$i")" --client-port "$(client_port "$i")"
    --dashboard-port "$DASHBOARD_PORT" --data-dir "$(data_root)" --bind "$HOST" --max-voters "$MAX_VOTERS" --no-tui)
  if [ -n "$join" ]; then NODE_CMD+=(--join "$join"); fi
}

# Starts node i detached (own session, immune to hangups), output appended to its log, PID in its PID file.
launch_node() { # i join
  local i=$1 join=$2 pidf logf
  pidf=$(pid_file "$i")
  logf=$(log_file "$i")
  mkdir -p "$(dirname "$pidf")" "$(dirname "$logf")"
  rm -f "$pidf"
  node_command "$i" "$join"
  printf '==== %s starting: %s\n' "$(date '+%F %T')" "${NODE_CMD[*]}" >>"$logf"
  local -a detach=(nohup)
  if command -v setsid >/dev/null 2>&1; then detach+=(setsid); fi
  # The inner shell writes its own PID (the node's, after exec) whether or not setsid forks.
  # shellcheck disable=SC2016
  "${detach[@]}" bash -c 'echo $$ >"$0"; exec "$@"' "$pidf" "${NODE_CMD[@]}" >>"$logf" 2>&1 </dev/null &
  local tries=0
  while [ ! -s "$pidf" ] && [ $tries -lt 100 ]; do
    sleep 0.05
    tries=$((tries + 1))
  done
  [ -s "$pidf" ] || die "node$i did not start (no PID file); see $logf"
  log "Started node$i (pid $(cat "$pidf")): raft $HOST:$(raft_port "$i"), admin $HOST:$(admin_port "$i")${join:+, joining via $join}"
}

status_field() { sed -n "s/^$1: //p" <<<"$2" | head -n 1; }

# Node i is up: it answers STATUS, knows a leader and lists itself as a member.
node_ready() {
  local i=$1 reply
  reply=$(admin_query "$(admin_port "$i")" STATUS 2) || return 1
  [ -n "$reply" ] || return 1
  [ "$(status_field leader "$reply")" != none ] || return 1
  grep -q "^peer: node$i " <<<"$reply"
}

# Waits until every node in the list is ready; fails early if one exits. Prints which are missing on timeout.
wait_ready() { # timeout-seconds i...
  local deadline=$((SECONDS + $1)) i pending
  shift
  local -a waiting=("$@")
  while :; do
    pending=()
    for i in "${waiting[@]}"; do
      if ! node_pid "$i" >/dev/null; then
        error "node$i exited during start-up; last log lines ($(log_file "$i")):"
        tail -n 15 "$(log_file "$i")" >&2
        return 1
      fi
      node_ready "$i" || pending+=("$i")
    done
    [ ${#pending[@]} -eq 0 ] && return 0
    waiting=("${pending[@]}")
    if [ $SECONDS -ge "$deadline" ]; then
      error "timed out: not ready after $START_TIMEOUT s: ${waiting[*]/#/node}"
      for i in "${waiting[@]}"; do
        error "last log lines of node$i ($(log_file "$i")):"
        tail -n 5 "$(log_file "$i")" >&2
      done
      return 1
    fi
    sleep 0.2
  done
}

preflight_ports() { # i...
  local i p kind
  for i in "$@"; do
    for kind in raft admin monitor client; do
      p=$("${kind}_port" "$i")
      if port_in_use "$p"; then die "port $p ($kind port of node$i) is already in use by another process"; fi
    done
  done
}

# ---------------------------------------------------------------- actions

stop_nodes() { # i... : SIGTERM all, wait up to 10 s, then SIGKILL stragglers (by PID only)
  local i pid f
  local -a pids=() ids=()
  for i in "$@"; do
    f=$(pid_file "$i")
    [ -f "$f" ] || continue
    if pid=$(node_pid "$i"); then
      kill -TERM "$pid" 2>/dev/null && pids+=("$pid") && ids+=("$i")
    else
      info "node$i: not running (stale PID file removed)"
      rm -f "$f"
    fi
  done
  local deadline=$((SECONDS + 10)) alive k
  while :; do
    alive=0
    for k in "${!pids[@]}"; do kill -0 "${pids[k]}" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] || [ $SECONDS -ge $deadline ] && break
    sleep 0.1
  done
  for k in "${!pids[@]}"; do
    if kill -0 "${pids[k]}" 2>/dev/null; then
      warn "node${ids[k]} (pid ${pids[k]}) did not stop within 10 s; sending SIGKILL"
      kill -KILL "${pids[k]}" 2>/dev/null
    fi
    rm -f "$(pid_file "${ids[k]}")"
    log "Stopped node${ids[k]} (pid ${pids[k]})"
  done
  [ ${#pids[@]} -gt 0 ] || info "No running nodes under $(data_root)"
}

running_nodes() {
  local i
  for i in "$@"; do node_pid "$i" >/dev/null && printf 'node%s ' "$i"; done
}

do_start() {
  resolve_binary
  local -a all=()
  local i
  for ((i = 1; i <= NODE_COUNT; i++)); do all+=("$i"); done
  local running
  running=$(running_nodes "${all[@]}")
  [ -z "$running" ] || die "already running: ${running% } (use '$PROG restart' or '$PROG stop' first)"
  preflight_ports "${all[@]}"
  mkdir -p "$(data_root)"
  log "Starting $NODE_COUNT-node Pickbox cluster (data: $(data_root))"
  local fresh=1
  [ -d "$(node_dir 1)/.pickbox" ] && fresh=0
  launch_node 1 ""
  if [ $fresh -eq 1 ]; then
    local deadline=$((SECONDS + START_TIMEOUT))
    until [ "$(status_field state "$(admin_query "$(admin_port 1)" STATUS 2)")" = Leader ]; do
      node_pid 1 >/dev/null || {
        error "node1 exited; see $(log_file 1)"
        tail -n 15 "$(log_file 1)" >&2
        exit 1
      }
      [ $SECONDS -lt $deadline ] || {
        stop_nodes 1
        die "node1 did not become leader within $START_TIMEOUT s; see $(log_file 1)"
      }
      sleep 0.1
    done
  fi
  # Nodes 2..MAX_VOTERS first, so the voters are node1..nodeMAX_VOTERS and the rest join as learners.
  local voters=$((NODE_COUNT < MAX_VOTERS ? NODE_COUNT : MAX_VOTERS))
  for ((i = 2; i <= voters; i++)); do launch_node "$i" "$HOST:$(raft_port 1)"; done
  if [ "$NODE_COUNT" -gt "$voters" ]; then
    if ! wait_ready "$START_TIMEOUT" "${all[@]:0:voters}"; then
      stop_nodes "${all[@]:0:voters}"
      die "cluster did not come up; the nodes started were stopped (data and logs kept)"
    fi
    for ((i = voters + 1; i <= NODE_COUNT; i++)); do launch_node "$i" "$HOST:$(raft_port 1)"; done
  fi
  if ! wait_ready "$START_TIMEOUT" "${all[@]}"; then
    stop_nodes "${all[@]}"
    die "cluster did not come up; the nodes started were stopped (data and logs kept)"
  fi
  print_banner
}

do_add() {
  resolve_binary
  local from=${FROM_NODE:-1} i via=""
  if [ -n "$ADD_COUNT" ]; then
    from=$(($(node_set | tail -n 1) + 1))
    NODE_COUNT=$((from + ADD_COUNT - 1))
    validate
  fi
  local -a add=()
  for ((i = from; i <= NODE_COUNT; i++)); do node_pid "$i" >/dev/null || add+=("$i"); done
  [ ${#add[@]} -gt 0 ] || {
    info "nodes $from..$NODE_COUNT are all running; nothing to add"
    return 0
  }
  for i in $(node_set); do
    if node_pid "$i" >/dev/null && node_ready "$i"; then
      via="$HOST:$(raft_port "$i")"
      break
    fi
  done
  [ -n "$via" ] || die "no running member to join through under $(data_root); start the cluster first"
  preflight_ports "${add[@]}"
  log "Adding ${add[*]/#/node} to the cluster via $via"
  for i in "${add[@]}"; do launch_node "$i" "$via"; done
  wait_ready "$START_TIMEOUT" "${add[@]}" || die "new nodes did not join; they keep running, see their logs"
  for i in "${add[@]}"; do
    local reply
    reply=$(admin_query "$(admin_port "$i")" STATUS 2)
    log "node$i joined as $(sed -n "s/^peer: node$i [^ ]* \([a-z]*\) .*/\1/p" <<<"$reply")"
  done
}

print_banner() {
  local i
  echo
  log "Cluster is up: $NODE_COUNT nodes"
  for ((i = 1; i <= NODE_COUNT; i++)); do
    printf '  node%-3s raft %s:%s  admin %s:%s  monitor %s:%s  folder %s\n' "$i" "$HOST" "$(raft_port "$i")" \
      "$HOST" "$(admin_port "$i")" "$HOST" "$(monitor_port "$i")" "$(node_dir "$i")"
  done
  echo "  Dashboard: http://$HOST:$DASHBOARD_PORT"
  echo "  Logs: $(data_root)/logs   PID files: $(data_root)/pids"
  echo
  echo "Try:"
  echo "  echo \"Hello from node1\" > $DATA_DIR/node1/test_from_node1.txt; ls $DATA_DIR/node*/"
  echo "  $0 status ${CLI_OPTS[*]}"
  echo "  pickbox cluster status --addr $HOST:$ADMIN_BASE_PORT"
  echo "  echo STATUS | nc $HOST $ADMIN_BASE_PORT"
  echo "  $0 stop ${CLI_OPTS[*]}      # keeps data;  clean  deletes it"
}

do_status() {
  local i pid reply state leader="" term="" membership rc=0 members="" voters=0 learners=0
  log "Cluster Status ($NODE_COUNT nodes):"
  echo
  for i in $(node_set); do
    printf 'Node %s (node%s):\n' "$i" "$i"
    printf '  Raft:     %s:%s\n  Admin:    %s:%s\n  Monitor:  %s:%s\n  Data:     %s\n' "$HOST" "$(raft_port "$i")" \
      "$HOST" "$(admin_port "$i")" "$HOST" "$(monitor_port "$i")" "$DATA_DIR/node$i"
    if pid=$(node_pid "$i"); then
      printf '  Status:   %sRUNNING%s (pid %s)\n' "$C_GREEN" "$C_OFF" "$pid"
    else
      printf '  Status:   %sSTOPPED%s\n' "$C_RED" "$C_OFF"
    fi
    if reply=$(admin_query "$(admin_port "$i")" STATUS 2) && [ -n "$reply" ]; then
      state=$(status_field state "$reply")
      membership=$(sed -n "s/^peer: node$i [^ ]* \([a-z]*\) .*/\1/p" <<<"$reply")
      printf '  Port:     LISTENING\n'
      printf '  Role:     %s (%s), term %s, leader %s\n' "$state" "${membership:-not a member}" \
        "$(status_field term "$reply")" "$(status_field leader "$reply")"
      printf '  Indices:  commit %s, applied %s, last %s\n' "$(status_field commit_index "$reply")" \
        "$(status_field applied_index "$reply")" "$(status_field last_log_index "$reply")"
      printf '  Files:    %s\n' "$(status_field files "$reply")"
      [ "$(status_field leader "$reply")" = none ] && rc=3
      if [ "$state" = Leader ]; then
        leader="node$i"
        term=$(status_field term "$reply")
        members=$(status_field peers "$reply")
        voters=$(grep -c '^peer: .* voter ' <<<"$reply")
        learners=$(grep -c '^peer: .* learner ' <<<"$reply")
      fi
    else
      printf '  Port:     %sNOT LISTENING%s\n' "$C_RED" "$C_OFF"
      rc=3
    fi
    echo
  done
  if [ -n "$leader" ]; then
    echo "Leader: $leader (term $term) · $members members: $voters voters, $learners learners"
  else
    echo "Leader: none found among the nodes above"
    rc=3
  fi
  echo "Dashboard: http://$HOST:$DASHBOARD_PORT"
  echo "Whole cluster (lag, last contact, health): pickbox cluster status --addr $HOST:$ADMIN_BASE_PORT"
  echo
  return $rc
}

do_logs() {
  local i f
  local -a files=()
  for i in $(node_set); do
    f=$(log_file "$i")
    if [ "$FOLLOW" -eq 1 ]; then
      [ -f "$f" ] && files+=("$f")
      continue
    fi
    echo "=== node$i logs ==="
    if [ -f "$f" ]; then tail -n "$LOG_LINES" "$f"; else warn "Log file not found for node$i ($f)"; fi
    echo
  done
  if [ "$FOLLOW" -eq 1 ]; then
    [ ${#files[@]} -gt 0 ] || die "no log files under $(data_root)/logs"
    exec tail -n "$LOG_LINES" -F "${files[@]}"
  fi
}

do_clean() {
  local root i d
  root=$(data_root)
  mapfile -t nodes < <(node_set)
  stop_nodes "${nodes[@]}"
  case $root in / | "$HOME" | "$PWD") die "refusing to clean $root" ;; esac
  for d in "$root"/node*; do
    [ -d "$d" ] || continue
    i=${d##*/node}
    is_uint "$i" && nodes+=("$i")
  done
  for i in "${nodes[@]}"; do rm -rf "$(node_dir "$i")"; done
  rm -rf "$root/logs" "$root/pids"
  rmdir "$root" 2>/dev/null
  log "Cleanup completed (removed node data, logs and PID files under $root)"
}

do_plan() {
  local i
  resolve_binary
  echo "NODE_COUNT=$NODE_COUNT BASE_PORT=$BASE_PORT ADMIN_BASE_PORT=$ADMIN_BASE_PORT" \
    "MONITOR_BASE_PORT=$MONITOR_BASE_PORT CLIENT_BASE_PORT=$CLIENT_BASE_PORT DASHBOARD_PORT=$DASHBOARD_PORT"
  echo "HOST=$HOST DATA_DIR=$DATA_DIR BINARY=$BINARY BINARY_ARGS=\"$BINARY_ARGS\" MAX_VOTERS=$MAX_VOTERS"
  for ((i = 1; i <= NODE_COUNT; i++)); do
    if [ "$i" -eq 1 ]; then node_command 1 ""; else node_command "$i" "$HOST:$(raft_port 1)"; fi
    echo "node$i: ${NODE_CMD[*]}"
  done
}

main() {
  parse_args "$@"
  [ -n "$CONFIG_FILE" ] && load_config "$CONFIG_FILE"
  apply_options
  validate
  case $ACTION in
    start) do_start ;;
    stop) mapfile -t nodes < <(node_set) && stop_nodes "${nodes[@]}" ;;
    restart)
      mapfile -t nodes < <(node_set)
      stop_nodes "${nodes[@]}"
      do_start
      ;;
    status) do_status ;;
    logs) do_logs ;;
    clean) do_clean ;;
    add) do_add ;;
    plan) do_plan ;;
    *)
      error "No action given"
      usage >&2
      exit 1
      ;;
  esac
}

main "$@"

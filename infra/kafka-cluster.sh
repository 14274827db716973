#!/usr/bin/env bash
# A local 3-node Apache Kafka cluster (KRaft, each node broker and controller) on one machine, for
# `make up-cluster` and `make test-cluster`. Each node is infra/kafka.sh with its own id, ports,
# data folder, log and pid: one shape of broker, the single one of `make up` and these three.
#
#   infra/kafka-cluster.sh up|down|status|clean
#   infra/kafka-cluster.sh start-node N|stop-node N|kill-node N     (N = 1..3; kill is SIGKILL)
#   infra/kafka-cluster.sh cut-node N|heal-node N    (a cluster started with KAFKA_CLUSTER_NETNS=1)
#
# Environment (defaults in brackets):
#   CUTOVER_STATE_DIR        state folder [<repo>/.local/cluster]; node N keeps its data in
#                            kafka-N/, its log in log/kafka-N.log; the shared passwords, cluster id
#                            and clients.json are in kafka/
#   KAFKA_CLUSTER_BASE_PORT  node N listens for clients (SASL_PLAINTEXT, SCRAM-SHA-512) on
#                            BASE + 2(N-1) and for the controllers on the port after [31092]:
#                            31092/31093, 31094/31095, 31096/31097
#   KAFKA_HEAP               JVM heap of each node [-Xms128m -Xmx512m]
#   KAFKA_CLUSTER_NETNS      1: `up` runs each node in its own network namespace (root only), so
#                            that a node can be cut off the network and healed; 0: not [unset:
#                            what the last `up` chose, kept in kafka/netns; none at first].
#                            Node N then listens on 10.A.B.N (A.B from the base port) behind a veth pair, all of them on one
#                            bridge whose address 10.A.B.254 is this host's: clients and nodes reach
#                            each other through it, nothing routes off the machine (no forwarding).
#                            `cut-node N` takes N's side of the bridge down: its packets to and from
#                            the other nodes and every client are dropped (no reset: connections
#                            hang, as in a real partition) until `heal-node N`.
#   and kafka.sh's KAFKA_JIT_OPTS, KAFKA_CDS, KAFKA_START_TIMEOUT, KAFKA_LIBS_CACHE.
#
# Every node is formatted with the same cluster id and the same SCRAM users (admin, one principal
# per service, observer), so any node authenticates any client; ACLs live in the cluster's
# metadata, made once by `cutover-topics`. Internal topics (consumer offsets, transactions) have 3
# copies and min.insync.replicas 2; so do Cutover's topics (cutover-topics with
# KAFKA_TOPIC_REPLICATION_FACTOR=3): one node may die without stopping a write or losing one.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KAFKA_SH="$REPO_ROOT/infra/kafka.sh"
export CUTOVER_STATE_DIR="${CUTOVER_STATE_DIR:-$REPO_ROOT/.local/cluster}"
BASE_PORT="${KAFKA_CLUSTER_BASE_PORT:-31092}"
export KAFKA_HEAP="${KAFKA_HEAP:--Xms128m -Xmx512m}"
NODES=(1 2 3)
SHARED_DIR="$CUTOVER_STATE_DIR/kafka"

say() { echo "kafka-cluster: $*"; }
die() { echo "kafka-cluster: $*" >&2; exit 1; }

client_port() { echo $((BASE_PORT + 2 * ($1 - 1))); }
controller_port() { echo $((BASE_PORT + 2 * ($1 - 1) + 1)); }

# Network namespaces: names and a /24 derived from the base port, so two clusters (test slots)
# never share one. Interface names stay within the kernel's 15 characters.
NETNS_MARKER="$SHARED_DIR/netns"
SUBNET="10.$((BASE_PORT / 256 % 256)).$((BASE_PORT % 256))"
BRIDGE="cvb$BASE_PORT"
# KAFKA_CLUSTER_NETNS decides when set (stack.sh asks for the bootstrap before `up`); otherwise
# the choice the last `up` recorded.
netns_mode() {
  case "${KAFKA_CLUSTER_NETNS:-}" in
    1) return 0 ;;
    "") [ -f "$NETNS_MARKER" ] ;;
    *) return 1 ;;
  esac
}
netns_of() { echo "cutover-$BASE_PORT-kafka-$1"; }
veth_of() { echo "cv${BASE_PORT}k$1"; }

host_of() { if netns_mode; then echo "$SUBNET.$1"; else echo 127.0.0.1; fi; }

voters() {
  local n out=""
  for n in "${NODES[@]}"; do out+="${out:+,}$n@$(host_of "$n"):$(controller_port "$n")"; done
  echo "$out"
}

bootstrap() {
  local n out=""
  for n in "${NODES[@]}"; do out+="${out:+,}$(host_of "$n"):$(client_port "$n")"; done
  echo "$out"
}

# The bridge, and per node a namespace with one end of a veth pair (its address) and the other end
# on the bridge. Idempotent: what exists is kept.
netns_up() {
  [ "$(id -u)" -eq 0 ] || die "KAFKA_CLUSTER_NETNS=1 needs root (ip netns)"
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add name "$BRIDGE" type bridge
    ip addr add "$SUBNET.254/24" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
  local n ns veth
  for n in "${NODES[@]}"; do
    ns="$(netns_of "$n")" veth="$(veth_of "$n")"
    ip netns list | grep -qw "^$ns" || ip netns add "$ns"
    if ! ip link show "$veth" >/dev/null 2>&1; then
      ip link add "$veth" type veth peer name "${veth}p"
      ip link set "${veth}p" netns "$ns"
      ip -n "$ns" addr add "$SUBNET.$n/24" dev "${veth}p"
    fi
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "${veth}p" up
    ip link set "$veth" master "$BRIDGE"
    ip link set "$veth" up
  done
}

# Deleting a namespace deletes its veth pair; only once no node runs in it. Nothing to delete is fine.
netns_down() {
  local n
  for n in "${NODES[@]}"; do ip netns delete "$(netns_of "$n")" 2>/dev/null || true; done
  ip link delete "$BRIDGE" 2>/dev/null || true
}

cut_or_heal() {  # N down|up
  netns_mode || die "node $1 is not in a network namespace (start the cluster with KAFKA_CLUSTER_NETNS=1)"
  [[ "$1" =~ ^[1-3]$ ]] || die "no node '$1' (1..3)"
  ip link set "$(veth_of "$1")" "$2"
  if [ "$2" = down ]; then say "node $1 cut off ($(host_of "$1"))"; else say "node $1 healed"; fi
}

cluster_id() {
  mkdir -p "$SHARED_DIR"
  if [ ! -s "$SHARED_DIR/cluster-id" ]; then
    # A Kafka Uuid: 16 random bytes, URL-safe base64 without padding, not starting with '-'.
    local id
    id="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
    while [[ "$id" == -* ]]; do id="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"; done
    echo "$id" >"$SHARED_DIR/cluster-id"
  fi
  cat "$SHARED_DIR/cluster-id"
}

# Runs kafka.sh as node $1.
node() {
  local n="$1"; shift
  [[ "$n" =~ ^[1-3]$ ]] || die "no node '$n' (1..3)"
  local netns=""
  ! netns_mode || netns="$(netns_of "$n")"
  KAFKA_NODE_ID="$n" KAFKA_NODE_NAME="kafka-$n" KAFKA_HOST="$(host_of "$n")" KAFKA_NETNS="$netns" \
    KAFKA_PORT="$(client_port "$n")" KAFKA_CONTROLLER_PORT="$(controller_port "$n")" \
    KAFKA_QUORUM_VOTERS="$(voters)" KAFKA_CLUSTER_ID="$(cluster_id)" KAFKA_REPLICATION=3 \
    KAFKA_CREDENTIALS_FILE="$SHARED_DIR/credentials" KAFKA_CLIENTS_FILE="$SHARED_DIR/clients.json" \
    KAFKA_CLIENT_BOOTSTRAP="$(bootstrap)" \
    "$KAFKA_SH" "$@"
}

# Runs one command on every node at once (a node's start waits for a quorum: 2 of the 3).
all_nodes() {
  local n pids=() failed=0
  for n in "${NODES[@]}"; do node "$n" "$@" & pids+=($!); done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  return "$failed"
}

cmd_up() {
  mkdir -p "$SHARED_DIR"
  if netns_mode; then
    : >"$NETNS_MARKER"
    netns_up
  else
    rm -f "$NETNS_MARKER"
  fi
  node 1 credentials
  all_nodes start || die "a node did not start (logs: $CUTOVER_STATE_DIR/log/kafka-N.log)"
  say "3 nodes up: $(bootstrap); clients: $SHARED_DIR/clients.json"
}

# Whatever namespaces a former `up` left are removed, whichever mode this call is in.
cmd_down() {
  all_nodes stop
  netns_down
}

cmd_status() {
  local n code=0
  for n in "${NODES[@]}"; do node "$n" status || code=3; done
  return "$code"
}

cmd_clean() {
  all_nodes clean
  netns_down
  rm -rf "$SHARED_DIR"
  say "removed the cluster's data, cluster id and credentials"
}

cmd_kill_node() {
  local pid_file="$CUTOVER_STATE_DIR/run/kafka-$1.pid" pid
  pid="$(cat "$pid_file" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || die "node $1 is not running"
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; do
    sleep 0.05
  done
  say "node $1 killed (SIGKILL, pid $pid)"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  clean) cmd_clean ;;
  start-node) if netns_mode; then netns_up; fi; node "${2:?node number}" start ;;
  stop-node) node "${2:?node number}" stop ;;
  kill-node) cmd_kill_node "${2:?node number}" ;;
  cut-node) cut_or_heal "${2:?node number}" down ;;
  heal-node) cut_or_heal "${2:?node number}" up ;;
  bootstrap) bootstrap ;;
  *) echo "usage: $0 up|down|status|clean|bootstrap|start-node N|stop-node N|kill-node N|cut-node N|heal-node N" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Local single-node Apache Kafka broker (KRaft mode, no ZooKeeper) for development and tests,
# run from the jars on Maven Central: no Docker needed.
#
#   infra/kafka.sh start|stop|status|clean|credentials
#
# `credentials` only makes the passwords (when missing) and clients.json: a cluster's nodes share
# them, so infra/kafka-cluster.sh makes them once before starting the nodes.
#
# Environment (defaults in brackets):
#   CUTOVER_STATE_DIR      state folder [<repo>/.local/dev]; Kafka keeps its data in
#                          $CUTOVER_STATE_DIR/kafka, its log in log/kafka.log, its pid in run/kafka.pid
#                          (KAFKA_NODE_NAME below changes `kafka`)
#   KAFKA_PORT             client listener on $KAFKA_HOST, SASL_PLAINTEXT with SCRAM-SHA-512 [9092]
#   KAFKA_CONTROLLER_PORT  KRaft controller listener on $KAFKA_HOST, PLAINTEXT [9093]
#   KAFKA_HEAP             JVM heap flags [-Xms256m -Xmx768m]
#   KAFKA_JVM_OPTS         extra JVM flags [none]
#   KAFKA_START_TIMEOUT    seconds `start` waits for the broker [90]
#   KAFKA_LIBS_CACHE       folder holding the cached jar folders [<repo>/.local/cache]
#   KAFKA_JIT_OPTS         JIT flags [-XX:TieredStopAtLevel=1: C1 only, starts faster; set it
#                          empty for the full C2 compiler, e.g. for throughput measurements]
#   KAFKA_CDS              1 to use a class-data-sharing archive, 0 not to [1]
#
# One node of a cluster (infra/kafka-cluster.sh sets these; the defaults make the single broker):
#   KAFKA_NODE_ID          this node's id [1]
#   KAFKA_NODE_NAME        names its data folder $CUTOVER_STATE_DIR/<name>, log log/<name>.log and
#                          pid run/<name>.pid [kafka]
#   KAFKA_QUORUM_VOTERS    the controllers, id@host:port,... [1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT]
#   KAFKA_CLUSTER_ID       the cluster id every node is formatted with [random, one node]
#   KAFKA_REPLICATION      replication factor of the internal topics and the default of new
#                          topics; min.insync.replicas is 2 from 3 nodes up, else 1 [1]
#   KAFKA_CREDENTIALS_FILE the principals' passwords, shared by every node [<data>/credentials]
#   KAFKA_CLIENTS_FILE     clients.json [<data>/clients.json]
#   KAFKA_CLIENT_BOOTSTRAP its bootstrap_servers [$KAFKA_HOST:$KAFKA_PORT]
#   KAFKA_HOST             the address both listeners bind and advertise [127.0.0.1]
#   KAFKA_NETNS            a network namespace (`ip netns`) to run the broker in [none]: how
#                          infra/kafka-cluster.sh can cut a node off the network (KAFKA_CLUSTER_NETNS)
#
# Security: clients must authenticate with SCRAM-SHA-512, and the broker enforces ACLs (KRaft's
# StandardAuthorizer; nothing is allowed without an ACL). The principals are `admin` (a super user,
# which provisions topics and ACLs: `cutover-topics`), one per service and `observer`. Their passwords
# are generated at the first start (the storage is formatted with their SCRAM credentials) and
# written, with the bootstrap address, to $CUTOVER_STATE_DIR/kafka/clients.json (mode 0600):
#   {"bootstrap_servers", "security_protocol", "sasl_mechanism",
#    "principals": {"<name>": {"username", "password"}}}
# The controller listener cannot use SCRAM: it stays PLAINTEXT on loopback (or, with KAFKA_NETNS, on
# kafka-cluster.sh's bridge, which has no route off the machine), where the broker's own principal
# (ANONYMOUS) is a super user. `clean` removes the storage and the credentials.
#
# The jars are fetched once per version with Maven (infra/kafka/pom.xml) into
# $KAFKA_LIBS_CACHE/kafka-libs-<version>, shared by every state folder.
# Start-up speed: the first broker run with a jar folder records the classes it loads, and its
# clean `stop` writes them to a CDS archive in that folder (stop then takes a few seconds more);
# later starts map it, which saves about 40% of the start time. A start that dies while using the
# archive deletes it and retries without.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
POM="$REPO_ROOT/infra/kafka/pom.xml"
LOG4J_CONFIG="$REPO_ROOT/infra/kafka/log4j2.properties"

STATE_DIR="${CUTOVER_STATE_DIR:-$REPO_ROOT/.local/dev}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP="${KAFKA_HEAP:--Xms256m -Xmx768m}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:-}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_STOP_TIMEOUT=30
KAFKA_LIBS_CACHE="${KAFKA_LIBS_CACHE:-$REPO_ROOT/.local/cache}"
KAFKA_JIT_OPTS="${KAFKA_JIT_OPTS--XX:TieredStopAtLevel=1}"
KAFKA_CDS="${KAFKA_CDS:-1}"
KAFKA_NODE_ID="${KAFKA_NODE_ID:-1}"
KAFKA_NODE_NAME="${KAFKA_NODE_NAME:-kafka}"
KAFKA_HOST="${KAFKA_HOST:-127.0.0.1}"
KAFKA_NETNS="${KAFKA_NETNS:-}"
KAFKA_QUORUM_VOTERS="${KAFKA_QUORUM_VOTERS:-$KAFKA_NODE_ID@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT}"
KAFKA_CLUSTER_ID="${KAFKA_CLUSTER_ID:-}"
KAFKA_REPLICATION="${KAFKA_REPLICATION:-1}"
[[ "$KAFKA_REPLICATION" =~ ^[1-9]$ ]] || { echo "kafka.sh: KAFKA_REPLICATION must be 1-9" >&2; exit 1; }
# One broker down must not stop writes with acks=all: 2 of 3 copies suffice, 1 of 1 or 2.
if [ "$KAFKA_REPLICATION" -ge 3 ]; then KAFKA_MIN_ISR=2; else KAFKA_MIN_ISR=1; fi

# The single source of the version is the POM.
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1)"
[ -n "$KAFKA_VERSION" ] || { echo "kafka.sh: no <kafka.version> in $POM" >&2; exit 1; }
LIBS_DIR="$KAFKA_LIBS_CACHE/kafka-libs-$KAFKA_VERSION"
LIBS_MARKER="$LIBS_DIR/.complete"

DATA_DIR="$STATE_DIR/$KAFKA_NODE_NAME"
CONFIG_FILE="$DATA_DIR/server.properties"
# One `name password` line per principal; clients.json is written from it on every start.
CREDENTIALS_FILE="${KAFKA_CREDENTIALS_FILE:-$DATA_DIR/credentials}"
CLIENTS_FILE="${KAFKA_CLIENTS_FILE:-$DATA_DIR/clients.json}"
KAFKA_CLIENT_BOOTSTRAP="${KAFKA_CLIENT_BOOTSTRAP:-$KAFKA_HOST:$KAFKA_PORT}"
PRINCIPALS=(admin accounts billing addresses scheduler observer)
LOG_DIRS="$DATA_DIR/data"
LOG_FILE="$STATE_DIR/log/$KAFKA_NODE_NAME.log"
PID_FILE="$STATE_DIR/run/$KAFKA_NODE_NAME.pid"
# Path of the CDS archive that the running broker will write when it exits.
CDS_PENDING="$STATE_DIR/run/$KAFKA_NODE_NAME-cds.pending"

say() { echo "kafka.sh: $*"; }
die() { echo "kafka.sh: $*" >&2; exit 1; }

# Fingerprint of what the jar folder was made from: a changed POM refetches.
pom_fingerprint() { sha256sum "$POM" | cut -d' ' -f1; }

libs_ready() {
  [ -f "$LIBS_MARKER" ] && [ "$(cat "$LIBS_MARKER")" = "$(pom_fingerprint)" ]
}

fetch_libs() {
  libs_ready && return 0
  command -v mvn >/dev/null || die "mvn not found: Maven is needed once to fetch the Kafka jars"
  mkdir -p "$KAFKA_LIBS_CACHE"
  # Serialise concurrent fetches (two state folders started at once).
  exec 8>"$KAFKA_LIBS_CACHE/.kafka-libs-$KAFKA_VERSION.lock"
  flock 8
  if ! libs_ready; then
    say "fetching Kafka $KAFKA_VERSION jars into $LIBS_DIR (once)"
    local tmp="$LIBS_DIR.tmp.$$"
    rm -rf "$tmp"
    local mvn_log="$KAFKA_LIBS_CACHE/kafka-libs-$KAFKA_VERSION.mvn.log"
    if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
         -DincludeScope=runtime -DoutputDirectory="$tmp" >"$mvn_log" 2>&1; then
      tail -n 40 "$mvn_log" >&2
      rm -rf "$tmp"
      die "mvn could not fetch the Kafka jars (see $mvn_log)"
    fi
    ls "$tmp"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1 \
      || { rm -rf "$tmp"; die "mvn ran but kafka_2.13-$KAFKA_VERSION.jar is missing"; }
    pom_fingerprint >"$tmp/.complete"
    # Swap in whole: a half-copied folder never carries the marker.
    rm -rf "$LIBS_DIR"
    mv "$tmp" "$LIBS_DIR"
  fi
  flock -u 8
  exec 8>&-
}

# Prints the pid when the broker of this state folder runs.
running_pid() {
  [ -f "$PID_FILE" ] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  # Guard against a reused pid: it must be our java with our config file.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$CONFIG_FILE" || return 1
  echo "$pid"
}

# True while the process exists and is not a zombie (an exited child that its new parent,
# here PID 1, has not reaped yet).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local state
  state="$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null || true)"
  [ "$state" != Z ]
}

port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$KAFKA_HOST/$1" 2>/dev/null
}

password_of() {
  local name password
  while read -r name password; do
    [ "$name" = "$1" ] && { echo "$password"; return 0; }
  done <"$CREDENTIALS_FILE"
  die "no password for $1 in $CREDENTIALS_FILE"
}

# Random passwords, once per storage: the SCRAM credentials are written into it at format time.
ensure_credentials() {
  mkdir -p "$DATA_DIR" "$(dirname "$CREDENTIALS_FILE")"
  [ -s "$CREDENTIALS_FILE" ] && return 0
  if [ -f "$LOG_DIRS/meta.properties" ]; then
    die "the storage in $LOG_DIRS was formatted without SCRAM users (before the broker required SASL): '$0 clean' removes it and its topics; the next start makes a new one"
  fi
  local name password
  (
    umask 077
    for name in "${PRINCIPALS[@]}"; do
      password="$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32 || true)"
      [ "${#password}" = 32 ] || die "could not generate a password"
      echo "$name $password"
    done >"$CREDENTIALS_FILE.tmp"
  )
  mv "$CREDENTIALS_FILE.tmp" "$CREDENTIALS_FILE"
}

# What every client needs to connect as one of the principals (BRIEF §6); 0600 like the passwords.
write_clients_file() {
  local name separator="" principals=""
  for name in "${PRINCIPALS[@]}"; do
    principals+="$separator    \"$name\": {\"username\": \"$name\", \"password\": \"$(password_of "$name")\"}"
    separator=$',\n'
  done
  mkdir -p "$(dirname "$CLIENTS_FILE")"
  # A cluster's nodes start at once and each writes the shared file (the same content): a
  # temporary file of its own, so that one node's `mv` never takes another's.
  local tmp="$CLIENTS_FILE.tmp.$$"
  (umask 077 && : >"$tmp")
  cat >"$tmp" <<EOF
{
  "bootstrap_servers": "$KAFKA_CLIENT_BOOTSTRAP",
  "security_protocol": "SASL_PLAINTEXT",
  "sasl_mechanism": "SCRAM-SHA-512",
  "principals": {
$principals
  }
}
EOF
  mv "$tmp" "$CLIENTS_FILE"
}

write_config() {
  mkdir -p "$DATA_DIR" "$LOG_DIRS"
  # 0600: the file holds the admin password (the broker's own login on its SASL listener).
  (umask 077 && : >"$CONFIG_FILE.tmp")
  cat >"$CONFIG_FILE.tmp" <<EOF
# Written by infra/kafka.sh on every start: edit the script, not this file.
process.roles=broker,controller
node.id=$KAFKA_NODE_ID
controller.quorum.voters=$KAFKA_QUORUM_VOTERS
listeners=SASL_PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=SASL_PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
log.dirs=$LOG_DIRS

# Clients authenticate with SCRAM-SHA-512 and may do only what an ACL allows. The controller
# listener (host-internal only) cannot use SCRAM: its principal is ANONYMOUS, hence a super user.
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(password_of admin)";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:ANONYMOUS

auto.create.topics.enable=false
num.partitions=6
default.replication.factor=$KAFKA_REPLICATION
min.insync.replicas=$KAFKA_MIN_ISR

# Internal topics: as many copies as the cluster has nodes (1 on a single node), few partitions
# (fast to create).
offsets.topic.replication.factor=$KAFKA_REPLICATION
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=$KAFKA_REPLICATION
transaction.state.log.min.isr=$KAFKA_MIN_ISR
transaction.state.log.num.partitions=6
share.coordinator.state.topic.replication.factor=$KAFKA_REPLICATION
share.coordinator.state.topic.min.isr=$KAFKA_MIN_ISR

group.initial.rebalance.delay.ms=0

# Small box (2 cores, small heap): the cleaner's dedupe buffer lives on the heap (default 128 MiB).
log.cleaner.dedupe.buffer.size=16777216
log.cleaner.threads=1
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
EOF
  mv "$CONFIG_FILE.tmp" "$CONFIG_FILE"
}

# The archive is only valid for the JVM build that wrote it: key it by the java binary.
cds_archive() {
  local java_real
  java_real="$(readlink -f "$(command -v java)")"
  echo "$LIBS_DIR/kafka-cds-$(printf '%s' "$java_real" | sha256sum | cut -c1-12).jsa"
}

# Called once the broker has exited: keep the archive only after a clean exit.
settle_cds() {
  local clean_exit="$1" tmp
  [ -f "$CDS_PENDING" ] || return 0
  tmp="$(cat "$CDS_PENDING")"
  rm -f "$CDS_PENDING"
  [ -n "$tmp" ] || return 0
  local final="${tmp%.tmp.*}"
  if [ "$clean_exit" = 1 ] && [ -s "$tmp" ] && [ ! -e "$final" ]; then
    mv -f "$tmp" "$final"
  else
    rm -f "$tmp"
  fi
}

# A Kafka Uuid: 16 random bytes in URL-safe base64 without padding (saves a JVM start).
new_cluster_id() {
  local id
  id="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  while [[ "$id" == -* ]]; do id="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"; done
  echo "$id"
}

format_storage() {
  [ -f "$LOG_DIRS/meta.properties" ] && return 0
  local cluster_id="$KAFKA_CLUSTER_ID"
  [ -n "$cluster_id" ] || cluster_id="$(new_cluster_id)"
  say "formatting storage of node $KAFKA_NODE_ID in $LOG_DIRS (cluster id $cluster_id), SCRAM users: ${PRINCIPALS[*]}"
  local name scram=()
  for name in "${PRINCIPALS[@]}"; do
    scram+=(--add-scram "SCRAM-SHA-512=[name=$name,password=$(password_of "$name")]")
  done
  java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:ErrorFile="$STATE_DIR/log/kafka-hs_err_%p.log" \
    -Dlog4j2.configurationFile="$LOG4J_CONFIG" -cp "$LIBS_DIR/*" \
    kafka.tools.StorageTool format -t "$cluster_id" -c "$CONFIG_FILE" "${scram[@]}" >>"$LOG_FILE" 2>&1 \
    || { tail -n 30 "$LOG_FILE" >&2; die "formatting the storage failed (see $LOG_FILE)"; }
}

cmd_start() {
  local pid
  if pid="$(running_pid)"; then
    say "already running (pid $pid, port $KAFKA_PORT, state $STATE_DIR)"
    return 0
  fi
  rm -f "$PID_FILE"
  for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    if port_open "$port"; then
      die "port $port on $KAFKA_HOST is already in use by another process; set KAFKA_PORT / KAFKA_CONTROLLER_PORT"
    fi
  done
  command -v java >/dev/null || die "java not found (OpenJDK 17+ is needed)"

  mkdir -p "$STATE_DIR/log" "$STATE_DIR/run"
  fetch_libs
  ensure_credentials
  write_config
  format_storage
  write_clients_file

  launch_and_wait "$KAFKA_CDS"
  if [ "$LAUNCH_RESULT" = cds-crash ]; then
    # The JVM died while mapping the CDS archive: drop it and start without it.
    say "start with the CDS archive failed: deleting $(cds_archive) and retrying without it" >&2
    rm -f "$(cds_archive)"
    launch_and_wait 0
  fi
}

# Sets LAUNCH_RESULT to "started" once the broker answers, or to "cds-crash" when it died
# while using a CDS archive; fails the script on any other trouble.
launch_and_wait() {
  local use_cds="$1" cds_opts=() archive pid used_archive=0
  LAUNCH_RESULT=""
  settle_cds 0    # a leftover from a broker that did not stop cleanly
  if [ "$use_cds" = 1 ]; then
    archive="$(cds_archive)"
    if [ -s "$archive" ]; then
      cds_opts=(-XX:SharedArchiveFile="$archive" -Xlog:cds*=error)
      used_archive=1
    else
      cds_opts=(-XX:ArchiveClassesAtExit="$archive.tmp.$$" -Xlog:cds*=error)
      echo "$archive.tmp.$$" >"$CDS_PENDING"
    fi
  fi

  # Only the part of the log written by this start counts when waiting.
  local log_offset
  log_offset="$(stat -c %s "$LOG_FILE" 2>/dev/null || echo 0)"
  echo "----- $(date '+%F %T') kafka.sh start (Kafka $KAFKA_VERSION, port $KAFKA_PORT) -----" >>"$LOG_FILE"

  rm -f "$PID_FILE"
  # `ip netns exec` enters the namespace and execs the rest, so the pid stays the broker's.
  local netns=()
  [ -z "$KAFKA_NETNS" ] || netns=(ip netns exec "$KAFKA_NETNS")
  # setsid: the broker leaves the caller's process group (a Ctrl-C in a test run does not hit it);
  # the inner shell writes its own pid, which exec hands on to java.
  # shellcheck disable=SC2086  # KAFKA_HEAP / KAFKA_JIT_OPTS / KAFKA_JVM_OPTS are word lists on purpose
  nohup setsid "${netns[@]}" bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
    java $KAFKA_HEAP $KAFKA_JIT_OPTS \
      -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExplicitGCInvokesConcurrent \
      -XX:+ExitOnOutOfMemoryError -XX:ErrorFile="$STATE_DIR/log/kafka-hs_err_%p.log" \
      "${cds_opts[@]}" \
      -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$LOG4J_CONFIG" \
      -Dkafka.logs.dir="$STATE_DIR/log" \
      $KAFKA_JVM_OPTS \
      -cp "$LIBS_DIR/*" kafka.Kafka "$CONFIG_FILE" \
    >>"$LOG_FILE" 2>&1 </dev/null &

  local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  while :; do
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    if [ -n "$pid" ] && ! alive "$pid"; then
      settle_cds 0
      if [ "$used_archive" = 1 ] && tail -c +"$((log_offset + 1))" "$LOG_FILE" \
           | grep -qE 'SIGBUS|SIGSEGV|shared archive|CDS|A fatal error'; then
        LAUNCH_RESULT=cds-crash
        return 0
      fi
      echo "----- tail of $LOG_FILE -----" >&2
      tail -c +"$((log_offset + 1))" "$LOG_FILE" | tail -n 40 >&2
      die "Kafka exited during startup"
    fi
    if tail -c +"$((log_offset + 1))" "$LOG_FILE" | grep -q 'Kafka Server started' \
       && port_open "$KAFKA_PORT"; then
      break
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "----- tail of $LOG_FILE -----" >&2
      tail -c +"$((log_offset + 1))" "$LOG_FILE" | tail -n 40 >&2
      die "Kafka did not start within ${KAFKA_START_TIMEOUT}s (pid ${pid:-?} left running; run '$0 stop')"
    fi
    sleep 0.1
  done
  LAUNCH_RESULT=started
  say "started Kafka $KAFKA_VERSION on $KAFKA_HOST:$KAFKA_PORT (pid $pid, state $STATE_DIR)"
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    settle_cds 0
    say "not running (state $STATE_DIR)"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + KAFKA_STOP_TIMEOUT)) clean_exit=1
  while alive "$pid"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "still running after ${KAFKA_STOP_TIMEOUT}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      clean_exit=0
      break
    fi
    sleep 0.1
  done
  local i
  for i in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
  rm -f "$PID_FILE"
  settle_cds "$clean_exit"
  say "stopped (pid $pid)"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    if port_open "$KAFKA_PORT"; then
      say "running (pid $pid, $KAFKA_HOST:$KAFKA_PORT, Kafka $KAFKA_VERSION, state $STATE_DIR)"
    else
      say "process alive (pid $pid) but $KAFKA_HOST:$KAFKA_PORT does not answer (starting or wrong KAFKA_PORT?)"
    fi
    return 0
  fi
  say "not running (state $STATE_DIR)"
  return 3
}

cmd_clean() {
  cmd_stop
  rm -rf "$DATA_DIR" "$LOG_FILE"
  say "removed Kafka data and credentials in $DATA_DIR"
}

cmd_credentials() {
  ensure_credentials
  write_clients_file
}

case "${1:-}" in
  start) cmd_start ;;
  credentials) cmd_credentials ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  clean) cmd_clean ;;
  *) echo "usage: $0 start|stop|status|clean|credentials" >&2; exit 2 ;;
esac

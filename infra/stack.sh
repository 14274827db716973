#!/usr/bin/env bash
# The whole local system: PostgreSQL, Kafka, topics, migrations, the four services and the console.
#
#   infra/stack.sh up       start everything in the background (harmless when already up)
#   infra/stack.sh run      up, then follow the logs until Ctrl-C, which stops what it started
#   infra/stack.sh down     stop the services, Kafka and PostgreSQL (data kept)
#   infra/stack.sh clean    down, then remove all local data
#   infra/stack.sh status   what runs
#
#   infra/stack.sh up-cluster|run-cluster|down-cluster|status-cluster|clean-cluster
#       the same on the engines a deployment runs on: a 3-node Kafka cluster
#       (infra/kafka-cluster.sh; topics with 3 copies, min.insync.replicas 2), CUTOVER_REPLICAS [2]
#       processes of every service (same consumer groups, same database), each on its own port,
#       and HAProxy (Debian's package, installed when missing and run as root) in front of them on
#       the services' ports, health-checking /readyz; a replica stopped with SIGTERM drains first
#       (CUTOVER_DRAIN_SECONDS [3]). Its own state dir and ports, so it runs beside `up`:
#       CUTOVER_STATE_DIR [<repo>/.local/cluster], POSTGRES_PORT [31432], Kafka 31092-31097
#       (KAFKA_CLUSTER_BASE_PORT), replica r of the i-th service (accounts, billing, addresses,
#       scheduler; i from 0) on CUTOVER_REPLICA_BASE_PORT [31001] + 4(r-1) + i, the proxy on
#       ACCOUNTS_PORT .. SCHEDULER_PORT [8001-8004], which the CLI uses by default.
#   infra/stack.sh stop-replica accounts-2 | start-replica accounts-2
#       one replica of the cluster mode: SIGTERM and wait for it to drain and exit; start it again
#       and wait until it is ready (a rolling restart is one of each, replica by replica)
#
# Environment (defaults in brackets): CUTOVER_STATE_DIR [<repo>/.local/dev], POSTGRES_PORT [5432],
# KAFKA_PORT [9092], KAFKA_CONTROLLER_PORT [9093], ACCOUNTS_PORT [8001], BILLING_PORT [8002],
# ADDRESSES_PORT [8003], SCHEDULER_PORT [8004], CONSOLE_PORT [8080], CUTOVER_API_TOKEN [generated
# into the state dir], CONSOLE_SECRET_KEY [a Fernet key generated into the state dir: the console's
# session cookies survive restarts; give every console replica the same one].
#
# Identities: `up` makes the stack its own little identity provider. It creates a signing key
# (0600) and its JWKS in the state dir (`cutover tokens init`, kept across restarts), points the
# services at them (CUTOVER_JWKS_FILE, CUTOVER_TOKEN_ISSUER), and mints each service's own token
# into tokens/<service>.jwt (CUTOVER_SERVICE_TOKEN_FILE), valid CUTOVER_SERVICE_TOKEN_TTL [24h]
# and renewed every CUTOVER_SERVICE_TOKEN_RENEW_SECONDS [3600] by a small loop in the background
# (stopped by `down`); the services read the file again when it changes. People get tokens with
# `uv run cutover tokens issue`.
#
# The broker requires SASL/SCRAM (infra/kafka.sh): `cutover-topics` provisions topics and ACLs as
# `admin`, and each service connects as its own principal, with the passwords of
# $CUTOVER_STATE_DIR/kafka/clients.json.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CLUSTER=0
case "${1:-}" in *-cluster|*-replica) CLUSTER=1 ;; esac
if [ "$CLUSTER" = 1 ]; then
  export CUTOVER_STATE_DIR="${CUTOVER_STATE_DIR:-$REPO_ROOT/.local/cluster}"
  export POSTGRES_PORT="${POSTGRES_PORT:-31432}"
  KAFKA_BOOTSTRAP_SERVERS="$("$REPO_ROOT/infra/kafka-cluster.sh" bootstrap)"
  export KAFKA_BOOTSTRAP_SERVERS KAFKA_TOPIC_REPLICATION_FACTOR=3
  export CUTOVER_DRAIN_SECONDS="${CUTOVER_DRAIN_SECONDS:-3}"
  # The proxy's ports as `up-cluster` chose them: a replica started later calls its peers there.
  case "${1:-}" in
    up-cluster|run-cluster) ;;
    *) if [ -f "$CUTOVER_STATE_DIR/proxy.env" ]; then . "$CUTOVER_STATE_DIR/proxy.env"; fi ;;
  esac
else
  export CUTOVER_STATE_DIR="${CUTOVER_STATE_DIR:-$REPO_ROOT/.local/dev}"
  export POSTGRES_PORT="${POSTGRES_PORT:-5432}"
  export KAFKA_PORT="${KAFKA_PORT:-9092}"
  export KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
  export KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT"
fi
# Eight Python processes starting at once on a small, busy machine need more than four do.
if [ "$CLUSTER" = 1 ]; then READY_TIMEOUT="${CUTOVER_READY_TIMEOUT:-300}"; else READY_TIMEOUT="${CUTOVER_READY_TIMEOUT:-60}"; fi
REPLICAS="${CUTOVER_REPLICAS:-2}"
REPLICA_BASE_PORT="${CUTOVER_REPLICA_BASE_PORT:-31001}"
HAPROXY_DIR="$CUTOVER_STATE_DIR/haproxy"
export ACCOUNTS_PORT="${ACCOUNTS_PORT:-8001}" BILLING_PORT="${BILLING_PORT:-8002}"
export ADDRESSES_PORT="${ADDRESSES_PORT:-8003}" SCHEDULER_PORT="${SCHEDULER_PORT:-8004}"
export ACCOUNTS_URL="http://127.0.0.1:$ACCOUNTS_PORT" BILLING_URL="http://127.0.0.1:$BILLING_PORT"
export ADDRESSES_URL="http://127.0.0.1:$ADDRESSES_PORT" SCHEDULER_URL="http://127.0.0.1:$SCHEDULER_PORT"
export CONSOLE_PORT="${CONSOLE_PORT:-8080}"
# The break-glass token is for scripts (a bulk CLI run): a limit far above the default for people.
export CUTOVER_RATE_LIMITS="${CUTOVER_RATE_LIMITS:-operator=120000}"
SERVICES=(accounts billing addresses scheduler)
PYTHON="$REPO_ROOT/.venv/bin/python"
RUN_DIR="$CUTOVER_STATE_DIR/run"
LOG_DIR="$CUTOVER_STATE_DIR/log"
TOKEN_FILE="$CUTOVER_STATE_DIR/api-token"
CUTOVER_BIN="$REPO_ROOT/.venv/bin/cutover"
SERVICE_TOKENS_DIR="$CUTOVER_STATE_DIR/tokens"
SERVICE_TOKEN_TTL="${CUTOVER_SERVICE_TOKEN_TTL:-24h}"
SERVICE_TOKEN_RENEW_SECONDS="${CUTOVER_SERVICE_TOKEN_RENEW_SECONDS:-3600}"
KAFKA_CLIENTS_FILE="$CUTOVER_STATE_DIR/kafka/clients.json"
CONSOLE_KEY_FILE="$CUTOVER_STATE_DIR/console-secret.key"

say() { echo "stack: $*"; }

port_of() { local name="${1^^}_PORT"; echo "${!name}"; }

ensure_token() {
  if [ -z "${CUTOVER_API_TOKEN:-}" ]; then
    if [ ! -s "$TOKEN_FILE" ]; then
      mkdir -p "$CUTOVER_STATE_DIR"
      (umask 077 && "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))' >"$TOKEN_FILE")
    fi
    CUTOVER_API_TOKEN="$(cat "$TOKEN_FILE")"
  fi
  export CUTOVER_API_TOKEN
}

ensure_identities() {
  "$CUTOVER_BIN" tokens init --key-dir "$CUTOVER_STATE_DIR" >/dev/null
  export CUTOVER_JWKS_FILE="$CUTOVER_STATE_DIR/jwks.json"
  CUTOVER_TOKEN_ISSUER="$(cat "$CUTOVER_STATE_DIR/token-issuer")"
  export CUTOVER_TOKEN_ISSUER
  mint_service_tokens
  for service in "${SERVICES[@]}"; do
    [ -s "$SERVICE_TOKENS_DIR/$service.jwt" ] || { say "no token minted for $service"; exit 1; }
  done
}

# Each service's identity holds only the scopes it needs to call the others (cutover_kit.identity).
mint_service_tokens() {
  local service scopes scope args new
  (umask 077 && mkdir -p "$SERVICE_TOKENS_DIR")
  while read -r service scopes; do
    args=()
    for scope in $scopes; do args+=(--scope "$scope"); done
    # Written whole, then moved into place: a service never reads half a token, nor an empty one.
    new="$SERVICE_TOKENS_DIR/$service.jwt.new"
    if (umask 077 && "$CUTOVER_BIN" tokens issue --key-dir "$CUTOVER_STATE_DIR" \
        --name "$service" "${args[@]}" --ttl "$SERVICE_TOKEN_TTL" 2>/dev/null | tail -n 1 >"$new") \
        && [ -s "$new" ]; then
      mv "$new" "$SERVICE_TOKENS_DIR/$service.jwt"
    else
      rm -f "$new"
      say "could not mint the token of $service"
      return 1
    fi
  done < <("$PYTHON" -c 'from cutover_kit.identity import SERVICE_SCOPES
for service, scopes in SERVICE_SCOPES.items(): print(service, *scopes)')
}

start_token_renewer() {
  local pid_file="$RUN_DIR/token-renewer.pid"
  if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then return; fi
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  (
    trap '' HUP  # outlive the terminal of `make up`, like the services
    while sleep "$SERVICE_TOKEN_RENEW_SECONDS"; do
      mint_service_tokens && echo "$(date -u +%FT%TZ) service tokens renewed" \
        || echo "$(date -u +%FT%TZ) renewing the service tokens failed; retrying later"
    done
  ) >>"$LOG_DIR/token-renewer.log" 2>&1 &
  echo $! >"$pid_file"
}

stop_token_renewer() {
  local pid_file="$RUN_DIR/token-renewer.pid" pid
  [ -f "$pid_file" ] || return 0
  pid="$(cat "$pid_file")"
  pkill -P "$pid" 2>/dev/null || true  # its sleep
  kill "$pid" 2>/dev/null || true
  rm -f "$pid_file"
}

# Sets KAFKA_ENV to the variables (KafkaSettings') of a process that connects to Kafka as one
# principal of clients.json: `env "${KAFKA_ENV[@]}" command`.
kafka_env_of() {
  local password
  password="$("$PYTHON" -c 'import json, sys
print(json.load(open(sys.argv[1]))["principals"][sys.argv[2]]["password"])' \
    "$KAFKA_CLIENTS_FILE" "$1")"
  KAFKA_ENV=(KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT KAFKA_SASL_MECHANISM=SCRAM-SHA-512
             KAFKA_SASL_USERNAME="$1" KAFKA_SASL_PASSWORD="$password")
}

# A process of the stack: a service (`accounts`, make up), a replica (`accounts-2`, the cluster
# mode) or the proxy (`haproxy`), each with its pid file in run/ and its log in log/.
service_pid() {
  local pid_file="$RUN_DIR/$1.pid"
  [ -f "$pid_file" ] || return 1
  local pid; pid="$(cat "$pid_file")"
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# start_service SERVICE [INSTANCE PORT]: the service, or one replica of it on its own port.
start_service() {
  local service="$1" instance="${2:-$1}" port="${3:-}" extra=()
  if pid="$(service_pid "$instance")"; then
    say "$instance already running (pid $pid)"
    return
  fi
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  kafka_env_of "$service"
  [ -z "$port" ] || extra=("${service^^}_PORT=$port")
  # env and nohup exec: $! is the service's own pid.
  env "${KAFKA_ENV[@]}" "${extra[@]}" CUTOVER_SERVICE_TOKEN_FILE="$SERVICE_TOKENS_DIR/$service.jwt" \
    nohup "$PYTHON" -m "cutover_$service" serve >>"$LOG_DIR/$instance.log" 2>&1 &
  echo $! >"$RUN_DIR/$instance.pid"
}

# wait_ready SERVICE [INSTANCE PORT]
wait_ready() {
  local service="$1" instance="${2:-$1}" port="${3:-}" deadline
  [ -n "$port" ] || port="$(port_of "$service")"
  deadline=$((SECONDS + READY_TIMEOUT))
  local rebinds=0
  until curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; do
    if ! service_pid "$instance" >/dev/null; then
      # A replica's port (or one moved into the kernel's ephemeral range by the environment) may
      # be held for a while by another process. Start it again, a few times, rather than give up.
      if [ "$instance" != "$service" ] && [ "$instance" != haproxy ] && [ "$rebinds" -lt 10 ] \
         && tail -n 20 "$LOG_DIR/$instance.log" | grep -qi "address already in use"; then
        rebinds=$((rebinds + 1))
        say "$instance: port $port is taken by another connection; starting it again ($rebinds)"
        sleep 3
        start_service "$service" "$instance" "$port"
        continue
      fi
      say "$instance exited; the end of its log:"; tail -n 30 "$LOG_DIR/$instance.log"; exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "$instance not ready after $READY_TIMEOUT s; the end of its log:"; tail -n 30 "$LOG_DIR/$instance.log"
      exit 1
    fi
    sleep 0.2
  done
}

# The console talks to the four APIs with each operator's own token; it has no Kafka principal, no
# token and no database, only the key that seals its session cookies.
start_console() {
  if pid="$(service_pid console)"; then
    say "console already running (pid $pid)"
    return
  fi
  if [ -z "${CONSOLE_SECRET_KEY:-}" ] && [ ! -s "$CONSOLE_KEY_FILE" ]; then
    (umask 077 && "$PYTHON" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())' \
      >"$CONSOLE_KEY_FILE")
  fi
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  env -u CUTOVER_API_TOKEN CONSOLE_SECRET_KEY_FILE="$CONSOLE_KEY_FILE" \
    nohup "$PYTHON" -m cutover_console serve >>"$LOG_DIR/console.log" 2>&1 &
  echo $! >"$RUN_DIR/console.pid"
}

# stop_service INSTANCE [SECONDS]: SIGTERM (a replica drains, then stops), SIGKILL after SECONDS [10].
stop_service() {
  local instance="$1" wait_tenths=$((${2:-10} * 10)) pid
  pid="$(service_pid "$instance")" || { rm -f "$RUN_DIR/$instance.pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 "$wait_tenths"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$RUN_DIR/$instance.pid"
}

cmd_up() {
  "$REPO_ROOT/infra/postgres.sh" start
  "$REPO_ROOT/infra/postgres.sh" createdbs
  "$REPO_ROOT/infra/kafka.sh" start
  kafka_env_of admin
  env "${KAFKA_ENV[@]}" "$REPO_ROOT/.venv/bin/cutover-topics"
  ensure_token
  ensure_identities
  for service in "${SERVICES[@]}"; do
    "$PYTHON" -m "cutover_$service" migrate
  done
  for service in "${SERVICES[@]}"; do start_service "$service"; done
  start_console
  start_token_renewer
  for service in "${SERVICES[@]}" console; do wait_ready "$service"; done
  say "all four services are ready:"
  for service in "${SERVICES[@]}"; do
    printf '  %-10s http://127.0.0.1:%s  (docs: /docs)\n' "$service" "$(port_of "$service")"
  done
  say "the operator console: http://127.0.0.1:$CONSOLE_PORT (sign in with a token, below)"
  say "logs: $LOG_DIR"
  say "Kafka: SASL/SCRAM-SHA-512 on 127.0.0.1:$KAFKA_PORT; principals and passwords in $KAFKA_CLIENTS_FILE"
  say "curl or the operator CLI (from $REPO_ROOT):"
  if [ -f "$TOKEN_FILE" ] && [ "$CUTOVER_API_TOKEN" = "$(cat "$TOKEN_FILE")" ]; then
    echo "  export CUTOVER_API_TOKEN=\$(cat $TOKEN_FILE)"
  else
    echo "  (the API token is the CUTOVER_API_TOKEN of your environment)"
  fi
  # The CLI's default URLs are the default ports; other ports need the variables.
  if [ "$ACCOUNTS_PORT$BILLING_PORT$ADDRESSES_PORT$SCHEDULER_PORT" != "8001800280038004" ]; then
    echo "  export ACCOUNTS_URL=$ACCOUNTS_URL BILLING_URL=$BILLING_URL"
    echo "  export ADDRESSES_URL=$ADDRESSES_URL SCHEDULER_URL=$SCHEDULER_URL"
  fi
  echo "  uv run cutover status        (uv run cutover --help for the rest)"
  say "a token of your own (the actor in history), e.g. to disconnect and read accounts:"
  local key_dir=""
  [ "$CUTOVER_STATE_DIR" = "$REPO_ROOT/.local/dev" ] || key_dir="--key-dir $CUTOVER_STATE_DIR "
  echo "  export CUTOVER_API_TOKEN=\$(uv run cutover tokens issue ${key_dir}--name \"\$USER\" --scope accounts:read --scope accounts:lifecycle --ttl 8h | tail -n 1)"
}

cmd_down() {
  stop_token_renewer
  stop_service console
  for service in "${SERVICES[@]}"; do stop_service "$service"; done
  "$REPO_ROOT/infra/kafka.sh" stop
  "$REPO_ROOT/infra/postgres.sh" stop
}

cmd_run() {
  local tail_pid=""
  trap 'echo; [ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null; cmd_down; exit 0' INT TERM
  cmd_up
  say "following the logs; Ctrl-C stops everything"
  local logs=()
  for service in "${SERVICES[@]}" console; do logs+=("$LOG_DIR/$service.log"); done
  tail -n 0 -F "${logs[@]}" &
  tail_pid=$!
  wait "$tail_pid" || true
}

cmd_status() {
  for service in "${SERVICES[@]}" console; do
    if pid="$(service_pid "$service")"; then say "$service running (pid $pid)"; else say "$service stopped"; fi
  done
  "$REPO_ROOT/infra/kafka.sh" status || true
  "$REPO_ROOT/infra/postgres.sh" status || true
}

cmd_clean() {
  cmd_down
  "$REPO_ROOT/infra/kafka.sh" clean
  "$REPO_ROOT/infra/postgres.sh" clean
  rm -rf "$CUTOVER_STATE_DIR"
}

# ---- cluster mode ------------------------------------------------------------------------------

replica_port() {  # SERVICE REPLICA
  local i
  for i in "${!SERVICES[@]}"; do
    [ "${SERVICES[$i]}" = "$1" ] && { echo $((REPLICA_BASE_PORT + 4 * ($2 - 1) + i)); return; }
  done
  return 1
}

ensure_haproxy() {
  command -v haproxy >/dev/null && return 0
  [ "$(id -u)" = 0 ] || { say "HAProxy is needed: apt-get install haproxy (as root)"; exit 1; }
  say "installing HAProxy from Debian's packages (once)"
  # policy-rc.d answering 101: the package's own service is not started (the stack runs its own).
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; made_policy=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy >/dev/null; } \
    || true
  [ "$made_policy" = 0 ] || rm -f "$policy"
  command -v haproxy >/dev/null || { say "HAProxy could not be installed"; exit 1; }
}

# One frontend per service on its public port, one backend of its replicas checked on /readyz: a
# replica failing 2 checks 1 s apart (draining, or its database or Kafka gone) gets no new request;
# a connection refused is tried again on another replica (retries, option redispatch).
write_haproxy_config() {
  local service r
  mkdir -p "$HAPROXY_DIR"
  {
    cat <<EOF
# Written by infra/stack.sh up-cluster on every start: edit the script, not this file.
global
  maxconn 4096
  stats socket $HAPROXY_DIR/admin.sock mode 600 level admin
  log stdout format raw local0 info

defaults
  mode http
  log global
  # Only what went wrong is logged (to log/haproxy.log): errors, retries, redispatches.
  option httplog
  option dontlog-normal
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  # Longer than clients keep an idle connection (httpx: 5 s), so a client never sends a request
  # on a connection the proxy is closing.
  timeout http-keep-alive 10s
  # One request per connection to a replica: uvicorn closes an idle connection after 5 s, and a
  # request sent on one it is closing would be lost; on loopback a connection costs little.
  option http-server-close
  retries 3
  option redispatch 1
  retry-on conn-failure
  default-server inter 1s fall 2 rise 2
EOF
    for service in "${SERVICES[@]}"; do
      printf '\nfrontend %s\n  bind 127.0.0.1:%s\n  default_backend %s\n' \
        "$service" "$(port_of "$service")" "$service"
      printf '\nbackend %s\n  balance roundrobin\n  option httpchk GET /readyz\n  http-check expect status 200\n' "$service"
      for r in $(seq 1 "$REPLICAS"); do
        printf '  server %s-%s 127.0.0.1:%s check\n' "$service" "$r" "$(replica_port "$service" "$r")"
      done
    done
  } >"$HAPROXY_DIR/haproxy.cfg.tmp"
  mv "$HAPROXY_DIR/haproxy.cfg.tmp" "$HAPROXY_DIR/haproxy.cfg"
}

start_haproxy() {
  if pid="$(service_pid haproxy)"; then say "HAProxy already running (pid $pid)"; return; fi
  ensure_haproxy
  write_haproxy_config
  haproxy -c -q -f "$HAPROXY_DIR/haproxy.cfg" || { say "HAProxy refused its configuration"; exit 1; }
  # A port may be held for a while by another program (a TIME_WAIT socket, or an outgoing connection
  # when the ports were moved into the ephemeral range), so a bind that fails is tried again, 30 s.
  local attempt pid
  for attempt in $(seq 1 15); do
    # -db: in the foreground of its own process (nohup &), so $! is its pid.
    nohup haproxy -db -f "$HAPROXY_DIR/haproxy.cfg" >>"$LOG_DIR/haproxy.log" 2>&1 &
    pid=$!
    echo "$pid" >"$RUN_DIR/haproxy.pid"
    sleep 1
    kill -0 "$pid" 2>/dev/null && return 0
    say "HAProxy could not start (attempt $attempt; see $LOG_DIR/haproxy.log); trying again"
    sleep 1
  done
  say "HAProxy did not start"; exit 1
}

cluster_instances() {
  local r service
  for r in $(seq 1 "$REPLICAS"); do for service in "${SERVICES[@]}"; do echo "$service-$r"; done; done
}

cmd_up_cluster() {
  "$REPO_ROOT/infra/postgres.sh" start
  "$REPO_ROOT/infra/postgres.sh" createdbs
  "$REPO_ROOT/infra/kafka-cluster.sh" up
  kafka_env_of admin
  env "${KAFKA_ENV[@]}" "$REPO_ROOT/.venv/bin/cutover-topics"
  ensure_token
  ensure_identities
  for service in "${SERVICES[@]}"; do "$PYTHON" -m "cutover_$service" migrate; done
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  # The proxy binds its ports before the replicas start; it waits for them through its health
  # checks.
  start_haproxy
  printf 'ACCOUNTS_PORT=%s BILLING_PORT=%s ADDRESSES_PORT=%s SCHEDULER_PORT=%s\n' \
    "$ACCOUNTS_PORT" "$BILLING_PORT" "$ADDRESSES_PORT" "$SCHEDULER_PORT" >"$CUTOVER_STATE_DIR/proxy.env"
  local r
  for r in $(seq 1 "$REPLICAS"); do
    for service in "${SERVICES[@]}"; do
      start_service "$service" "$service-$r" "$(replica_port "$service" "$r")"
    done
  done
  start_token_renewer
  for r in $(seq 1 "$REPLICAS"); do
    for service in "${SERVICES[@]}"; do
      wait_ready "$service" "$service-$r" "$(replica_port "$service" "$r")"
    done
  done
  for service in "${SERVICES[@]}"; do wait_ready "$service" haproxy "$(port_of "$service")"; done
  # The console, like the CLI, talks to the proxy (ACCOUNTS_URL … are its ports).
  start_console
  wait_ready console
  say "ready: 3 Kafka nodes ($KAFKA_BOOTSTRAP_SERVERS), $REPLICAS replicas of each service behind HAProxy:"
  for service in "${SERVICES[@]}"; do
    printf '  %-10s http://127.0.0.1:%s  ->' "$service" "$(port_of "$service")"
    for r in $(seq 1 "$REPLICAS"); do printf ' :%s' "$(replica_port "$service" "$r")"; done
    echo
  done
  say "logs: $LOG_DIR (one per replica, haproxy.log); HAProxy's admin socket: $HAPROXY_DIR/admin.sock"
  say "the operator console: http://127.0.0.1:$CONSOLE_PORT"
  if [ -f "$TOKEN_FILE" ] && [ "$CUTOVER_API_TOKEN" = "$(cat "$TOKEN_FILE")" ]; then
    echo "  export CUTOVER_API_TOKEN=\$(cat $TOKEN_FILE)"
  fi
  if [ "$ACCOUNTS_PORT$BILLING_PORT$ADDRESSES_PORT$SCHEDULER_PORT" != "8001800280038004" ]; then
    echo "  export ACCOUNTS_URL=$ACCOUNTS_URL BILLING_URL=$BILLING_URL"
    echo "  export ADDRESSES_URL=$ADDRESSES_URL SCHEDULER_URL=$SCHEDULER_URL"
  fi
  echo "  uv run cutover status        (the CLI talks to the proxy)"
}

cmd_down_cluster() {
  stop_token_renewer
  # The replicas drain and stop together (each CUTOVER_DRAIN_SECONDS, then its graceful stop).
  local pids=() instance
  for instance in $(cluster_instances); do stop_service "$instance" 30 & pids+=($!); done
  for pid in "${pids[@]}"; do wait "$pid" || true; done
  stop_service console
  stop_service haproxy
  "$REPO_ROOT/infra/kafka-cluster.sh" down
  "$REPO_ROOT/infra/postgres.sh" stop
}

cmd_run_cluster() {
  local tail_pid=""
  trap 'echo; [ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null; cmd_down_cluster; exit 0' INT TERM
  cmd_up_cluster
  say "following the logs; Ctrl-C stops everything"
  local logs=() instance
  for instance in $(cluster_instances); do logs+=("$LOG_DIR/$instance.log"); done
  tail -n 0 -F "${logs[@]}" &
  tail_pid=$!
  wait "$tail_pid" || true
}

cmd_status_cluster() {
  local instance
  for instance in $(cluster_instances) haproxy console; do
    if pid="$(service_pid "$instance")"; then say "$instance running (pid $pid)"; else say "$instance stopped"; fi
  done
  "$REPO_ROOT/infra/kafka-cluster.sh" status || true
  "$REPO_ROOT/infra/postgres.sh" status || true
}

cmd_clean_cluster() {
  cmd_down_cluster
  "$REPO_ROOT/infra/kafka-cluster.sh" clean
  "$REPO_ROOT/infra/postgres.sh" clean
  rm -rf "$CUTOVER_STATE_DIR"
}

replica_of() {  # accounts-2 -> "accounts 2 <port>"
  local service="${1%-*}" r="${1##*-}"
  [[ "$r" =~ ^[0-9]+$ ]] && port="$(replica_port "$service" "$r")" \
    || { say "no replica '$1' (e.g. accounts-2)"; exit 2; }
  echo "$service $r $port"
}

cmd_start_replica() {
  local service r port
  read -r service r port < <(replica_of "$1")
  start_service "$service" "$1" "$port"
  wait_ready "$service" "$1" "$port"
  say "$1 ready on :$port"
}

case "${1:-}" in
  stop-replica) replica_of "${2:?replica, e.g. accounts-2}" >/dev/null; stop_service "$2" 30 ;;
  start-replica) cmd_start_replica "${2:?replica, e.g. accounts-2}" ;;
  up-cluster) cmd_up_cluster ;;
  down-cluster) cmd_down_cluster ;;
  run-cluster) cmd_run_cluster ;;
  status-cluster) cmd_status_cluster ;;
  clean-cluster) cmd_clean_cluster ;;
  up) cmd_up ;;
  down) cmd_down ;;
  run) cmd_run ;;
  status) cmd_status ;;
  clean) cmd_clean ;;
  *) echo "usage: $0 up|run|down|status|clean, or the same with -cluster" >&2; exit 2 ;;
esac

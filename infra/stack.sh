#!/usr/bin/env bash
# The whole local system: PostgreSQL, Kafka, topics, migrations, the four services and the console.
#
#   infra/stack.sh up       start everything in the background (harmless when already up)
#   infra/stack.sh run      up, then follow the logs until Ctrl-C, which stops what it started
#   infra/stack.sh down     stop the services, Kafka and PostgreSQL (data kept)
#   infra/stack.sh clean    down, then remove all local data
#   infra/stack.sh status   what runs
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
export CUTOVER_STATE_DIR="${CUTOVER_STATE_DIR:-$REPO_ROOT/.local/dev}"
export POSTGRES_PORT="${POSTGRES_PORT:-5432}"
export KAFKA_PORT="${KAFKA_PORT:-9092}"
export KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
export KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT"
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

service_pid() {
  local pid_file="$RUN_DIR/$1.pid"
  [ -f "$pid_file" ] || return 1
  local pid; pid="$(cat "$pid_file")"
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

start_service() {
  local service="$1"
  if pid="$(service_pid "$service")"; then
    say "$service already running (pid $pid)"
    return
  fi
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  kafka_env_of "$service"
  # env and nohup exec: $! is the service's own pid.
  env "${KAFKA_ENV[@]}" CUTOVER_SERVICE_TOKEN_FILE="$SERVICE_TOKENS_DIR/$service.jwt" \
    nohup "$PYTHON" -m "cutover_$service" serve >>"$LOG_DIR/$service.log" 2>&1 &
  echo $! >"$RUN_DIR/$service.pid"
}

wait_ready() {
  local service="$1" port deadline
  port="$(port_of "$service")"
  deadline=$((SECONDS + 60))
  until curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; do
    if ! service_pid "$service" >/dev/null; then
      say "$service exited; the end of its log:"; tail -n 30 "$LOG_DIR/$service.log"; exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "$service not ready after 60 s; the end of its log:"; tail -n 30 "$LOG_DIR/$service.log"
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

stop_service() {
  local service="$1" pid
  pid="$(service_pid "$service")" || { rm -f "$RUN_DIR/$service.pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$RUN_DIR/$service.pid"
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

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  run) cmd_run ;;
  status) cmd_status ;;
  clean) cmd_clean ;;
  *) echo "usage: $0 up|run|down|status|clean" >&2; exit 2 ;;
esac

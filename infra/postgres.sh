#!/usr/bin/env bash
# Private PostgreSQL 15 cluster for development and tests: its own data folder, its own port,
# trust authentication on 127.0.0.1 only (TCP only: no unix socket). No Docker needed.
#
#   infra/postgres.sh start|stop|status|clean|createdbs [extra database names...]
#
# Environment (defaults in brackets):
#   CUTOVER_STATE_DIR  state folder [<repo>/.local/dev]; the cluster lives in $CUTOVER_STATE_DIR/pg,
#                      its log in log/postgres.log
#   POSTGRES_PORT      TCP port on 127.0.0.1 [5432]
#   POSTGRES_BIN       PostgreSQL binaries [/usr/lib/postgresql/15/bin]
#   POSTGRES_FALLBACK_ROOT  where the data folder goes when the postgres user cannot reach
#                      the state folder (see below) [/var/tmp/cutover-pg]
#
# Run as root, the server runs as the `postgres` user (initdb and pg_ctl refuse root). That user
# must be able to traverse every folder above the data folder. Folders this script creates get
# o+x; if an existing folder above blocks it (a clone inside a 0700 folder, say), the data folder is
# placed under $POSTGRES_FALLBACK_ROOT instead and $CUTOVER_STATE_DIR/pg becomes a symlink to it.
#
# `start` also creates the service databases (accounts billing addresses scheduler) when missing.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE_DIR="${CUTOVER_STATE_DIR:-$REPO_ROOT/.local/dev}"
POSTGRES_PORT="${POSTGRES_PORT:-5432}"
POSTGRES_BIN="${POSTGRES_BIN:-/usr/lib/postgresql/15/bin}"
POSTGRES_FALLBACK_ROOT="${POSTGRES_FALLBACK_ROOT:-/var/tmp/cutover-pg}"
DEFAULT_DATABASES=(accounts billing addresses scheduler)

PG_LINK="$STATE_DIR/pg"
LOG_FILE="$STATE_DIR/log/postgres.log"

say() { echo "postgres.sh: $*"; }
die() { echo "postgres.sh: $*" >&2; exit 1; }

[ -x "$POSTGRES_BIN/pg_ctl" ] || die "no pg_ctl in POSTGRES_BIN=$POSTGRES_BIN (PostgreSQL 15 server binaries)"
[[ "$POSTGRES_PORT" =~ ^[0-9]+$ ]] || die "POSTGRES_PORT must be a number, not '$POSTGRES_PORT'"

if [ "$(id -u)" -eq 0 ]; then
  AS_ROOT=1
  id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user (apt-get install postgresql-15)"
  as_pg() { runuser -u postgres -- "$@"; }
else
  AS_ROOT=0
  as_pg() { "$@"; }
fi

# Can the server's user reach (traverse) this folder?
pg_can_reach() {
  if [ "$AS_ROOT" -eq 1 ]; then runuser -u postgres -- test -x "$1" 2>/dev/null; else test -x "$1"; fi
}

# Creates the state folders; gives o+x to the ones this call created.
make_state_dirs() {
  local d="$STATE_DIR" created=()
  while [ ! -e "$d" ]; do
    created+=("$d")
    d="$(dirname "$d")"
  done
  mkdir -p "$STATE_DIR/log" "$STATE_DIR/run"
  if [ "$AS_ROOT" -eq 1 ] && [ "${#created[@]}" -gt 0 ]; then
    chmod o+x "${created[@]}"
  fi
}

# The folder the server really uses (the symlink's target when relocated).
data_dir() {
  if [ -L "$PG_LINK" ]; then readlink -f "$PG_LINK"; else echo "$PG_LINK"; fi
}

# Decides where the data folder lives on first use; prints its path.
prepare_data_dir() {
  if [ -e "$PG_LINK" ] || [ -L "$PG_LINK" ]; then
    local real
    real="$(data_dir)"
    pg_can_reach "$real" || die "the postgres user cannot reach $real: give it o+x on each folder above (or run '$0 clean')"
    echo "$real"
    return 0
  fi
  if pg_can_reach "$STATE_DIR"; then
    echo "$PG_LINK"
    return 0
  fi
  # An existing folder above the state folder is closed to the postgres user.
  local blocked="" d="$STATE_DIR"
  while [ "$d" != "/" ]; do
    pg_can_reach "$d" || blocked="$d"
    d="$(dirname "$d")"
  done
  local real
  real="$POSTGRES_FALLBACK_ROOT/$(printf '%s' "$STATE_DIR" | sha256sum | cut -c1-16)"
  say "the postgres user cannot traverse ${blocked:-a folder above $STATE_DIR}; keeping the data in $real (symlinked from $PG_LINK)" >&2
  mkdir -p "$POSTGRES_FALLBACK_ROOT"
  chmod 755 "$POSTGRES_FALLBACK_ROOT"
  pg_can_reach "$POSTGRES_FALLBACK_ROOT" || die "the postgres user cannot reach $POSTGRES_FALLBACK_ROOT either: set CUTOVER_STATE_DIR to a folder it can traverse"
  mkdir -p "$real"
  ln -sfn "$real" "$PG_LINK"
  echo "$real"
}

is_running() {
  [ -f "$1/postmaster.pid" ] || return 1
  as_pg "$POSTGRES_BIN/pg_ctl" -D "$1" status >/dev/null 2>&1
}

running_port() { sed -n 4p "$1/postmaster.pid" 2>/dev/null; }

port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

pg_ready() {
  "$POSTGRES_BIN/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres -d postgres -t "${1:-5}"
}

init_cluster() {
  local pgdata="$1"
  [ -f "$pgdata/PG_VERSION" ] && return 0
  say "initialising a cluster in $pgdata"
  mkdir -p "$pgdata"
  if [ "$AS_ROOT" -eq 1 ]; then chown postgres:postgres "$pgdata"; fi
  chmod 700 "$pgdata"
  if ! as_pg "$POSTGRES_BIN/initdb" -D "$pgdata" --auth=trust --username=postgres -E UTF8 \
       --locale=C.UTF-8 --no-sync >>"$LOG_FILE" 2>&1 </dev/null; then
    tail -n 30 "$LOG_FILE" >&2
    die "initdb failed (see $LOG_FILE)"
  fi
  echo "include_if_exists = 'cutover.conf'" >>"$pgdata/postgresql.conf"
}

write_config() {
  local pgdata="$1"
  cat >"$pgdata/cutover.conf" <<EOF
# Written by infra/postgres.sh on every start: edit the script, not this file.
listen_addresses = '127.0.0.1'
port = $POSTGRES_PORT
unix_socket_directories = ''
max_connections = 300
shared_buffers = 256MB
synchronous_commit = on
fsync = on
max_wal_size = 1GB
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
EOF
  if [ "$AS_ROOT" -eq 1 ]; then chown postgres:postgres "$pgdata/cutover.conf"; fi
  chmod 600 "$pgdata/cutover.conf"
}

cmd_start() {
  make_state_dirs
  local pgdata
  pgdata="$(prepare_data_dir)"
  if is_running "$pgdata"; then
    local port
    port="$(running_port "$pgdata")"
    say "already running (port ${port:-?}, data $pgdata)"
    [ "$port" = "$POSTGRES_PORT" ] || say "warning: it listens on port $port, not POSTGRES_PORT=$POSTGRES_PORT" >&2
    POSTGRES_PORT="$port"
    create_databases "${DEFAULT_DATABASES[@]}"
    return 0
  fi
  if port_open "$POSTGRES_PORT"; then
    die "port $POSTGRES_PORT on 127.0.0.1 is already in use by another process; set POSTGRES_PORT"
  fi
  init_cluster "$pgdata"
  write_config "$pgdata"
  echo "----- $(date '+%F %T') postgres.sh start (port $POSTGRES_PORT) -----" >>"$LOG_FILE"
  # The server inherits pg_ctl's output: the log file, opened here (by root when root), so the
  # postgres user needs no access to the log folder, and no caller's pipe is held open.
  if ! as_pg "$POSTGRES_BIN/pg_ctl" -D "$pgdata" -w -t 60 start >>"$LOG_FILE" 2>&1 </dev/null; then
    echo "----- tail of $LOG_FILE -----" >&2
    tail -n 30 "$LOG_FILE" >&2
    die "PostgreSQL did not start"
  fi
  local i
  for i in $(seq 1 60); do
    pg_ready 1 && break
    [ "$i" -eq 60 ] && { tail -n 30 "$LOG_FILE" >&2; die "PostgreSQL does not answer on 127.0.0.1:$POSTGRES_PORT"; }
    sleep 0.5
  done
  say "started on 127.0.0.1:$POSTGRES_PORT (data $pgdata)"
  create_databases "${DEFAULT_DATABASES[@]}"
}

psql_cmd() {
  PGCONNECT_TIMEOUT=10 "$POSTGRES_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres -d postgres "$@"
}

create_databases() {
  local name made=()
  for name in "$@"; do
    [[ "$name" =~ ^[a-z_][a-z0-9_]*$ ]] || die "bad database name '$name' (lower case letters, digits, _)"
    if [ -z "$(psql_cmd -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'")" ]; then
      psql_cmd -c "CREATE DATABASE \"$name\""
      made+=("$name")
    fi
  done
  if [ "${#made[@]}" -gt 0 ]; then say "created databases: ${made[*]}"; fi
}

cmd_createdbs() {
  local pgdata
  pgdata="$(data_dir)"
  if is_running "$pgdata"; then
    POSTGRES_PORT="$(running_port "$pgdata")"
  elif ! pg_ready 1; then
    die "PostgreSQL is not running (state $STATE_DIR): run '$0 start' first"
  fi
  create_databases "${DEFAULT_DATABASES[@]}" "$@"
  say "databases present: $(psql_cmd -tAc "SELECT string_agg(datname, ' ' ORDER BY datname) FROM pg_database WHERE NOT datistemplate")"
}

cmd_stop() {
  local pgdata
  pgdata="$(data_dir)"
  if ! is_running "$pgdata"; then
    say "not running (state $STATE_DIR)"
    return 0
  fi
  if ! as_pg "$POSTGRES_BIN/pg_ctl" -D "$pgdata" -m fast -w -t 60 stop >>"$LOG_FILE" 2>&1 </dev/null; then
    tail -n 20 "$LOG_FILE" >&2
    die "pg_ctl stop failed"
  fi
  say "stopped (data $pgdata)"
}

cmd_status() {
  local pgdata
  pgdata="$(data_dir)"
  if is_running "$pgdata"; then
    local port
    port="$(running_port "$pgdata")"
    POSTGRES_PORT="$port"
    if pg_ready 2; then
      say "running (127.0.0.1:$port, data $pgdata)"
    else
      say "server process alive but not accepting connections on 127.0.0.1:$port (data $pgdata)"
    fi
    return 0
  fi
  say "not running (state $STATE_DIR)"
  return 3
}

cmd_clean() {
  cmd_stop
  local pgdata
  pgdata="$(data_dir)"
  rm -rf "$pgdata" "$LOG_FILE"
  if [ -L "$PG_LINK" ]; then rm -f "$PG_LINK"; fi
  say "removed PostgreSQL data ($pgdata)"
}

cmd="${1:-}"
[ "$#" -gt 0 ] && shift
case "$cmd" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  clean) cmd_clean ;;
  createdbs) cmd_createdbs "$@" ;;
  *) echo "usage: $0 start|stop|status|clean|createdbs [extra database names...]" >&2; exit 2 ;;
esac

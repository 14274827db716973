#!/usr/bin/env bash
# Schemathesis' own command line, every check, against each service of a running stack (`make up`
# first): the OpenAPI documents must tell the whole truth, since internal services generate their
# clients from them. The exceptions the contract asks for are in schemathesis.toml, each with its
# reason. Prints one line a service (requests generated, failures) and fails when any failed.
#
# Environment: the stack's own (CUTOVER_STATE_DIR, ACCOUNTS_PORT … SCHEDULER_PORT, as for
# `make up`); CONFORMANCE_EXAMPLES [25] examples an operation a phase; the full reports go to
# $CUTOVER_STATE_DIR/conformance/<service>.txt.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO_ROOT"  # st reads schemathesis.toml from here
STATE_DIR="${CUTOVER_STATE_DIR:-$REPO_ROOT/.local/dev}"
EXAMPLES="${CONFORMANCE_EXAMPLES:-25}"
TOKEN_FILE="$STATE_DIR/api-token"
[ -r "$TOKEN_FILE" ] || { echo "api-conformance: no $TOKEN_FILE; start the stack (make up)" >&2; exit 2; }
# The break-glass token: every scope, and the high rate limit `make up` gives it.
TOKEN="$(cat "$TOKEN_FILE")"
OUT="$STATE_DIR/conformance"
mkdir -p "$OUT"

failed=0
for pair in "accounts:${ACCOUNTS_PORT:-8001}" "billing:${BILLING_PORT:-8002}" \
  "addresses:${ADDRESSES_PORT:-8003}" "scheduler:${SCHEDULER_PORT:-8004}"; do
  service="${pair%%:*}" port="${pair##*:}"
  status=0
  .venv/bin/st run "http://127.0.0.1:$port/openapi.json" --checks all --no-color \
    -H "Authorization: Bearer $TOKEN" --max-examples "$EXAMPLES" >"$OUT/$service.txt" 2>&1 || status=$?
  generated="$(grep -Eo '[0-9]+ generated' "$OUT/$service.txt" | tail -1 || true)"
  failures="$(grep -Eo '[0-9]+ failures?' "$OUT/$service.txt" | tail -1 || true)"
  echo "api-conformance: $service: ${generated:-? generated}, ${failures:-0 failures} (exit $status; $OUT/$service.txt)"
  [ "$status" -eq 0 ] || failed=1
done
exit "$failed"

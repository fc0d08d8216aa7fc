#!/usr/bin/env bash
# `make test`: every test. Starts its own moto and cargo lambda watch on free ports (so a
# running `make dev` is left alone), runs the whole suite, and stops what it started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

WORK="$(mktemp -d)"
trap 'stop_services; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

ensure_venv
log "building (functions, tokenctl and tests)"
cargo build --workspace --all-targets

MOTO_PORT="$(free_port)"
WATCH_PORT="$(free_port)"
# Durable logout retries come due after seconds, not minutes, so the tests can watch them.
export EXTRA_ENV="LOGOUT_RETRY_BASE_SECONDS=1"
write_env_file "$WORK/main.env" "$MOTO_PORT" "$WATCH_PORT" "tokens-e2e" "$WORK/keys.json"
load_env_file "$WORK/main.env"

# start_stack NAME MOTO_PORT WATCH_PORT: moto, the table and cargo lambda watch.
start_stack() {
  local name="$1" moto_port="$2" watch_port="$3"
  write_env_file "$WORK/$name.env" "$moto_port" "$watch_port" "tokens-e2e" "$WORK/keys.json"
  start_moto "$moto_port" "$WORK/$name-moto.log"
  ( load_env_file "$WORK/$name.env"; target/debug/tokenctl table create )
  start_watch "$watch_port" "$WORK/$name.env" "$WORK/$name-watch.log" --ignore-changes --disable-cors
  # The first request to a function starts it; wait until the stack answers.
  wait_http "http://127.0.0.1:$watch_port/.well-known/jwks.json" 600 200 \
    || { tail -50 "$WORK/$name-watch.log"; exit 1; }
}

target/debug/tokenctl keys generate
start_stack main "$MOTO_PORT" "$WATCH_PORT"
# A second stack whose DynamoDB the outage tests stop on purpose.
OUTAGE_MOTO_PORT="$(free_port)"
OUTAGE_WATCH_PORT="$(free_port)"
start_stack outage "$OUTAGE_MOTO_PORT" "$OUTAGE_WATCH_PORT"
export OUTAGE_MOTO_PGID="${SERVICE_PIDS[2]}"
export OUTAGE_BASE_URL="http://127.0.0.1:$OUTAGE_WATCH_PORT"
export OUTAGE_DYNAMODB_ENDPOINT="http://127.0.0.1:$OUTAGE_MOTO_PORT"

# The race tests drive the shared code in-process with hundreds of concurrent requests;
# their own moto keeps that load away from the end-to-end stacks.
RACE_MOTO_PORT="$(free_port)"
start_moto "$RACE_MOTO_PORT" "$WORK/race-moto.log"
( load_env_file "$WORK/main.env"; DYNAMODB_ENDPOINT="http://127.0.0.1:$RACE_MOTO_PORT" target/debug/tokenctl table create )
export RACE_DYNAMODB_ENDPOINT="http://127.0.0.1:$RACE_MOTO_PORT"

export E2E_BASE_URL="http://127.0.0.1:$WATCH_PORT"
export PYTHON="$PY"
export TOKENCTL="$ROOT/target/debug/tokenctl"
log "running the tests"
status=0
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@" || status=$?
else
  cargo test --workspace --no-fail-fast "$@" || status=$?
fi
if [[ $status -ne 0 ]]; then
  log "function logs (last 80 lines)"; tail -80 "$WORK/main-watch.log" >&2
fi
exit $status

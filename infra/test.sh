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
write_env_file "$WORK/test.env" "$MOTO_PORT" "$WATCH_PORT" "tokens-e2e" "$WORK/keys.json"
load_env_file "$WORK/test.env"

start_moto "$MOTO_PORT" "$WORK/moto.log"
target/debug/tokenctl table create
target/debug/tokenctl keys generate
start_watch "$WATCH_PORT" "$WORK/test.env" "$WORK/watch.log" --ignore-changes --disable-cors
# The first request to each function starts it; wait until both answer.
wait_http "http://127.0.0.1:$WATCH_PORT/.well-known/jwks.json" 600 200 \
  || { tail -50 "$WORK/watch.log"; exit 1; }
wait_http "http://127.0.0.1:$WATCH_PORT/oauth2/token" 600 || { tail -50 "$WORK/watch.log"; exit 1; }

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
  log "function logs (last 80 lines)"; tail -80 "$WORK/watch.log" >&2
fi
exit $status

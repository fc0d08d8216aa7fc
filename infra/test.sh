#!/usr/bin/env bash
# `make test`: every test. Starts its own stacks on free ports (so a running `make dev`
# is left alone), runs the whole suite, and stops what it started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

WORK="$(mktemp -d)"
trap 'stop_services; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

ensure_venv
# The browser sign-in tests drive Debian's chromium (tests/tests/browser_signin.rs).
ensure_browser
export CHROMIUM
# The DPoP peer tests drive oauth4webapi on Node.js (tests/peers/node/dpop_peer.mjs).
ensure_node_peers
log "building the tests, then the functions and tokenctl"
cargo build --workspace --tests --benches --examples
build_functions

# Durable logout retries come due after seconds, not minutes, so the tests can watch them.
export EXTRA_ENV="LOGOUT_RETRY_BASE_SECONDS=1"
KEYS="$WORK/keys.json"
start_stack main "$WORK" "$(free_port)" "$(free_port)" tokens "$KEYS" --ignore-changes --disable-cors
# A second stack whose DynamoDB the outage tests stop on purpose.
start_stack outage "$WORK" "$(free_port)" "$(free_port)" tokens "$KEYS" --ignore-changes --disable-cors
# The race tests drive the shared code in-process with hundreds of concurrent requests;
# their own moto keeps that load away from the end-to-end stacks.
start_stack race "$WORK" "$(free_port)" - tokens "$KEYS"

# What the tests read (tests/src/env.rs): the main stack's environment, and where the
# other two are.
stack_value() { ( load_env_file "$WORK/$1.env"; echo "${!2}" ); }
load_env_file "$WORK/main.env"
export E2E_BASE_URL="$ISSUER"
export E2E_FUNCTION_LOG="$WORK/main-watch.log"
export OUTAGE_BASE_URL="$(stack_value outage ISSUER)"
export OUTAGE_DYNAMODB_ENDPOINT="$(stack_value outage DYNAMODB_ENDPOINT)"
export OUTAGE_MOTO_PGID="$(service_pid outage-moto)"
export RACE_DYNAMODB_ENDPOINT="$(stack_value race DYNAMODB_ENDPOINT)"
export PYTHON="$PY" TOKENCTL

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
# Each benchmark once, as a test: a benchmark that no longer runs fails the suite
# (the measurements themselves are `make bench`'s).
if [[ $# -eq 0 ]]; then
  log "running each benchmark once"
  # --workspace: the features of the build above, so nothing is compiled again.
  cargo test --workspace --bench operations --bench logout_fanout --bench guard || status=$?
fi
exit $status

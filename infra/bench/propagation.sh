#!/usr/bin/env bash
# Revocation propagation to a resource server behind the guard (docs/BENCHMARKS.md): a
# local stack, the example API (shared/guard/examples/hello_api.rs) polling the feed every
# second, and TRIALS trials of each kind of revocation, from the revoking call's answer to
# the API's first 401.
# Usage: infra/bench/propagation.sh [TRIALS]
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
TRIALS="${1:-50}"
WORK="$(mktemp -d)"
trap 'stop_services; rm -rf "$WORK"' EXIT

ensure_venv
build_functions
# Debug builds, like the functions under cargo lambda watch: the figure is the poll
# interval plus a few milliseconds of requests, not CPU.
cargo build -q -p bench --bin bench-propagation
cargo build -q -p guard --example hello_api

WATCH_PORT="$(free_port)"
start_stack prop "$WORK" "$(free_port)" "$WATCH_PORT" tokens-prop "$WORK/keys.json" --ignore-changes --disable-cors
load_env_file "$WORK/prop.env"
SECRET="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(32))')"
"$TOKENCTL" client add example-api --secret="$SECRET" --introspect >/dev/null

API_PORT="$(free_port)"
export EXAMPLE_API_CLIENT_ID=example-api EXAMPLE_API_CLIENT_SECRET="$SECRET" EXAMPLE_API_PORT="$API_PORT" \
  POLL_INTERVAL_MS=1000 RUST_LOG=warn
start_service example-api "$WORK/example-api.log" target/debug/examples/hello_api
wait_http "http://127.0.0.1:$API_PORT/hello" 120 401 || { tail -20 "$WORK/example-api.log" >&2; exit 1; }

log "propagation: $TRIALS trials per kind, poll interval 1 s"
EXAMPLE_API_URL="http://127.0.0.1:$API_PORT" target/debug/bench-propagation "$TRIALS"

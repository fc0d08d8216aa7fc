#!/usr/bin/env bash
# End-to-end load on loopback: the same wrk load against
#   ours/memory      the shared handlers served directly, in-memory store (no DynamoDB)
#   ours/moto        the same, with the DynamoDB store on a local moto
#   ours/watch       the local stack: cargo lambda watch (release build) + moto
#   oidc-provider    node oidc-provider with its in-memory adapter
# Usage: infra/bench/load.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
SECONDS_PER_RUN="${1:-8}"
CONNECTIONS="${2:-8}"
CLIENT=bench-client
SECRET=bench-client-secret-0123456789abcdef
WORK="$(mktemp -d)"
trap 'stop_services; rm -rf "$WORK"' EXIT

ensure_venv
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
( cd infra/bench/oidc-provider && [[ -d node_modules ]] || npm install --silent --no-audit --no-fund )
cargo build --release -p bench
cargo build --release -p issue -p introspect -p revoke   # apart: bench-serve enables test support
cargo build -p tokenctl

WATCH_PORT="$(free_port)"
start_stack load "$WORK" "$(free_port)" "$WATCH_PORT" tokens-load "$WORK/keys.json" \
  --release --ignore-changes --disable-cors --concurrency 2
load_env_file "$WORK/load.env"
"$TOKENCTL" client add "$CLIENT" --secret "$SECRET" --grant client_credentials --scope read \
  --introspect --audience https://api.example.com >/dev/null

MEMORY_PORT="$(free_port)"; DYNAMO_PORT="$(free_port)"; NODE_PORT="$(free_port)"
start_service "bench-serve (memory)" "$WORK/memory.log" target/release/bench-serve memory "$MEMORY_PORT" "$CLIENT" "$SECRET"
start_service "bench-serve (moto)" "$WORK/dynamo.log" target/release/bench-serve dynamodb "$DYNAMO_PORT" "$CLIENT" "$SECRET"
start_service "oidc-provider" "$WORK/node.log" node infra/bench/oidc-provider/server.mjs "$NODE_PORT" "$CLIENT" "$SECRET"
for port in "$MEMORY_PORT" "$DYNAMO_PORT" "$NODE_PORT"; do wait_http "http://127.0.0.1:$port/" 60; done

log "wrk: ${SECONDS_PER_RUN}s per run, $CONNECTIONS connections, 1 thread"
"$PY" infra/bench/load.py "$SECONDS_PER_RUN" "$CONNECTIONS" "$CLIENT" "$SECRET" \
  "ours/memory=http://127.0.0.1:$MEMORY_PORT:ours" \
  "ours/moto=http://127.0.0.1:$DYNAMO_PORT:ours" \
  "ours/watch=http://127.0.0.1:$WATCH_PORT:ours" \
  "oidc-provider=http://127.0.0.1:$NODE_PORT:oidc-provider"

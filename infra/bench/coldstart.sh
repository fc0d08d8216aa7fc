#!/usr/bin/env bash
# Cold start of every function's release binary (x86_64 here; Lambda runs arm64), with a
# local moto as the store. Usage: infra/bench/coldstart.sh [ROUNDS]
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
ROUNDS="${1:-5}"
WORK="$(mktemp -d)"
trap 'stop_services; rm -rf "$WORK"' EXIT
ensure_venv
cargo build --release -p issue -p refresh -p revoke -p introspect -p userinfo -p authorizer -p discovery \
  -p logout -p logout-retry
cargo build -p tokenctl
MOTO_PORT="$(free_port)"
write_env_file "$WORK/bench.env" "$MOTO_PORT" 9 "tokens-bench" "$WORK/keys.json"
load_env_file "$WORK/bench.env"
start_moto "$MOTO_PORT" "$WORK/moto.log"
target/debug/tokenctl table create >/dev/null
target/debug/tokenctl keys generate >/dev/null
"$PY" infra/bench/coldstart.py target/release "$WORK/bench.env" "$ROUNDS"

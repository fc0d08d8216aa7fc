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
start_stack bench "$WORK" "$(free_port)" - tokens-bench "$WORK/keys.json"
"$PY" infra/bench/coldstart.py target/release "$WORK/bench.env" "$ROUNDS"

#!/usr/bin/env bash
# `make build`: sam build of every function for arm64 (provided.al2023), cross-compiled
# with cargo lambda and zig from the project's venv. Prints the time and each size.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
  || rustup target add aarch64-unknown-linux-gnu
# cargo lambda looks for `zig` on PATH; the ziglang wheel ships the binary.
ZIG="$("$PY" -c 'import ziglang, os; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')"
ln -sf "$ZIG" "$VENV/bin/zig"
export PATH="$VENV/bin:$PATH" SAM_CLI_TELEMETRY=0
started=$(date +%s)
sam build "$@"
took=$(( $(date +%s) - started ))
log "sam build took ${took}s; bootstrap sizes:"
for f in .aws-sam/build/*/bootstrap; do
  printf '  %-28s %8d KiB  %s\n' "$(basename "$(dirname "$f")")" "$(( $(stat -c %s "$f") / 1024 ))" "$(file -b "$f" | cut -d, -f1-2)"
done

#!/usr/bin/env bash
# `make fuzz`: every parser fuzz target of shared/tests/fuzz.rs (GitHub issue #10) with
# FUZZ_CASES cases each (default 1,000,000), optimised, one target at a time so that each
# one's seconds are its own; then the fault-injection properties of
# shared/tests/fault_properties.rs with FAULT_CASES schedules (default 1,000); a table of
# target, cases and seconds, also written to target/fuzz-report.md. FUZZ_SEED (64 hex
# digits) replays a parser run.
#
# Profile `fuzz` (Cargo.toml): release optimisation without LTO (the test binary builds in
# minutes), with overflow checks and debug assertions on, so arithmetic that would wrap
# silently in a release build fails the target instead.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

export FUZZ_CASES="${FUZZ_CASES:-1000000}"
export FAULT_CASES="${FAULT_CASES:-1000}"
REPORT=target/fuzz-report.md
RAW="$(mktemp)"
trap 'rm -f "$RAW"' EXIT
cargo_args=(--profile fuzz -p shared --features testing --test fuzz)

log "building the fuzz targets (profile fuzz)"
build_started=$SECONDS
cargo test "${cargo_args[@]}" --no-run
cargo test --profile fuzz -p shared --features testing --test fault_properties --no-run
build_seconds=$((SECONDS - build_started))

log "running every target with $FUZZ_CASES cases"
run_started=$SECONDS
status=0
cargo test "${cargo_args[@]}" -- --nocapture --test-threads=1 | tee "$RAW" || status=$?
log "fault-injection properties with $FAULT_CASES schedules"
cargo test --profile fuzz -p shared --features testing --test fault_properties -- --nocapture | tee -a "$RAW" \
  || status=$?
run_seconds=$((SECONDS - run_started))

mkdir -p target
{
  echo "# Fuzz report"
  echo
  echo "Date: $(date -u +%Y-%m-%dT%H:%M:%SZ). Machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'); $(rustc --version)."
  echo "Command: \`FUZZ_CASES=$FUZZ_CASES cargo test ${cargo_args[*]} -- --nocapture --test-threads=1\`."
  echo
  echo "| target | cases | seconds | reached |"
  echo "| --- | ---: | ---: | --- |"
  # The harness prints `test <name> ... ` before the target's own line.
  grep -o 'fuzz-result.*' "$RAW" | awk -F'\t' '{ printf "| %s | %d | %s | %s |\n", $2, $3, $4, $5 }' || true
  echo
  grep -o 'fault schedules: .*' "$RAW" || true
  echo
  echo "Build ${build_seconds} s; all targets ${run_seconds} s wall time."
} | tee "$REPORT" >&2
if [[ $status -ne 0 ]]; then
  log "a target failed (above: its minimal input and the FUZZ_SEED that replays it)"
fi
exit $status

#!/usr/bin/env bash
# `make bench`: every benchmark of docs/BENCHMARKS.md, with the report written to
# target/bench-report.md (machine, date, commands, raw output).
set -euo pipefail
cd "$(dirname "$0")/../.."
REPORT=target/bench-report.md
mkdir -p target
{
  echo "# Benchmark report"
  echo
  echo "Date: $(date -u +%Y-%m-%dT%H:%M:%SZ). Machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/Mem:/{print $2}') GiB; $(rustc --version)."
  echo
  echo '## CPU per operation: `cargo bench -p shared --features testing --bench operations`'
  echo '```'
  cargo bench -p shared --features testing --bench operations 2>/dev/null | grep -E "^[A-Za-z0-9]+/|time:" || true
  echo '```'
  echo
  echo '## Logout fan-out: `cargo bench -p shared --features testing --bench logout_fanout`'
  cargo bench -p shared --features testing --bench logout_fanout 2>/dev/null | tail -1
  echo
  echo '## Guard check against raw verification: `cargo bench -p guard --bench guard`'
  echo '```'
  cargo bench -p guard --bench guard 2>/dev/null | grep -E "^[A-Za-z0-9]+/|time:" || true
  echo '```'
  echo
  echo '## Revocation propagation to the example API: `infra/bench/propagation.sh 50`'
  bash infra/bench/propagation.sh 50 2>/dev/null | grep '^|'
  echo
  echo '## Cold start: `infra/bench/coldstart.sh 7`'
  bash infra/bench/coldstart.sh 7 2>/dev/null | grep '^|'
  echo
  echo '## Load on loopback: `infra/bench/load.sh 8 8`'
  bash infra/bench/load.sh 8 8 2>/dev/null | grep '^|'
} | tee "$REPORT"
echo "report: $REPORT"

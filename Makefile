# The two commands of the README contract, plus helpers.
.PHONY: dev test build check-template bench fuzz fmt lint cost-table example-api

## The whole stack locally: moto, table, keys, demo client and user, cargo lambda watch.
dev:
	@bash infra/dev.sh

## The guard's example API on 127.0.0.1:9100 (EXAMPLE_API_PORT), a resource server in
## front of a running `make dev`: it verifies tokens locally and refuses revoked ones.
example-api:
	@bash infra/example-api.sh

## Every test: unit, store behaviour against moto, end to end through cargo lambda watch.
test:
	@bash infra/test.sh

## sam build: every function for arm64, with the time and each bootstrap's size.
build:
	@bash infra/build.sh

## cfn-lint and sam validate --lint of template.yaml (offline).
check-template:
	@bash infra/check-template.sh

## Every benchmark of docs/BENCHMARKS.md; the report goes to target/bench-report.md.
bench:
	@bash infra/bench/run-all.sh

## Every parser fuzz target, 1,000,000 cases each (FUZZ_CASES), optimised; the table goes
## to target/fuzz-report.md. `make test` runs the same targets with a short budget.
fuzz:
	@bash infra/fuzz.sh

## Regenerate the cost table of docs/deployment.md from the metered store calls.
cost-table:
	COST_TABLE_WRITE=1 cargo test -p tests --test cost_table

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

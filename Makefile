# The two commands of the README contract, plus helpers.
.PHONY: dev test build-local fmt lint

## The whole stack locally: moto, table, keys, demo client and user, cargo lambda watch.
dev:
	@bash infra/dev.sh

## Every test: unit, store behaviour against moto, end to end through cargo lambda watch.
test:
	@bash infra/test.sh

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# The two commands of the README: `make run` and `make test`.
SHELL := /bin/bash
export PATH := $(CURDIR)/.tools/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
# A one-off build (CI) gains nothing from incremental state but disk use.
ifdef CI
export CARGO_INCREMENTAL := 0
endif

.PHONY: run test tools test-tools build lint unit e2e bench bench-instructions bench-analytics bench-audit load screenshots

## Build in release mode and serve the portal with demo data on http://127.0.0.1:3000,
## its mail caught by maildev at http://127.0.0.1:1080
run: tools build
	scripts/run-demo.sh

## Every check CI runs: format, lint, unit + integration tests (SQLite and PostgreSQL), Playwright
test: tools test-tools lint unit build e2e

tools:
	@scripts/install-tools.sh

test-tools:
	@scripts/install-test-tools.sh

build:
	cargo leptos build --release

lint:
	cargo fmt --all --check
	leptosfmt --check --quiet app/src frontend/src
	cargo clippy --all-targets --locked -- -D warnings
	cargo clippy -p frontend --target wasm32-unknown-unknown --locked -- -D warnings

unit:
	timeout 1800 scripts/with-postgres.sh cargo test --locked

e2e:
	@printf '==> Playwright in %s\n' "$$($${CHROMIUM_PATH:-/usr/bin/chromium} --version 2>/dev/null)"
	cd end2end && npx playwright test

## Token endpoint throughput (tokens/s, 64 connections) with and without metering, then PostgreSQL with two instances
bench: tools build
	scripts/bench-tokens.sh

## Instructions per token request, or per page render with PAGE=/path (callgrind): compares builds in one repeatable number
bench-instructions: tools build
	scripts/bench-instructions.sh

## /analytics render time (1,000 agents; 10M vs 10k events) and chart JS+wasm bytes
bench-analytics: tools build
	scripts/bench-analytics.sh

## Every page: bytes, requests/s and latency at 16 and 64 connections, Chromium timings, RSS; then the same Analytics page in Next.js + recharts
bench-pages: tools test-tools build
	scripts/bench-pages.sh

## The audit trail with 1 million entries: page, deep page, filters, CSV (p50/p90)
bench-audit: tools build
	scripts/bench-audit.sh

## 60 s at 128 connections of mixed traffic, SQLite and PostgreSQL (2 instances): no errors, usage exact
load: tools build
	scripts/load-mixed.sh

## The README's pictures of every page, light and dark, from the demo data (docs/screenshots/)
screenshots: tools test-tools build
	cd end2end && npx playwright test -c playwright.screenshots.config.ts

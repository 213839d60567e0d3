#!/usr/bin/env bash
# Starts the release-built portal on a fresh SQLite database with demo data,
# on the port given as $1. Playwright's webServer runs one per test server.
set -euo pipefail
cd "$(dirname "$0")/.."
port=$1
dir=$(mktemp -d "${TMPDIR:-/tmp}/portal-e2e.XXXXXX")
trap 'rm -rf "$dir"' EXIT
export DATABASE_URL="sqlite://$dir/portal.db"
export LEPTOS_SITE_ADDR="127.0.0.1:$port"
export LEPTOS_SITE_ROOT=target/site
export RUST_LOG=${RUST_LOG:-warn}
./target/release/portal serve --demo

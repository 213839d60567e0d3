#!/usr/bin/env bash
# Runs a command beside a throw-away PostgreSQL 15 cluster: initialised in a
# temp dir, listening on a free loopback port, stopped and deleted on exit.
# The command finds it in PORTAL_TEST_PG_URL (a superuser URL).
# PG_DURABLE=1 keeps PostgreSQL's durable defaults (fsync, synchronous
# commit), as a deployment runs it: benchmarks use it. Without it the
# cluster skips fsync, for the test suite's speed only.
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

dir=$(mktemp -d /tmp/portal-pg.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg() {
  # initdb and postgres refuse to run as root.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" = 0 ] && chown postgres "$dir"

cleanup() {
  as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 >/dev/null
durability="-c fsync=off"
[ "${PG_DURABLE:-0}" = 1 ] && durability="-c fsync=on -c synchronous_commit=on"
as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 $durability -c max_connections=300" start >/dev/null
echo "==> PostgreSQL 15 test cluster on 127.0.0.1:$port ($durability)"

export PORTAL_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
export PORTAL_TEST_REQUIRE_PG=1
"$@"

#!/usr/bin/env bash
# Token endpoint throughput on loopback: wrk with 64 connections against the
# release binary on a fresh SQLite database, once with metering and limit
# enforcement (the real configuration) and once without (the baseline), then
# prints tokens/s for both and what metering costs. Also checks that every
# token served was counted. Then the same on PostgreSQL with two instances
# (POSTGRES=0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-./target/release/portal}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}

. scripts/lib/bench.sh
need_bin
need_wrk

# Servers started, stopped on any exit: a run that fails half-way (a server
# that does not start, wrk missing) leaves none behind to skew the next.
started=()
trap 'for p in "${started[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

# bench_tenant DIR: an enterprise tenant with one agent in $DATABASE_URL, and
# DIR/token.lua, wrk's script asking a token for that agent.
bench_tenant() {
  "$BIN" tenant create --name Bench --tier enterprise >/dev/null 2>&1
  eval "$("$BIN" agent create --tenant Bench --name bench --capabilities bench:run --owner bench 2>/dev/null)"
  token_lua "$1/token.lua"
}

# run LABEL [serve flags...] -> prints "LABEL tokens/s"
run() {
  local label=$1; shift
  local dir port pid
  dir=$(mktemp -d /tmp/portal-bench.XXXXXX)
  export DATABASE_URL="sqlite://$dir/bench.db" RUST_LOG=error
  bench_tenant "$dir"
  serve_portal "$dir/server.log" "$@"
  pid=$PORTAL_PID port=$PORTAL_PORT
  started+=("$pid")
  wrk -t"${WRK_THREADS:-1}" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$dir/token.lua" "http://127.0.0.1:$port/api/v1/token" >"$dir/wrk.txt"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local rps total errors counted
  rps=$(awk '/^Requests\/sec/ { print $2 }' "$dir/wrk.txt")
  total=$(awk '/requests in/ { print $1 }' "$dir/wrk.txt")
  errors=$(awk '/Non-2xx/ { print $5 }' "$dir/wrk.txt"); errors=${errors:-0}
  counted=$(python3 -c "import sqlite3,sys; c=sqlite3.connect('$dir/bench.db'); print(c.execute('select coalesce(sum(tokens_issued),0) from usage_daily').fetchone()[0])")
  printf '%-34s %10.0f tokens/s   p50 %-9s p99 %-9s  served %s, non-2xx %s, counted %s\n' \
    "$label" "$rps" "$(awk '/ 50%/ { print $2 }' "$dir/wrk.txt")" "$(awk '/ 99%/ { print $2 }' "$dir/wrk.txt")" \
    "$total" "$errors" "$counted"
  echo "$rps" >"/tmp/portal-bench-$label.rps"
  rm -rf "$dir"
}

# PostgreSQL, the engine for several instances: two servers on one database,
# wrk on each with half the connections, once; tokens/s is their sum, and
# every token served must have been counted (both instances' meters write to
# the same daily rows).
if [ "${1:-}" = --postgres-inner ]; then
  db="portal_bench_$$"
  psql -q "$PORTAL_TEST_PG_URL" -c "CREATE DATABASE $db"
  export DATABASE_URL="${PORTAL_TEST_PG_URL%/*}/$db" RUST_LOG=error
  PORTAL_MASTER_KEY=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
  export PORTAL_MASTER_KEY
  dir=$(mktemp -d /tmp/portal-bench.XXXXXX)
  bench_tenant "$dir"
  pids=(); ports=(); wrks=()
  for i in 1 2; do
    serve_portal "$dir/server-$i.log"
    pids+=("$PORTAL_PID"); ports+=("$PORTAL_PORT"); started+=("$PORTAL_PID")
  done
  for i in 0 1; do
    wrk -t1 -c$((CONNECTIONS / 2)) -d"${DURATION}s" --latency -s "$dir/token.lua" \
      "http://127.0.0.1:${ports[$i]}/api/v1/token" >"$dir/wrk-$i.txt" &
    wrks+=($!)
  done
  for pid in "${wrks[@]}"; do wait "$pid"; done
  # The meters flush on a timer: give them a moment before counting.
  sleep 2
  kill "${pids[@]}"; for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  counted=$(psql -qtA "$DATABASE_URL" -c 'SELECT COALESCE(SUM(tokens_issued),0) FROM usage_daily')
  python3 - "$dir" "$counted" "$CONNECTIONS" <<'PY'
import re, sys
d, counted = sys.argv[1], int(sys.argv[2])
rps = served = errors = 0
for i in (0, 1):
    text = open(f"{d}/wrk-{i}.txt").read()
    rps += float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    n = int(re.search(r"(\d+) requests in", text).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors += int(bad.group(1)) if bad else 0
    served += n - (int(bad.group(1)) if bad else 0)
print(f"PostgreSQL, two instances: {rps:.0f} tokens/s in total, served {served}, non-2xx {errors}, counted {counted}")
# wrk stops with requests in flight: the server may have issued and counted
# up to one per connection that wrk never read.
in_flight = int(sys.argv[3])
ok = served <= counted <= served + in_flight
print(f"every token served was counted ({counted - served} more issued in flight as wrk stopped)"
      if ok else f"MISMATCH: served {served}, counted {counted}")
sys.exit(0 if ok else 1)
PY
  rm -rf "$dir"
  exit
fi

# This machine's neighbours make single runs vary by tens of percent: the two
# configurations run back to back for ROUNDS rounds, and the cost is the median
# of the rounds' paired ratios (each pair shares the machine's conditions).
ROUNDS=${ROUNDS:-5}
echo "Token endpoint, $CONNECTIONS connections, ${DURATION}s per run, $ROUNDS rounds, $(nproc) cores, SQLite"
: >/tmp/portal-bench-on.all; : >/tmp/portal-bench-off.all
for _ in $(seq "$ROUNDS"); do
  run "metering+enforcement"; cat /tmp/portal-bench-metering+enforcement.rps >>/tmp/portal-bench-on.all
  run "without-metering" --benchmark-without-metering; cat /tmp/portal-bench-without-metering.rps >>/tmp/portal-bench-off.all
done
python3 - <<PY
import statistics
on = [float(x) for x in open('/tmp/portal-bench-on.all')]
off = [float(x) for x in open('/tmp/portal-bench-off.all')]
costs = [100 * (1 - a / b) for a, b in zip(on, off)]
print(f'median: {statistics.median(on):.0f} tokens/s with metering and enforcement, {statistics.median(off):.0f} without')
print('per-round cost: ' + ', '.join(f'{c:.1f} %' for c in costs))
print(f'metering costs {statistics.median(costs):.1f} % of throughput (median of paired rounds)')
PY
# On a durable cluster (fsync and synchronous commit on), as deployments run
# PostgreSQL; PG_DURABLE=0 measures the fsync=off cluster the tests use.
[ "${POSTGRES:-1}" = 0 ] || PG_DURABLE=${PG_DURABLE:-1} scripts/with-postgres.sh "$0" --postgres-inner

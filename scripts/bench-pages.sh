#!/usr/bin/env bash
# Every page under load: the release binary on SQLite with a tenant of 1,000
# agents and EVENTS token events over 30 days (default 10 million, written
# through the metering code), signed in as its owner. For each page: bytes as
# served (raw and gzip), then wrk at 16 and 64 connections (requests/s, p50,
# p99), Chromium's DOMContentLoaded and LCP, and the server's peak resident
# set. Nothing else should run (or compile) on the machine meanwhile: wrk
# shares the cores with the server.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=./target/release/portal
EVENTS=${EVENTS:-10000000}
DURATION=${DURATION:-10}

. scripts/lib/bench.sh
need_bin
need_wrk

dir=$(mktemp -d /tmp/portal-bench-pages.XXXXXX)
trap 'kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
export DATABASE_URL="sqlite://$dir/bench.db" RUST_LOG=error
start=$(date +%s)
"$BIN" demo bench-data --tenant Bench --agents 1000 --events "$EVENTS" --days 30 >/dev/null 2>&1
echo "bench-password-1234" | "$BIN" member add --tenant Bench --email bench@bench.example --role owner --password-stdin >/dev/null 2>&1
agent=$("$BIN" agent list --tenant Bench 2>/dev/null | awk 'NR == 2 { print $1 }')
echo "seeded 1,000 agents and $EVENTS events in $(( $(date +%s) - start )) s"

serve_portal "$dir/server.log"
pid=$PORTAL_PID
base="http://127.0.0.1:$PORTAL_PORT"
curl -s -o /dev/null -c "$dir/jar" -H "Origin: $base" \
  --data-urlencode email=bench@bench.example --data-urlencode password=bench-password-1234 \
  --data-urlencode next=/analytics "$base/login"
cookie=$(awk '$6 == "portal_session" { print "portal_session=" $7 }' "$dir/jar")
[ -n "$cookie" ] || { echo "sign-in failed" >&2; exit 1; }

pages=(/analytics "/analytics?days=7" "/analytics?days=90" /agents "/agents/$agent" /settings/tier
  /settings/team /settings/audit /settings/account)
printf '%s, %d cores, wrk -t2 for %d s, signed in; the last three signed out\n' "$(uname -m)" "$(nproc)" "$DURATION"
printf '%-22s %9s %8s | %9s %7s %7s | %9s %7s %7s\n' page bytes gzip "rps@16" p50 p99 "rps@64" p50 p99
row() {
  local page=$1 header=$2 raw gz
  raw=$(curl -s -H "$header" -o /dev/null -w '%{size_download}' "$base$page")
  gz=$(curl -s -H "$header" -H 'Accept-Encoding: gzip' -o /dev/null -w '%{size_download}' "$base$page")
  local out=()
  for c in 16 64; do
    # wrk --latency prints "50%  1.23ms" ... "99%  4.56ms" and "Requests/sec: N".
    local res
    res=$(wrk -t2 -c"$c" -d"${DURATION}s" --latency -H "$header" -H 'Accept-Encoding: gzip' "$base$page")
    if echo "$res" | grep -q "Non-2xx"; then echo "$page answered non-2xx under load" >&2; echo "$res" >&2; exit 1; fi
    out+=("$(echo "$res" | awk '/Requests\/sec/ { printf "%.0f", $2 }')")
    out+=("$(echo "$res" | awk '$1 == "50%" { print $2 }')")
    out+=("$(echo "$res" | awk '$1 == "99%" { print $2 }')")
  done
  printf '%-22s %9d %8d | %9s %7s %7s | %9s %7s %7s\n' "${page/$agent/ID}" "$raw" "$gz" "${out[@]}"
}
for page in "${pages[@]}"; do row "$page" "Cookie: $cookie"; done
for page in /login /signup /forgot-password; do row "$page" "X-Bench: signed-out"; done
echo
echo "Chromium on loopback (median of 15 loads, signed in):"
(cd end2end && node page-timing.mjs "$base" "$cookie" /analytics /agents /settings/tier)
echo "server peak resident set: $(awk '/VmHWM/ { printf "%.0f MB", $2 / 1024 }' "/proc/$pid/status")"
# What the resident set is made of now: SQLite maps the database file
# (mmap_size), so pages read count as resident although they are the
# kernel's file cache, shared and reclaimable.
db_mapped=$(awk -v db="$dir/bench.db" '/^[0-9a-f]+-[0-9a-f]+ / { name = $6 } /^Rss:/ && name == db { kb += $2 } END { printf "%.0f", kb / 1024 }' "/proc/$pid/smaps")
awk -v db="$db_mapped" '/RssAnon/ { anon = $2 } /RssFile/ { file = $2 } END {
  printf "  now: %.0f MB private (heap), %.0f MB file-backed, of which %d MB the database file mapped\n", anon / 1024, file / 1024, db }' "/proc/$pid/status"

# The same page in Next.js 14 + recharts (bench/nextjs: a server component
# per request, data made up in the process, no database), measured the same
# way in the same run. NEXTJS=0 skips it.
[ "${NEXTJS:-1}" = 0 ] && exit 0
kill "$pid"; wait "$pid" 2>/dev/null || true
echo
# Our style sheet, so both pages look alike.
cp style/main.css bench/nextjs/app/globals.css
(cd bench/nextjs && npm ci --no-audit --no-fund --silent && NEXT_TELEMETRY_DISABLED=1 npx next build >"$dir/next-build.log" 2>&1) ||
  { cat "$dir/next-build.log" >&2; exit 1; }
port=$(free_port)
base="http://127.0.0.1:$port"
(cd bench/nextjs && NEXT_TELEMETRY_DISABLED=1 exec setsid node_modules/.bin/next start -H 127.0.0.1 -p "$port" >"$dir/next.log" 2>&1) &
pid=$!
trap 'kill -- "-$pid" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -sf "$base/analytics" >/dev/null && break; sleep 0.2; done
echo "Next.js $(node -p 'require("./bench/nextjs/node_modules/next/package.json").version') + recharts, the same page (one Node process):"
printf '%-22s %9s %8s | %9s %7s %7s | %9s %7s %7s\n' page bytes gzip "rps@16" p50 p99 "rps@64" p50 p99
row /analytics "X-Bench: nextjs"
(cd end2end && CHART=.recharts-surface node page-timing.mjs "$base" - /analytics)
for p in $(pgrep -g "$pid"); do awk '/VmHWM/ { print $2 }' "/proc/$p/status"; done |
  awk '{ s += $1 } END { printf "Next.js peak resident set: %.0f MB\n", s / 1024 }'

#!/usr/bin/env bash
# How long the server takes to render /analytics for a tenant with 1,000
# agents and 10 million token events over 30 days (written through the
# metering code), and the same with 10 thousand events; then the JavaScript +
# wasm bytes (gzip, as served) a browser downloads for the page's charts.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=./target/release/portal
REQUESTS=${REQUESTS:-300}

. scripts/lib/bench.sh
need_bin

# measure EVENTS -> prints a line and writes the p50 to /tmp/portal-bench-analytics-EVENTS
measure() {
  local events=$1 dir port pid seeded
  dir=$(mktemp -d /tmp/portal-bench-analytics.XXXXXX)
  export DATABASE_URL="sqlite://$dir/bench.db" RUST_LOG=error
  local start=$(date +%s.%N)
  "$BIN" demo bench-data --tenant Bench --agents 1000 --events "$events" --days 30 >/dev/null 2>&1
  seeded=$(python3 -c "print(f'{$(date +%s.%N) - $start:.0f}')")
  echo "bench-password-1234" | "$BIN" member add --tenant Bench --email bench@bench.example --role owner --password-stdin >/dev/null 2>&1
  serve_portal "$dir/server.log"
  pid=$PORTAL_PID port=$PORTAL_PORT
  python3 - "$port" "$events" "$REQUESTS" "$seeded" <<'PY'
import http.cookiejar, statistics, sys, time, urllib.parse, urllib.request
port, events, n, seeded = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
base = f"http://127.0.0.1:{port}"
jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
form = urllib.parse.urlencode({"email": "bench@bench.example", "password": "bench-password-1234", "next": "/analytics"}).encode()
req = urllib.request.Request(base + "/login", data=form, headers={"Origin": base})
opener.open(req).read()
def get():
    t = time.perf_counter()
    body = opener.open(base + "/analytics").read()
    assert b'data-testid="trend-chart"' in body, "not the analytics page"
    return (time.perf_counter() - t) * 1000
for _ in range(20):
    get()
times = sorted(get() for _ in range(n))
p50 = statistics.median(times)
p90 = times[int(len(times) * 0.9)]
print(f"{events:>10,} events (seeded in {seeded}s): /analytics p50 {p50:6.2f} ms   p90 {p90:6.2f} ms   ({n} requests)")
open(f"/tmp/portal-bench-analytics-{events}", "w").write(str(p50))
PY
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}

echo "/analytics render time, 1,000 agents, 30 days of usage, SQLite, $(nproc) cores, loopback client"
measure 10000000
measure 10000
python3 -c "
big = float(open('/tmp/portal-bench-analytics-10000000').read()); small = float(open('/tmp/portal-bench-analytics-10000').read())
print(f'ratio 10M / 10k events: {big / small:.2f}')"

# What the browser downloads for the charts, compressed as the server sends it.
size_dir=$(mktemp -d /tmp/portal-bench-analytics.XXXXXX)
export DATABASE_URL="sqlite://$size_dir/size.db"
serve_portal "$size_dir/server.log"
pid=$PORTAL_PID port=$PORTAL_PORT
total=0
# The loader (in every page with a chart), then what it fetches when a chart is in view.
for f in scripts/islands.js pkg/portal.js pkg/portal.wasm; do
  bytes=$(curl -s -H 'Accept-Encoding: gzip' -o /dev/null -w '%{size_download}' "http://127.0.0.1:$port/$f")
  raw=$(stat -c %s "target/site/$f")
  printf '  %-18s %8d bytes gzip (%d raw)\n' "$f" "$bytes" "$raw"
  total=$((total + bytes))
done
kill "$pid"; wait "$pid" 2>/dev/null || true
rm -rf "$size_dir"
echo "JS + wasm for the chart islands: $total bytes gzip ($((total / 1024)) kB); all but the loader fetched only when a chart is in view"

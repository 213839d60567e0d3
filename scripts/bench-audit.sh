#!/usr/bin/env bash
# How fast the audit trail answers with 1 million entries for one tenant
# (SQLite, release build): the newest page, a page deep in the past, the
# filters (a rare action, one actor, one day a year ago) and a day's CSV.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=./target/release/portal
ENTRIES=${ENTRIES:-1000000}
REQUESTS=${REQUESTS:-100}
. scripts/lib/bench.sh
need_bin

dir=$(mktemp -d /tmp/portal-bench-audit.XXXXXX)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
pid=
export DATABASE_URL="sqlite://$dir/bench.db" RUST_LOG=error
"$BIN" tenant create --name Bench --tier enterprise >/dev/null 2>&1
echo "bench-password-1234" | "$BIN" member add --tenant Bench --email bench@bench.example --role owner --password-stdin >/dev/null 2>&1
start=$(date +%s)
"$BIN" demo bench-audit --tenant Bench --entries "$ENTRIES" --days 400 >/dev/null 2>&1
echo "seeded $ENTRIES audit entries in $(( $(date +%s) - start )) s"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LEPTOS_SITE_ADDR="127.0.0.1:$port" "$BIN" serve >"$dir/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
python3 - "$port" "$REQUESTS" "$ENTRIES" <<'PY'
import datetime, http.cookiejar, statistics, sys, time, urllib.parse, urllib.request
port, n, entries = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
base = f"http://127.0.0.1:{port}"
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
form = urllib.parse.urlencode({"email": "bench@bench.example", "password": "bench-password-1234"}).encode()
opener.open(urllib.request.Request(base + "/login", data=form, headers={"Origin": base})).read()
day = (datetime.date.today() - datetime.timedelta(days=365)).isoformat()
cases = [
    ("newest 50", "/settings/audit", b'data-testid="audit-row"'),
    ("50 from 200 days back", f"/settings/audit?before={int(time.time()) - 200 * 86400}-{10**12}", b'data-testid="audit-row"'),
    ("rare action (plan changes)", "/settings/audit?action=billing.plan_changed", b'data-testid="audit-row"'),
    ("one actor", "/settings/audit?actor=person3%40bench.example", b'data-testid="audit-row"'),
    ("one day a year ago", f"/settings/audit?from={day}&to={day}", b'data-testid="audit-row"'),
    ("CSV of that day", f"/settings/audit/export.csv?from={day}&to={day}", b"time,actor_kind"),
]
print(f"audit trail, {entries:,} entries in one tenant, SQLite, loopback client, {n} requests each")
for name, path, marker in cases:
    def get():
        t = time.perf_counter()
        body = opener.open(base + path).read()
        assert marker in body, f"{name}: unexpected answer"
        return (time.perf_counter() - t) * 1000
    for _ in range(5):
        get()
    times = sorted(get() for _ in range(n))
    print(f"  {name:<28} p50 {statistics.median(times):7.2f} ms   p90 {times[int(n * 0.9)]:7.2f} ms")
PY

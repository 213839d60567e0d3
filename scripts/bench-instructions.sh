#!/usr/bin/env bash
# Instructions per token request, counted by callgrind: repeatable whatever
# else the machine does, so two builds compare in one number where wall-clock
# rounds swing by 15 %. For each release binary given (default: this build's),
# a fresh SQLite database with an enterprise tenant (metering on), a warm-up,
# then N requests (default 2000) on one keep-alive connection, counted alone.
#   scripts/bench-instructions.sh [BIN...]     N=5000 scripts/bench-instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
. scripts/lib/bench.sh
need_wrk
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
[ $# -gt 0 ] || set -- ./target/release/portal

count() {
  local BIN=$1 dir pid port
  dir=$(mktemp -d /tmp/portal-instructions.XXXXXX)
  export DATABASE_URL="sqlite://$dir/bench.db" RUST_LOG=error
  "$BIN" tenant create --name Bench --tier enterprise >/dev/null 2>&1
  eval "$("$BIN" agent create --tenant Bench --name bench --capabilities bench:run --owner bench 2>/dev/null)"
  RUST_LOG=error,portal=info LEPTOS_SITE_ADDR=127.0.0.1:0 \
    valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" "$BIN" serve >"$dir/log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do
    port=$(sed -n 's|.*portal listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$dir/log" | head -n1)
    [ -n "$port" ] && curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.2
  done
  token_lua "$dir/token.lua"
  wrk -t1 -c4 -d3s -s "$dir/token.lua" "http://127.0.0.1:$port/api/v1/token" >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  python3 - "$port" "$N" "$client_id" "$client_secret" <<'PY'
import base64, http.client, sys
port, n, cid, secret = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
auth = "Basic " + base64.b64encode(f"{cid}:{secret}".encode()).decode()
conn = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    conn.request("POST", "/api/v1/token", "grant_type=client_credentials",
                 {"Content-Type": "application/x-www-form-urlencoded", "Authorization": auth})
    res = conn.getresponse(); res.read()
    assert res.status == 200, res.status
PY
  callgrind_control -d "$pid" >/dev/null 2>&1
  sleep 1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local ir
  ir=$(grep -E "^(summary|totals):" "$(ls -t "$dir"/cg.out.* | head -1)" | tail -1 | awk '{print $2}')
  printf '%-40s %12d instructions per token request (%d requests)\n' "$BIN" $((ir / N)) "$N"
  rm -rf "$dir"
}

for bin in "$@"; do count "$bin"; done

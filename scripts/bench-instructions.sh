#!/usr/bin/env bash
# Instructions per token request, or per page render with PAGE set, counted
# by callgrind: repeatable whatever else the machine does, so two builds
# compare in one number where wall-clock rounds swing by 15 %. For each
# release binary given (default: this build's), a fresh SQLite database with
# an enterprise tenant (metering on) and five agents, a warm-up, then N
# requests (default 2000; pages 300) on one keep-alive connection, counted
# alone; a page is rendered for the tenant's signed-in owner.
#   scripts/bench-instructions.sh [BIN...]     N=5000 scripts/bench-instructions.sh
#   PAGE=/agents scripts/bench-instructions.sh OLD_BIN NEW_BIN
set -euo pipefail
cd "$(dirname "$0")/.."
PAGE=${PAGE:-}
N=${N:-$([ -n "$PAGE" ] && echo 300 || echo 2000)}
. scripts/lib/bench.sh
need_wrk
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
[ $# -gt 0 ] || set -- ./target/release/portal

# requests PORT N COOKIE: N token requests, or N renders of $PAGE with the
# session COOKIE, on one keep-alive connection; each must succeed.
requests() {
  python3 - "$@" "$PAGE" "$client_id" "$client_secret" <<'PY'
import base64, http.client, sys
port, n, cookie, page, cid, secret = int(sys.argv[1]), int(sys.argv[2]), *sys.argv[3:]
conn = http.client.HTTPConnection("127.0.0.1", port)
auth = "Basic " + base64.b64encode(f"{cid}:{secret}".encode()).decode()
for _ in range(n):
    if page:
        conn.request("GET", page, headers={"Cookie": cookie})
    else:
        conn.request("POST", "/api/v1/token", "grant_type=client_credentials",
                     {"Content-Type": "application/x-www-form-urlencoded", "Authorization": auth})
    res = conn.getresponse(); res.read()
    assert res.status == 200, res.status
PY
}

count() {
  local BIN=$1 dir pid port
  dir=$(mktemp -d /tmp/portal-instructions.XXXXXX)
  export DATABASE_URL="sqlite://$dir/bench.db" RUST_LOG=error
  "$BIN" tenant create --name Bench --tier enterprise >/dev/null 2>&1
  for i in 2 3 4 5; do
    "$BIN" agent create --tenant Bench --name "agent-$i" --capabilities bench:run --owner bench >/dev/null 2>&1
  done
  eval "$("$BIN" agent create --tenant Bench --name bench --capabilities bench:run --owner bench 2>/dev/null)"
  echo "bench-password-1234" | "$BIN" member add --tenant Bench --email bench@bench.example \
    --role owner --password-stdin >/dev/null 2>&1
  RUST_LOG=error,portal=info LEPTOS_SITE_ADDR=127.0.0.1:0 \
    valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" "$BIN" serve >"$dir/log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do
    port=$(sed -n 's|.*portal listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$dir/log" | head -n1)
    [ -n "$port" ] && curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.2
  done
  local what=token cookie=
  if [ -n "$PAGE" ]; then
    what="render of $PAGE"
    curl -s -o /dev/null -c "$dir/jar" -H "Origin: http://127.0.0.1:$port" \
      --data-urlencode email=bench@bench.example --data-urlencode password=bench-password-1234 \
      "http://127.0.0.1:$port/login"
    cookie=$(awk '$6 == "portal_session" { print "portal_session=" $7 }' "$dir/jar")
    [ -n "$cookie" ] || { echo "sign-in failed" >&2; exit 1; }
    requests "$port" 50 "$cookie"
  else
    token_lua "$dir/token.lua"
    wrk -t1 -c4 -d3s -s "$dir/token.lua" "http://127.0.0.1:$port/api/v1/token" >/dev/null
  fi
  callgrind_control -z "$pid" >/dev/null 2>&1
  requests "$port" "$N" "$cookie"
  callgrind_control -d "$pid" >/dev/null 2>&1
  sleep 1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local ir
  ir=$(grep -E "^(summary|totals):" "$(ls -t "$dir"/cg.out.* | head -1)" | tail -1 | awk '{print $2}')
  printf '%-40s %12d instructions per %s (%d requests)\n' "$BIN" $((ir / N)) "$what" "$N"
  [ -n "${KEEP:-}" ] && cp "$(ls -t "$dir"/cg.out.* | head -1)" "$KEEP.$(basename "$BIN")"
  rm -rf "$dir"
}

for bin in "$@"; do count "$bin"; done

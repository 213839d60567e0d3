#!/usr/bin/env bash
# The load run: DURATION (60) seconds at CONNECTIONS (128) connections mixing
# page views, token issuance and API calls (scripts/load_mixed.py), against
# the release binary on SQLite (a free tenant, then an enterprise one, whose
# usage goes through the journal while the page views' commits keep closing
# its fast path), then on PostgreSQL with two instances. The free tenant
# runs into its daily limits, so 429s are expected; anything else is an
# error. Afterwards the usage counters must equal what the clients were
# answered: every 200 token and API call counted, every 429 counted as
# refused.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/target/release/portal
export RUST_LOG=error
PASSWORD="load-run password 42"

. scripts/lib/bench.sh
need_bin

pids=()
stop() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=(); }
trap stop EXIT

# run LABEL INSTANCES COUNTERS_COMMAND [TIER]
run() {
  local label=$1 instances=$2 counters=$3 tier=${4:-free} dir bases=()
  dir=$(mktemp -d /tmp/portal-load.XXXXXX)
  "$BIN" tenant create --name Load --tier "$tier" >/dev/null
  echo "$PASSWORD" | "$BIN" member add --tenant Load --email load@example.com --role owner --password-stdin >/dev/null 2>&1
  eval "$("$BIN" agent create --tenant Load --name load --capabilities analytics:read --owner load 2>/dev/null)"
  for i in $(seq "$instances"); do
    serve_portal "$dir/server-$i.log"
    pids+=("$PORTAL_PID")
    bases+=("http://127.0.0.1:$PORTAL_PORT")
  done
  echo "== $label"
  local status=0
  python3 scripts/load_mixed.py "$dir/counts.json" "$client_id" "$client_secret" load@example.com "$PASSWORD" "${bases[@]}" || status=1
  stop
  local counted; counted=$(eval "$counters")
  python3 - "$dir/counts.json" "$counted" <<'PY' || status=1
import json, sys
client = json.load(open(sys.argv[1]))
tokens, calls, refused = (int(x) for x in sys.argv[2].split())
print(f"  counted: {tokens} tokens, {calls} API calls, {refused} refused")
ok = (tokens, calls, refused) == (client["tokens_issued"], client["api_calls"], client["refused"])
print("  usage counted exactly" if ok else f"  MISMATCH: the clients got {client}")
sys.exit(0 if ok else 1)
PY
  rm -rf "$dir"
  return $status
}

if [ "${1:-}" = --postgres-inner ]; then
  db="portal_load_$$"
  psql -q "$PORTAL_TEST_PG_URL" -c "CREATE DATABASE $db"
  export DATABASE_URL="${PORTAL_TEST_PG_URL%/*}/$db"
  PORTAL_MASTER_KEY=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
  export PORTAL_MASTER_KEY
  run "PostgreSQL, two instances" 2 \
    "psql -qtA -F' ' \"\$DATABASE_URL\" -c 'SELECT COALESCE(SUM(tokens_issued),0), COALESCE(SUM(api_calls),0), COALESCE(SUM(refused),0) FROM usage_daily'"
  exit
fi

status=0
for tier in free enterprise; do
  dir=$(mktemp -d /tmp/portal-load-db.XXXXXX)
  export DATABASE_URL="sqlite://$dir/load.db"
  run "SQLite, one instance, $tier tenant" 1 \
    "python3 -c \"import sqlite3; print(*sqlite3.connect('$dir/load.db').execute('SELECT COALESCE(SUM(tokens_issued),0), COALESCE(SUM(api_calls),0), COALESCE(SUM(refused),0) FROM usage_daily').fetchone())\"" \
    "$tier" || status=1
  rm -rf "$dir"
done
unset DATABASE_URL
PG_DURABLE=1 scripts/with-postgres.sh "$0" --postgres-inner || status=1
exit $status

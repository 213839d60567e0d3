# Sourced by the bench and load scripts.

# need_bin: stops with what to do unless $BIN, the release binary measured,
# is built.
need_bin() {
  [ -x "$BIN" ] || { echo "build first: make build" >&2; exit 1; }
}

# need_wrk: installs wrk, the load generator, unless it is there.
need_wrk() {
  command -v wrk >/dev/null && return
  local sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get install -y -qq wrk >/dev/null
}

# serve_portal LOG [serve flags...]: starts "$BIN serve" on a port the kernel
# picks and waits until it answers; sets PORTAL_PID and PORTAL_PORT. The
# server binds port 0 itself and logs the address it got, so no other process
# can take the port between our choosing it and the server binding it.
serve_portal() {
  local log=$1; shift
  LEPTOS_SITE_ADDR=127.0.0.1:0 RUST_LOG="${RUST_LOG:-info,sqlx=warn},portal=info" \
    "$BIN" serve "$@" >"$log" 2>&1 &
  PORTAL_PID=$!
  PORTAL_PORT=
  for _ in $(seq 300); do
    PORTAL_PORT=$(sed -n 's|.*portal listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$log" | head -n1)
    if [ -n "$PORTAL_PORT" ] && curl -sf "http://127.0.0.1:$PORTAL_PORT/healthz" >/dev/null; then
      return 0
    fi
    kill -0 "$PORTAL_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "the portal did not start; its log ($log):" >&2
  cat "$log" >&2
  return 1
}

# free_port: a port free now, for a server that cannot report the one it
# bound (Next.js); it may be taken before that server binds it.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# token_lua FILE: wrk's script asking a token with $client_id and
# $client_secret (set by `eval "$(portal agent create ...)"`).
token_lua() {
  cat >"$1" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(printf '%s:%s' "$client_id" "$client_secret" | base64 -w0)"
LUA
}

#!/usr/bin/env bash
# `make run`: the release-built portal on SQLite with demo data, sending its
# mail to a local catcher (maildev) whose inbox is a web page. Both stop
# together (Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
smtp_port=${MAILDEV_SMTP_PORT:-1025}
web_port=${MAILDEV_WEB_PORT:-1080}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if listening "$smtp_port" || listening "$web_port"; then
  echo "ports $smtp_port/$web_port are taken (another mail catcher?): stop it, or set" \
    "MAILDEV_SMTP_PORT and MAILDEV_WEB_PORT" >&2
  exit 1
fi
.tools/node_modules/.bin/maildev --smtp "$smtp_port" --web "$web_port" \
  --ip 127.0.0.1 --web-ip 127.0.0.1 --silent &
catcher=$!
trap 'kill "$catcher" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  listening "$web_port" && break
  sleep 0.1
done
echo "==> mail catcher: every message the portal sends appears at http://127.0.0.1:$web_port"
export SMTP_URL=${SMTP_URL:-smtp://127.0.0.1:$smtp_port}
./target/release/portal serve --demo

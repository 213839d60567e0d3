#!/usr/bin/env bash
# Installs what the tests need beyond the build tools, each only when missing:
# Debian's Chromium, PostgreSQL 15, leptosfmt (the view! formatter `make
# lint` checks) and the npm packages of end2end/.
set -euo pipefail
cd "$(dirname "$0")/.."

LEPTOSFMT_VERSION=0.1.33
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '==> %s\n' "$*"; }
apt_updated=
apt_install() {
  local sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  if [ -z "$apt_updated" ]; then $sudo apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

if [ ! -x /usr/bin/chromium ]; then
  step "installing Debian chromium"
  apt_install chromium
fi
if [ ! -x /usr/lib/postgresql/15/bin/postgres ]; then
  step "installing PostgreSQL 15"
  apt_install postgresql-15
fi
if ! leptosfmt --version 2>/dev/null | grep -q "$LEPTOSFMT_VERSION"; then
  step "installing leptosfmt $LEPTOSFMT_VERSION (about 2 minutes)"
  cargo install leptosfmt --version "$LEPTOSFMT_VERSION" --locked
fi
if [ ! -d end2end/node_modules/@playwright/test ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  step "installing end2end npm packages"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund)
fi
step "test tools ready"

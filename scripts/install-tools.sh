#!/usr/bin/env bash
# Installs what building the portal needs, each step only when missing:
# the pinned toolchain + wasm target, cargo-leptos, wasm-bindgen-cli matching
# Cargo.lock, and wasm-opt (npm `binaryen`) and maildev into .tools/.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.11
BINARYEN_VERSION=132.0.0
MAILDEV_VERSION=3.0.0
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '==> %s\n' "$*"; }

# rust-toolchain.toml pins the channel. rustup does not install it on first
# use everywhere (RUSTUP_AUTO_INSTALL=0), so install it before anything runs
# rustc or cargo; `rustup toolchain install` reads the toml and is a no-op
# when the toolchain, its target and components are present.
if ! command -v rustup >/dev/null; then
  echo "rustup is required: https://rustup.rs" >&2
  exit 1
fi
channel=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
if ! rustup toolchain list | grep -q "^$channel-"; then
  step "installing Rust $channel (rust-toolchain.toml)"
fi
rustup toolchain install --no-self-update >/dev/null
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
step "Rust toolchain $(rustc --version)"

if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  step "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 10 minutes)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
fi

wbg_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -q "$wbg_version"; then
  step "installing wasm-bindgen-cli $wbg_version"
  # Not --locked: its lock file names a crate version the registry lacks.
  cargo install wasm-bindgen-cli --version "$wbg_version" --force
fi

if [ ! -x .tools/node_modules/.bin/wasm-opt ]; then
  step "installing wasm-opt (npm binaryen $BINARYEN_VERSION) into .tools/"
  mkdir -p .tools
  npm install --silent --no-audit --no-fund --prefix .tools "binaryen@$BINARYEN_VERSION"
fi
# `make run` and the browser tests read the portal's mail in a local catcher.
if ! .tools/node_modules/.bin/maildev --version 2>/dev/null | grep -qx "$MAILDEV_VERSION"; then
  step "installing maildev $MAILDEV_VERSION (local mail catcher) into .tools/"
  mkdir -p .tools
  npm install --silent --no-audit --no-fund --prefix .tools "maildev@$MAILDEV_VERSION"
fi
step "build tools ready"

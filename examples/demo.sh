#!/usr/bin/env bash
# The quick start: builds the warden binary and the example plugins from
# source, shows what the math plugin exports and calls some nodes.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip2 >/dev/null
echo "==> building the example plugins (wasm32-wasip2)"
cargo build --quiet --release --target wasm32-wasip2 \
    --manifest-path examples/plugins/Cargo.toml --target-dir target/wasm-plugins
echo "==> building warden"
cargo build --quiet -p warden-host --bin warden

warden=target/debug/warden
plugins=target/wasm-plugins/wasm32-wasip2/release
run() { echo "\$ warden $*"; "$warden" "$@"; }

run check "$plugins/math.wasm"
echo
run run "$plugins/math.wasm" add '{"a":1,"b":2}'
run run "$plugins/math.wasm" slow-sum '[5, 100]'
run run "$plugins/text.wasm" strings/upper '["hello, warden"]'
run run "$plugins/text.wasm" tokenize '["route 66!"]'
# A failing call prints its error kind on stderr and exits non-zero.
run run "$plugins/math.wasm" divide '[1, 0]' || echo "(exit code $?)"

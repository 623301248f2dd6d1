#!/usr/bin/env bash
# Runs examples/tasks on embedded SQLite (./.data/app.db): builds the guest components for wasm32-wasip2,
# inlines them into the example's artifact with `objectos artifact build`, then serves it on 127.0.0.1:3000.
# Extra arguments go to `objectos serve` (e.g. -p 8080). Needs OS_AUTH_SECRET (or pass --dev).
set -euo pipefail
cd "$(dirname "$0")/.."

rustup show active-toolchain >/dev/null
rustup target add wasm32-wasip2 >/dev/null
(cd plugins && cargo build --release --locked --target wasm32-wasip2 --target-dir ../target/guests)
cargo build --release --locked --bin objectos
mkdir -p target/examples
./target/release/objectos artifact build examples/tasks/definition.json \
  --components target/guests/wasm32-wasip2/release --out target/examples/tasks.json
exec ./target/release/objectos serve target/examples/tasks.json \
  --js-runtime target/guests/wasm32-wasip2/release/js_runtime.wasm "$@"

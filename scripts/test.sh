#!/usr/bin/env bash
# The whole test suite, doing every set-up step itself on a fresh machine:
# toolchain + targets (rust-toolchain.toml), PostgreSQL up, then format, lint and all tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# rustup installs the pinned toolchain, clippy, rustfmt and the wasm32-wasip2 target on first use.
rustup show active-toolchain
rustup target add wasm32-wasip2 >/dev/null

# The PostgreSQL driver is tested against the real server on 127.0.0.1:5432 (trust auth, database `test`).
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "PostgreSQL is down; starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  pg_isready -h 127.0.0.1 -p 5432
fi

# Node 22 and the published @objectstack/client, into a cache folder (not the repository), for the client test.
if NODE22=$(scripts/node-client.sh | tail -n1); then
  export OBJECTOS_NODE22="$NODE22"
else
  echo "Node 22 / @objectstack/client could not be installed: the Node client test will say it is skipped"
fi

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --workspace --locked

# The OpenAPI document against the server that publishes it: schemathesis over every differential app and the
# expense fixture (skipped with a message when PyPI cannot be reached).
scripts/schemathesis.sh

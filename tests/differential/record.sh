#!/usr/bin/env bash
# Re-records the real ObjectStack 17.4.0 server's answers for the differential suite.
#
#   tests/differential/record.sh [APP...]        (default: every folder with a scenario.json)
#
# For each app: compiles src/ with the real CLI into objectstack.json, serves it on a fresh in-memory SQLite
# database on 127.0.0.1, plays scenario.json against it with the suite's own runner, writes recorded.json, and
# stops the server. Installs Node 22 and the 17.4.0 toolchain first (../shared/peers/lib/objectstack-install.sh,
# into $OS_REAL, default ${TMPDIR:-/tmp}/objectstack-real).
#
#   OS_REAL           the toolchain folder
#   OBJECTOS_DIFF_BIN a built integration-test binary to run instead of `cargo test --test all` (no build)
#   DIFF_PORT         the real server's port (default 3917)
#   DIFF_NO_COMPILE=1 keep the committed objectstack.json (serve and record only)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PEERS=${OBJECTOS_PEERS:-$REPO/../shared/peers}
OS_REAL=${OS_REAL:-${TMPDIR:-/tmp}/objectstack-real}
PORT=${DIFF_PORT:-3917}
export OS_REAL

bash "$PEERS/lib/objectstack-install.sh" "$OS_REAL" > /dev/null
. "$OS_REAL/env.sh"
CLI="$OS_REAL/my-app/node_modules/@objectstack/cli/bin/run.js"

apps=("$@")
if [ ${#apps[@]} -eq 0 ]; then
  for d in "$HERE"/*/; do [ -f "$d/scenario.json" ] && apps+=("$(basename "$d")"); done
fi

SCRATCH=$(mktemp -d)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2> /dev/null; rm -rf "$SCRATCH"; }
trap cleanup EXIT

for app in "${apps[@]}"; do
  dir="$HERE/$app"
  [ -f "$dir/scenario.json" ] || { echo "no scenario: $dir/scenario.json" >&2; exit 1; }
  if [ "${DIFF_NO_COMPILE:-0}" != 1 ]; then
    echo "== $app: os compile"
    rm -rf "$SCRATCH/build" && mkdir -p "$SCRATCH/build"
    cp -r "$dir/src/." "$SCRATCH/build/"
    ln -s "$OS_REAL/my-app/node_modules" "$SCRATCH/build/node_modules"
    (cd "$SCRATCH/build" && node "$CLI" compile > "$SCRATCH/compile-$app.log" 2>&1) \
      || { cat "$SCRATCH/compile-$app.log" >&2; exit 1; }
    cp "$SCRATCH/build/dist/objectstack.json" "$dir/objectstack.json"
  fi
  echo "== $app: os serve on 127.0.0.1:$PORT"
  rm -rf "$SCRATCH/serve" && mkdir -p "$SCRATCH/serve/dist"
  cp "$dir/objectstack.json" "$SCRATCH/serve/dist/"
  (
    cd "$SCRATCH/serve"
    export OS_SECRET_KEY=$(head -c32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    export OS_AUTH_SECRET=difftest-$(head -c24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    export OS_DATABASE_URL=':memory:'
    export NODE_OPTIONS="--require $PEERS/lib/loopback-listen.cjs"
    exec node "$CLI" serve -p "$PORT" --no-console --no-ui
  ) > "$SCRATCH/serve-$app.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$PORT/api/v1" > /dev/null && break
    kill -0 "$SERVER_PID" 2> /dev/null || { cat "$SCRATCH/serve-$app.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "== $app: recording"
  export OBJECTOS_DIFF_RECORD="http://127.0.0.1:$PORT" OBJECTOS_DIFF_APP="$app"
  if [ -n "${OBJECTOS_DIFF_BIN:-}" ]; then
    "$OBJECTOS_DIFF_BIN" differential::record --ignored --nocapture --exact
  else
    (cd "$REPO" && cargo test --test all differential::record -- --ignored --nocapture --exact)
  fi
  kill "$SERVER_PID"; wait "$SERVER_PID" 2> /dev/null || true; SERVER_PID=
done

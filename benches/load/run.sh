#!/usr/bin/env bash
# HTTP load benchmark of objectos' data routes (builds nothing).
#
# usage: benches/load/run.sh [OBJECTOS_BIN] [SECONDS]
#   OBJECTOS_BIN  the objectos binary (default: target/release/objectos of this repo)
#   SECONDS       wrk duration of each workload (default 10)
#
# Starts OBJECTOS_BIN on a free 127.0.0.1 port with a fresh SQLite file in a
# temp dir, serving tests/fixtures/testapp.json; measures the time from the
# spawn to the first 200 on GET /api/v1/health; signs up the admin (the first
# user); seeds LOAD_SEED records of t_item through createMany; then runs the
# four workloads of benches/load/crud.lua (list 20, get by id, create, update),
# each `wrk -tT -cC -dSECONDSs --timeout 10s` under `timeout`, and prints one
# line per workload:
#
#   objectos <workload> <rps> <p50_ms> <p99_ms> <errors>
#
# errors = non-2xx responses + socket errors + wrk timeouts. Lines starting
# with '#' are context: start-up time, seeding, the CPU used by objectos, wrk
# and everything else during each workload (other=: another job on the machine
# spoils the figures), and objectos' peak RSS (VmHWM). The server is stopped by
# its PID when the script exits, however it exits.
#
# Environment: LOAD_THREADS (2), LOAD_CONNS (16), LOAD_SEED (1000),
# LOAD_WORKLOADS ("list get create update"), LOAD_PORT (default: a free port),
# LOAD_OUT (a dir that keeps wrk outputs, ids and server.log; default: none),
# LOAD_DATABASE_URL (default: a fresh SQLite file; a postgres://…?schema=NAME URL must name an empty schema),
# LOAD_START_TIMEOUT (60 s).
# Needs: wrk (apt-get install -y wrk), curl, jq, coreutils timeout.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BIN=${1:-$REPO/target/release/objectos}
SECS=${2:-10}
THREADS=${LOAD_THREADS:-2}
CONNS=${LOAD_CONNS:-16}
SEED=${LOAD_SEED:-1000}
WORKLOADS=${LOAD_WORKLOADS:-list get create update}
START_TIMEOUT=${LOAD_START_TIMEOUT:-60}
ARTIFACT=$REPO/tests/fixtures/testapp.json
OBJECT=t_item
LUA=$HERE/crud.lua

die() { echo "run.sh: $*" >&2; exit 1; }

[ -x "$BIN" ] || die "no executable objectos at $BIN (this script builds nothing)"
[[ "$SECS" =~ ^[0-9]+$ ]] && [ "$SECS" -ge 1 ] && [ "$SECS" -le 600 ] || die "SECONDS must be 1..600"
[[ "$SEED" =~ ^[0-9]+$ ]] && [ "$SEED" -ge 1 ] || die "LOAD_SEED must be a positive number"
for tool in wrk curl jq timeout; do
  command -v "$tool" > /dev/null || die "$tool is missing (apt-get install -y $tool)"
done
[ -f "$ARTIFACT" ] || die "missing $ARTIFACT"
for w in $WORKLOADS; do
  case $w in list | get | create | update) ;; *) die "unknown workload '$w' (list, get, create, update)" ;; esac
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/objectos-load.XXXXXX")
PID=''

stop_server() {
  if [ -n "$PID" ] && kill -0 "$PID" 2> /dev/null; then
    kill -TERM "$PID" 2> /dev/null || true
    for _ in $(seq 1 100); do kill -0 "$PID" 2> /dev/null || break; sleep 0.1; done
    if kill -0 "$PID" 2> /dev/null; then
      echo "run.sh: objectos (pid $PID) ignored SIGTERM for 10 s; SIGKILL" >&2
      kill -KILL "$PID" 2> /dev/null || true
    fi
    wait "$PID" 2> /dev/null || true
  fi
  PID=''
}
cleanup() {
  local rc=$?
  stop_server
  if [ -n "${LOAD_OUT:-}" ]; then
    mkdir -p "$LOAD_OUT"
    cp -f "$WORK"/*.txt "$WORK"/server.log "$LOAD_OUT"/ 2> /dev/null || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- a free loopback port ------------------------------------------------------------
port_in_use() { (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }
if [ -n "${LOAD_PORT:-}" ]; then
  PORT=$LOAD_PORT
  port_in_use "$PORT" && die "port $PORT is in use on 127.0.0.1"
else
  PORT=''
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 20000))
    if ! port_in_use "$p"; then PORT=$p; break; fi
  done
  [ -n "$PORT" ] || die "found no free port"
fi
BASE=http://127.0.0.1:$PORT

# ---- CPU accounting (clock ticks) ----------------------------------------------------------
HZ=$(getconf CLK_TCK)
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
# utime + stime of one process (field 14 and 15 of /proc/PID/stat; the command
# name may hold spaces, so count from the closing parenthesis)
proc_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2> /dev/null || echo 0; }
# utime + stime of this shell's waited-for children (wrk, curl, ...), from `times`
children_ticks() {
  times > "$WORK/times.out"
  awk -v hz="$HZ" 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%d\n", t * hz }' "$WORK/times.out"
}

# ---- start ------------------------------------------------------------------------------
echo "# objectos load: $("$BIN" --version 2>/dev/null || echo '?') artifact=tests/fixtures/testapp.json object=$OBJECT db=sqlite(temp file) base=$BASE"
echo "# wrk -t$THREADS -c$CONNS -d${SECS}s --timeout 10s; seed=$SEED; nproc=$(nproc); $(uptime | sed 's/^ *//')"
t0=$(date +%s%N)
OS_AUTH_SECRET="load-bench-secret-$RANDOM$RANDOM-0123456789" OS_LOG=warn \
  "$BIN" serve "$ARTIFACT" --database-url "${LOAD_DATABASE_URL:-sqlite://$WORK/app.db}" --host 127.0.0.1 -p "$PORT" \
  > "$WORK/server.log" 2>&1 < /dev/null &
PID=$!
deadline=$(( t0 + START_TIMEOUT * 1000000000 ))
while :; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/api/v1/health" || true)
  [ "$code" = 200 ] && break
  kill -0 "$PID" 2> /dev/null || { tail -n 20 "$WORK/server.log" >&2; die "objectos exited before answering"; }
  [ "$(date +%s%N)" -lt "$deadline" ] || { tail -n 20 "$WORK/server.log" >&2; die "no 200 on /api/v1/health after ${START_TIMEOUT}s"; }
  sleep 0.01
done
t1=$(date +%s%N)
echo "# startup_ms=$(( (t1 - t0) / 1000000 )) (spawn -> first 200 on GET /api/v1/health) pid=$PID port=$PORT"

# ---- admin (first sign-up) ----------------------------------------------------------------
curl -sS --fail-with-body -o "$WORK/signup.json" -X POST "$BASE/api/v1/auth/sign-up/email" \
  -H 'Content-Type: application/json' \
  -d '{"email":"admin@load.local","password":"LoadAdmin-123456","name":"Load Admin"}' \
  || { cat "$WORK/signup.json" >&2 2> /dev/null; die "sign-up failed"; }
TOKEN=$(jq -er '.token' "$WORK/signup.json") || die "no token in the sign-up answer"
AUTH="Authorization: Bearer $TOKEN"

# ---- seed through createMany, 100 a request ---------------------------------------------------
IDS=$WORK/ids.txt
: > "$IDS"
s0=$(date +%s%N)
n=0
while [ "$n" -lt "$SEED" ]; do
  k=$(( SEED - n < 100 ? SEED - n : 100 ))
  # names seed-000001.. are unique and far below maxLength 20
  jq -nc --argjson from "$((n + 1))" --argjson k "$k" \
    '[range($from; $from + $k) | {name: ("seed-" + ("00000" + tostring)[-6:]), qty: (. % 1001),
      status: (["open", "closed", "archived"][. % 3]), notes: "seeded record"}]' > "$WORK/batch.json"
  curl -sS --fail-with-body -o "$WORK/batch-answer.json" -X POST "$BASE/api/v1/data/$OBJECT/createMany" \
    -H "$AUTH" -H 'Content-Type: application/json' --data-binary "@$WORK/batch.json" \
    || { cat "$WORK/batch-answer.json" >&2 2> /dev/null; die "createMany failed at record $((n + 1))"; }
  got=$(jq -r '(.records // .) | .[].id' "$WORK/batch-answer.json" | tee -a "$IDS" | wc -l)
  [ "$got" = "$k" ] || die "createMany returned $got ids for $k records"
  n=$(( n + k ))
done
s1=$(date +%s%N)
echo "# seed: $SEED records of $OBJECT in $(( (s1 - s0) / 1000000 )) ms (POST /api/v1/data/$OBJECT/createMany, 100 a request)"
hwm_after_seed=$(awk '/^VmHWM:/ { print $2 }' "/proc/$PID/status")

# ---- workloads -----------------------------------------------------------------------------
echo "# server workload rps p50_ms p99_ms errors"
tag=$(printf '%x' $(( RANDOM % 4096 )))
for w in $WORKLOADS; do
  sleep 1
  res=$WORK/result-$w.txt
  rm -f "$res"
  # children_ticks must run in this shell (not in $(...)) to see wrk's CPU time
  children_ticks > "$WORK/c0"; m0=$(machine_ticks); p0=$(proc_ticks "$PID"); w0=$(date +%s%N)
  LOAD_MODE=$w LOAD_OBJECT=$OBJECT LOAD_TOKEN=$TOKEN LOAD_IDS=$IDS LOAD_TAG=$tag LOAD_RESULT=$res \
    timeout -k 5 $(( SECS + 60 )) wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --timeout 10s --latency \
      -s "$LUA" "$BASE" > "$WORK/wrk-$w.txt" 2>&1 \
    || { cat "$WORK/wrk-$w.txt" >&2; die "wrk $w failed"; }
  m1=$(machine_ticks); p1=$(proc_ticks "$PID"); w1=$(date +%s%N); children_ticks > "$WORK/c1"
  c0=$(cat "$WORK/c0"); c1=$(cat "$WORK/c1")
  kill -0 "$PID" 2> /dev/null || { tail -n 20 "$WORK/server.log" >&2; die "objectos died during $w"; }
  [ -s "$res" ] || { cat "$WORK/wrk-$w.txt" >&2; die "wrk $w wrote no result"; }
  declare -A r=()
  while IFS='=' read -r key val; do r[$key]=$val; done < "$res"
  echo "objectos $w ${r[rps]} ${r[p50_ms]} ${r[p99_ms]} ${r[errors]}"
  cpu=$(awk -v m=$((m1 - m0)) -v p=$((p1 - p0)) -v c=$((c1 - c0)) -v ns=$((w1 - w0)) -v hz="$HZ" \
    'BEGIN { d = ns / 1e9 * hz; o = m - p - c; if (o < 0) o = 0;
             printf "objectos=%.0f%%,wrk=%.0f%%,other=%.0f%%", 100 * p / d, 100 * c / d, 100 * o / d }')
  echo "#   $w: requests=${r[requests]} in ${r[duration_s]}s p90_ms=${r[p90_ms]} max_ms=${r[max_ms]} non2xx=${r[non2xx]} socket_errors=${r[socket_errors]} timeouts=${r[timeouts]} statuses=${r[statuses]} cpu_of_one_core=$cpu"
  unset r
done

echo "# peak_rss_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$PID/status") (VmHWM of objectos; ${hwm_after_seed} kB after start+sign-up+seed)"
stop_server
echo "# stopped objectos; $(uptime | sed 's/^ *//')"

#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600) each, two at a time, from small seed corpora made here.
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain RUSTC_BOOTSTRAP=1 lets it pass its
# instrumentation flags. Crashes land in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${1:-600}
export RUSTC_BOOTSTRAP=1
seed() { mkdir -p "corpus/$1"; printf '%s' "$3" > "corpus/$1/$2"; }
seed filter_query a '{"where": {"title": {"$in": ["a", "b"]}, "rank": {"$gt": 1}}, "orderBy": "-rank", "limit": 5}'
seed filter_query b '{"filter": ["and", ["due", ">=", "{3_days_ago}"], ["done", "=", true]], "expand": {"parent": {"fields": ["title"]}}}'
seed filter_query c '{"groupBy": ["title"], "aggregations": [{"function": "sum", "field": "rank", "alias": "s"}], "search": "x"}'
seed cel a 'record.amount * 0.1 > 1.0 && has(record.title) ? daysAgo(3) : addDays(today(), 2)'
seed cel b '[1, 2, 3].map(x, x * 2).filter(y, y > 2).size() == 2 && "a b".contains("a")'
seed cel c 'current_user.positions.exists(p, p == "everyone") || matches(record.title, "^a")'
mkdir -p corpus/artifact corpus/signature
cp ../tests/fixtures/expense/objectstack.json corpus/artifact/expense.json
cp ../tests/fixtures/testapp.json corpus/artifact/testapp.json
printf '\0asm\x01\0\0\0' > corpus/signature/empty.wasm
cargo fuzz build --sanitizer none -O
run() {
  cargo fuzz run --sanitizer none -O "$1" "corpus/$1" -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=4096 \
    -timeout=10 -print_final_stats=1 > "run-$1.log" 2>&1 || echo "$1: see fuzz/run-$1.log"
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb)|^Done|crash-|SUMMARY" "run-$1.log" | sed "s/^/$1: /" || true
}
run filter_query & run cel & wait
run artifact & run signature & wait

#!/usr/bin/env bash
# What watching a run costs: W1 (100,000 tiny tasks, here 1,000,000 so that
# a page can watch) and W7 (skewed CPU-busy tasks under work stealing), each
# run alternately without and with a live dashboard that a client polls
# twice a second (as the page does), ROUNDS times; then the same on a local
# cluster (W1 with 100,000 tasks), where the scheduler keeps the record.
# Prints one JSON line per run and, at the end, the median of each and
# their ratio (with / without).
#
#   bash benches/observe_overhead.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
cargo build --release -q -p flotilla-cli
bin="${CARGO_TARGET_DIR:-target}/release/flotilla"
port=18799
out=$(mktemp)

watch() {
  # Polls the dashboard's view while the workload runs.
  while true; do
    curl -s -o /dev/null "http://127.0.0.1:$port/api/view" || true
    sleep 0.5
  done
}

run() { # workload, mode, extra args...
  local w=$1 mode=$2; shift 2
  local args=("$w" --no-baseline "$@")
  local poller=""
  if [ "$mode" = on ]; then
    args+=(--dashboard "127.0.0.1:$port")
    watch & poller=$!
  fi
  "$bin" bench "${args[@]}" 2>/dev/null | sed "s/^{/{\"mode\": \"$mode\", /" | tee -a "$out"
  if [ -n "$poller" ]; then kill "$poller"; wait "$poller" 2>/dev/null || true; fi
}

for _ in $(seq "$rounds"); do
  run W1 off --n 1000000
  run W1 on --n 1000000
  run W7 off --policy work-stealing
  run W7 on --policy work-stealing
  run W1 off --runtime cluster
  run W1 on --runtime cluster
  run W7 off --runtime cluster --policy work-stealing
  run W7 on --runtime cluster --policy work-stealing
done

python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def med(pred, key):
    return statistics.median(r[key] for r in rows if pred(r))
for system in sorted({r["system"] for r in rows if r["workload"] == "W1"}):
    w1 = {m: med(lambda r: r["workload"] == "W1" and r["system"] == system and r["mode"] == m, "us_per_task") for m in ("off", "on")}
    print(json.dumps({"workload": "W1", "system": system, "us_per_task_off": w1["off"], "us_per_task_on": w1["on"], "ratio": w1["on"] / w1["off"]}))
for system in sorted({r["system"] for r in rows if r["workload"] == "W7"}):
    for shape in sorted({r["shape"] for r in rows if r["workload"] == "W7"}):
        w7 = {m: med(lambda r: r["workload"] == "W7" and r["system"] == system and r["mode"] == m and r["shape"] == shape, "makespan") for m in ("off", "on")}
        print(json.dumps({"workload": "W7", "system": system, "shape": shape, "makespan_off": w7["off"], "makespan_on": w7["on"], "ratio": w7["on"] / w7["off"]}))
PY
rm -f "$out"

#!/usr/bin/env bash
# One comparison run: flotilla and the peers interleaved, JSON lines on stdout.
# Needs: cargo build --release -p flotilla-cli; PEERS venv:
#   python3 -m venv peers-home/.venv && peers-home/.venv/bin/pip install "dask[distributed]==2026.8.0" numpy pandas
# Usage: bash benches/compare_peers.sh > bench-data/compare.jsonl
set -u
cd "$(dirname "$0")/.."
F=./target/release/flotilla
PY=peers-home/.venv/bin/python
P=../shared/peers
export PYTHONPATH=$P
for i in 1 2; do
  $F bench W1
  $PY $P/w1_tasks.py --system threadpool
done
$F bench W2; $F bench W2
$PY $P/w1_tasks.py --system dask-delayed --n 10000
$PY $P/w1_tasks.py --system dask-distributed
$F bench W7
for s in heavy ramp periodic; do
  for sys in static-split processpool dask-distributed; do
    $PY $P/w7_skew.py --system $sys --durations bench-data/skew-$s.txt | sed "s/^{/{\"shape\": \"$s\", /"
  done
done

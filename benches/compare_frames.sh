#!/usr/bin/env bash
# W5, W6 and W9: flotilla and the peers interleaved on the same files, JSON
# lines on stdout. Needs: cargo build --release -p flotilla-cli, and the
# peers venv of benches/compare_mapreduce.sh.
# Usage: bash benches/compare_frames.sh > bench-data/frames.jsonl
set -u
cd "$(dirname "$0")/.."
F=./target/release/flotilla
PY=peers-home/.venv/bin/python
P=../shared/peers
export PYTHONPATH=$P
W=bench-data/weather_10m.csv
R=bench-data/ratings_10m.tsv
I=bench-data/items.csv
[ -s $W ] || $F gen weather --output $W
[ -s $R ] || $F gen ratings --output $R
[ -s $I ] || $F gen items --output $I
for s in polars duckdb pandas dask-threads pyspark-df; do
  $F bench W5 --input $W
  timeout 600 $PY $P/w5_weather.py $W --system $s 2>/dev/null
done
for s in numpy dask-threads; do
  $F bench W6
  timeout 600 $PY $P/w6_array.py --system $s 2>/dev/null
done
for s in duckdb polars pandas dask-threads pyspark-df; do
  $F bench W9 --input $R --input $I
  timeout 600 $PY $P/w9_join.py $R $I --system $s 2>/dev/null
done

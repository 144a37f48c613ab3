#!/usr/bin/env bash
# W3 and W4: flotilla and the peers interleaved on the same files, JSON lines
# on stdout. Needs: cargo build --release -p flotilla-cli, and a peers venv:
#   python3 -m venv peers-home/.venv && peers-home/.venv/bin/pip install \
#     "dask[distributed]==2026.8.0" "pandas==3.1.1" "numpy==2.4.6" "polars==2.1.0" \
#     "duckdb==2.0.1" "mrjob==0.7.4" "pyspark==4.3.0" "pyarrow==26.0.1"
# Usage: bash benches/compare_mapreduce.sh > bench-data/mapreduce.jsonl
set -u
cd "$(dirname "$0")/.."
F=./target/release/flotilla
PY=peers-home/.venv/bin/python
P=../shared/peers
export PYTHONPATH=$P
R=bench-data/ratings_10m.tsv
T=bench-data/text_100mb.txt
[ -s $R ] || $F gen ratings --output $R
[ -s $T ] || $F gen text --output $T
for s in polars duckdb shell dask-dataframe dask-bag pyspark-rdd mrjob-local; do
  $F bench W3 --input $R
  timeout 600 $PY $P/w3_ratings.py $R --system $s 2>/dev/null
done
for s in polars shell dask-bag pyspark-rdd mrjob-local; do
  $F bench W4 --input $T
  timeout 900 $PY $P/w4_wordcount.py $T --system $s 2>/dev/null
done
